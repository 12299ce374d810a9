"""JPEG: a segment parser of its own and a rewrite that never touches the image data.

Every segment is read by its length; after each SOS the entropy-coded data runs to the next
marker that is not byte stuffing (FF 00) or a restart (FF D0-D7); it is copied byte for byte.
Kept: JFIF (its thumbnail dropped), ICC profiles, Adobe APP14 and every frame, table and scan
segment; the first EXIF block scrubbed (`tutela.media.exif`: orientation always, camera and
exposure tags unless strict). Dropped: further EXIF blocks, XMP (standard and extended), APP13
(Photoshop/IPTC), COM, MPF and every other APPn, JFXX thumbnails, and data after EOI (MPF
secondary images). Bounded by construction: segment lengths are checked against the file,
every step moves forward.
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

from tutela.media import exif
from tutela.media.errors import MediaError
from tutela.media.result import Finding

ENTROPY = -1
MAX_SEGMENTS = 10_000  # real files have tens (progressive: a few hundred); a bound on hostile ones
_FIND_STEPS = 4096  # FF bytes looked at one by one before the regex takes over (worst case stays linear)
_NEXT = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")  # the marker that ends entropy-coded data
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_LOCATION_WORDS = (b"GPS", b"City", b"State", b"Country", b"Location", b"Sublocation", b"latitude")
IPTC_LOCATION = {26: "content location code", 27: "content location name", 90: "City", 92: "Sub-location",
                 95: "Province-State", 100: "Country code", 101: "Country"}


class Segment(NamedTuple):
    marker: int  # ENTROPY for entropy-coded data
    start: int
    end: int

    def payload(self, data: bytes) -> bytes:
        return data[self.start + 4:self.end]


def segments(data: bytes) -> tuple[list[Segment], int]:
    """The segments between SOI and EOI, and where EOI ends."""
    if not data.startswith(b"\xff\xd8"):
        raise MediaError("not a JPEG (no start-of-image marker)")
    out: list[Segment] = []
    pos, size = 2, len(data)
    while True:
        if pos >= size:
            raise MediaError("truncated JPEG: no end-of-image marker")
        if data[pos] != 0xFF:
            raise MediaError(f"JPEG: expected a marker at byte {pos}")
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            raise MediaError("truncated JPEG: no end-of-image marker")
        marker, start = data[pos], pos - 1
        pos += 1
        if marker == 0xD9:
            return out, pos
        if len(out) >= MAX_SEGMENTS:
            raise MediaError(f"JPEG with more than {MAX_SEGMENTS} segments")
        if marker in _STANDALONE:
            out.append(Segment(marker, start, pos))
            continue
        if pos + 2 > size:
            raise MediaError(f"truncated JPEG: segment 0x{marker:02X} at byte {start} has no length")
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2 or pos + length > size:
            raise MediaError(f"truncated JPEG: segment 0x{marker:02X} at byte {start} runs past the end")
        pos += length
        out.append(Segment(marker, start, pos))
        if marker == 0xDA:
            end = _scan_end(data, pos)
            out.append(Segment(ENTROPY, pos, end))
            pos = end


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data from `pos` ends: the first FF not followed by 00 (byte
    stuffing), D0-D7 (restart markers) or another FF (fill). `bytes.find` runs at memchr
    speed; only the rare FF bytes are looked at in Python."""
    size = len(data)
    for _ in range(_FIND_STEPS):
        at = data.find(b"\xff", pos)
        if at < 0 or at + 1 >= size:
            raise MediaError("truncated JPEG: the image data has no end-of-image marker")
        nxt = data[at + 1]
        if nxt == 0 or 0xD0 <= nxt <= 0xD7:
            pos = at + 2
            continue
        return at  # a marker (or the fill bytes before one)
    found = _NEXT.search(data, pos)  # unusually many FF bytes: one linear regex scan instead
    if found is None:
        raise MediaError("truncated JPEG: the image data has no end-of-image marker")
    return found.start()


def _name(marker: int, payload: bytes) -> str:
    if marker == 0xE1:
        return "XMP" if payload.startswith((b"http://ns.adobe.com/xap", b"http://ns.adobe.com/xmp")) else "APP1"
    if marker == 0xED:
        return "APP13 Photoshop/IPTC"
    if marker == 0xFE:
        return "comment (COM)"
    if marker == 0xE2 and payload.startswith(b"MPF\0"):
        return "APP2 MPF"
    if marker == 0xE0 and payload.startswith(b"JFXX\0"):
        return "JFXX thumbnail"
    return f"APP{marker - 0xE0}"


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _clean_exif(block: bytes, strict: bool, removed: list[str]) -> bytes | None:
    """The EXIF block scrubbed, None when nothing is left of it (or it cannot be read)."""
    try:
        new, end, notes = exif.scrub(block, "APP1 EXIF", exif.policy(strict, image_file=False), pages=False)
    except (MediaError, struct.error) as exc:
        removed.append(f"EXIF block (unreadable, dropped whole: {exc})")
        return None
    removed.extend(f"EXIF {n}" for n in notes)
    if not end:
        if notes:
            removed.append("EXIF block (nothing left in it)")
        return None
    return new[:end]


