"""PNG: chunks read by their length and CRC; only what draws the picture is kept.

Kept: the critical chunks (IHDR, PLTE, IDAT, IEND, copied unchanged), colour and transparency
(tRNS, gAMA, cHRM, sRGB, iCCP, sBIT, cICP, mDCv, cLLi, pHYs, bKGD), APNG frames, and `eXIf`
scrubbed like a JPEG's EXIF (orientation kept). Dropped: tEXt, iTXt, zTXt (never expanded),
tIME, every unknown chunk, data after IEND. A bad CRC or a chunk that runs past the end is an
error: the file is refused, not guessed at.
"""

from __future__ import annotations

import struct
import zlib

from tutela.media import exif
from tutela.media.errors import MediaError
from tutela.media.result import Finding

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 1_000_000
KEEP = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
                  b"cICP", b"mDCv", b"cLLi", b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT"})
TEXT = (b"tEXt", b"iTXt", b"zTXt")
WORDS = (b"GPS", b"City", b"State", b"Country", b"Location", b"location", b"latitude", b"Latitude")


def chunks(data: bytes) -> tuple[list[tuple[bytes, int, int]], int]:
    """(type, data start, data end) of each chunk up to IEND, and where IEND ends."""
    if not data.startswith(SIGNATURE):
        raise MediaError("not a PNG (bad signature)")
    out, pos = [], 8
    while True:
        if pos + 12 > len(data):
            raise MediaError("truncated PNG: no IEND chunk")
        size, kind = struct.unpack_from(">I4s", data, pos)
        start, end = pos + 8, pos + 8 + size
        if end + 4 > len(data):
            raise MediaError(f"truncated PNG: chunk `{kind.decode('latin-1')}` at byte {pos} runs past the end")
        if zlib.crc32(data[pos + 4:end]) != struct.unpack_from(">I", data, end)[0]:
            raise MediaError(f"PNG chunk `{kind.decode('latin-1')}` at byte {pos} has a bad CRC")
        out.append((kind, start, end))
        if len(out) > MAX_CHUNKS:
            raise MediaError(f"PNG with more than {MAX_CHUNKS} chunks")
        pos = end + 4
        if kind == b"IEND":
            return out, pos


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def clean(data: bytes, strict: bool) -> tuple[bytes, list[str]]:
    found, iend = chunks(data)
    out, removed = [SIGNATURE], []
    for kind, start, end in found:
        if kind in KEEP:
            out.append(data[start - 8:end + 4])
        elif kind == b"eXIf":
            try:
                new, last, notes = exif.scrub(data[start:end], "PNG eXIf", exif.policy(strict, False), pages=False)
            except (MediaError, struct.error) as exc:
                removed.append(f"eXIf (unreadable, dropped whole: {exc})")
                continue
            removed.extend(f"eXIf {n}" for n in notes)
            if last:
                out.append(_chunk(b"eXIf", new[:last]))
        else:
            removed.append(f"`{kind.decode('latin-1')}` chunk")
    if iend < len(data):
        removed.append("data after IEND")
    return b"".join(out), removed


def findings(data: bytes) -> list[Finding]:
    try:
        found, iend = chunks(data)
    except MediaError as exc:
        return [Finding("PNG", "unreadable", exc.message)]
    out: list[Finding] = []
    for kind, start, end in found:
        body = data[start:end]
        name = kind.decode("latin-1")
        if kind == b"eXIf":
            out.extend(exif.findings(body, "PNG eXIf", pages=False))
        elif kind == b"zTXt" or (kind == b"iTXt" and body.find(b"\0") + 1 < len(body) and
                                 body[body.find(b"\0") + 1] == 1):
            out.append(Finding(name, "compressed text (not expanded)"))
        elif kind in TEXT:
            out.extend(Finding(name, w.decode()) for w in WORDS if w in body)
        elif kind not in KEEP:
            out.append(Finding(name, "unknown chunk"))
    if iend < len(data):
        out.append(Finding("trailer", "data after IEND"))
    return out
