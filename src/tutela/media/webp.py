"""WebP: RIFF chunks read by their sizes; EXIF scrubbed, XMP and unknown chunks dropped, the
VP8X flags and the RIFF size fixed up. Image chunks (VP8, VP8L, ALPH, ANIM, ANMF) and ICCP are
copied unchanged."""

from __future__ import annotations

import struct

from tutela.media import exif
from tutela.media.errors import MediaError
from tutela.media.result import Finding

KEEP = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_EXIF_FLAG, _XMP_FLAG = 0x08, 0x04
MAX_CHUNKS = 1_000_000


def chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise MediaError("not a WebP (bad RIFF header)")
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    if riff_end > len(data):
        raise MediaError("truncated WebP: the RIFF size is larger than the file")
    out, pos = [], 12
    while pos + 8 <= riff_end:
        kind, size = struct.unpack_from("<4sI", data, pos)
        if pos + 8 + size > riff_end:
            raise MediaError(f"truncated WebP: chunk `{kind.decode('latin-1')}` at byte {pos} runs past the end")
        out.append((kind, pos + 8, pos + 8 + size))
        if len(out) > MAX_CHUNKS:
            raise MediaError(f"WebP with more than {MAX_CHUNKS} chunks")
        pos += 8 + size + (size & 1)
    if not any(k in (b"VP8 ", b"VP8L", b"ANMF") for k, _s, _e in out):
        raise MediaError("WebP without image data")
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def clean(data: bytes, strict: bool) -> tuple[bytes, list[str]]:
    removed: list[str] = []
    body: list[bytes] = []
    has_exif = False
    for kind, start, end in chunks(data):
        if kind in KEEP:
            body.append(data[start - 8:end + ((end - start) & 1)])
        elif kind == b"EXIF":
            block = data[start:end]
            block = block[6:] if block.startswith(b"Exif\0\0") else block
            try:
                new, last, notes = exif.scrub(block, "WebP EXIF", exif.policy(strict, False), pages=False)
            except (MediaError, struct.error) as exc:
                removed.append(f"EXIF (unreadable, dropped whole: {exc})")
                continue
            removed.extend(f"EXIF {n}" for n in notes)
            if last:
                body.append(_chunk(b"EXIF", new[:last]))
                has_exif = True
        else:
            removed.append(f"`{kind.decode('latin-1').strip()}` chunk")
    if body and body[0][:4] == b"VP8X":
        flags = body[0][8] & ~_XMP_FLAG & ~_EXIF_FLAG | (_EXIF_FLAG if has_exif else 0)
        body[0] = body[0][:8] + bytes([flags]) + body[0][9:]
    payload = b"WEBP" + b"".join(body)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload, removed


def findings(data: bytes) -> list[Finding]:
    try:
        found = chunks(data)
    except MediaError as exc:
        return [Finding("WebP", "unreadable", exc.message)]
    out: list[Finding] = []
    for kind, start, end in found:
        if kind == b"EXIF":
            block = data[start:end]
            out.extend(exif.findings(block[6:] if block.startswith(b"Exif\0\0") else block, "WebP EXIF", False))
        elif kind not in KEEP:
            out.append(Finding(kind.decode("latin-1").strip(), "metadata chunk"))
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    if riff_end < len(data):
        out.append(Finding("trailer", "data after the RIFF chunk"))
    return out