def clean(data: bytes, strict: bool) -> tuple[bytes, list[str]]:
    """The cleaned JPEG and what was removed. The entropy-coded data is copied unchanged.

    Runs of segments kept as they are (tables, frames, scans and their data) are copied as
    one slice of a memoryview: no per-segment copy, one join at the end."""
    segs, eoi = segments(data)
    view = memoryview(data)
    out: list[bytes | memoryview] = []
    removed: list[str] = []
    exif_seen, run = False, 0  # `run`: where the current stretch of unchanged bytes starts
    for s in segs:
        m = s.marker
        if m == ENTROPY or m in _STANDALONE or not (0xE0 <= m <= 0xEF or m == 0xFE):
            continue  # stays in the current run
        p = data[s.start + 4:s.end]
        if (m == 0xE2 and p.startswith(b"ICC_PROFILE\0")) or (m == 0xEE and p.startswith(b"Adobe")):
            continue
        out.append(view[run:s.start])
        run = s.end
        if m == 0xE1 and p.startswith(b"Exif\0\0"):
            if exif_seen:
                removed.append("another EXIF block")
                continue
            exif_seen = True
            block = _clean_exif(p[6:], strict, removed)
            if block is not None:
                out.append(_segment(0xE1, b"Exif\0\0" + block))
        elif m == 0xE0 and p.startswith(b"JFIF\0") and len(p) >= 14:
            if len(p) > 14 or p[12:14] != b"\0\0":
                removed.append("JFIF thumbnail")
            out.append(_segment(0xE0, p[:12] + b"\0\0"))
        else:
            removed.append(_name(m, p))
    out.append(view[run:eoi])
    if eoi < len(data):
        removed.append("data after the end of the image")
    return b"".join(out), removed


def findings(data: bytes) -> list[Finding]:
    """Every location-bearing container of a JPEG: EXIF GPS (each block), thumbnails, maker
    notes, XMP and extended XMP with location words, IPTC location datasets, comments, MPF
    images and trailing data. A file that cannot be parsed is one finding."""
    try:
        segs, eoi = segments(data)
    except MediaError as exc:
        return [Finding("JPEG", "unreadable", exc.message)]
    out: list[Finding] = []
    n_exif = 0
    for s in segs:
        m = s.marker
        if m == ENTROPY or not (0xE0 <= m <= 0xEF or m == 0xFE):
            continue
        p = s.payload(data)
        if m == 0xE1 and p.startswith(b"Exif\0\0"):
            n_exif += 1
            out.extend(exif.findings(p[6:], f"APP1 EXIF #{n_exif}", pages=False))
        elif m == 0xE1:
            words = [w.decode() for w in _LOCATION_WORDS if w in p]
            out.extend(Finding(_name(m, p), w) for w in words)
        elif m == 0xED:
            out.extend(Finding("APP13 IPTC", what) for what in iptc_location(p))
            if b"8BIM\x04\x0c" in p or b"8BIM\x04\x09" in p:
                out.append(Finding("APP13 Photoshop", "thumbnail"))
        elif m == 0xFE:
            out.append(Finding("COM", "comment", p[:40].decode("latin-1")))
        elif m == 0xE2 and p.startswith(b"MPF\0"):
            out.append(Finding("APP2 MPF", "secondary images"))
        elif m == 0xE0 and (p.startswith(b"JFXX\0") or (p.startswith(b"JFIF\0") and p[12:14] not in (b"", b"\0\0"))):
            out.append(Finding("APP0", "thumbnail"))
    if eoi < len(data):
        out.append(Finding("trailer", "data after the end of the image"))
    return out


def iptc_location(block: bytes) -> list[str]:
    """Names of the IPTC location datasets (record 2) in a block, read tag by tag (bounded)."""
    names, pos = [], block.find(b"\x1c\x02")
    while 0 <= pos and pos + 5 <= len(block):
        if block[pos] != 0x1C:
            pos = block.find(b"\x1c\x02", pos + 1)
            continue
        record, dataset, size = block[pos + 1], block[pos + 2], (block[pos + 3] << 8) | block[pos + 4]
        if size & 0x8000:
            break  # an extended length: no location dataset uses one
        if record == 2 and dataset in IPTC_LOCATION:
            names.append(IPTC_LOCATION[dataset])
        pos += 5 + size
    return names
