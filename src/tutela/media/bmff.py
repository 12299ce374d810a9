"""ISO base media files (MP4, MOV, M4V, HEIF): a bounded box walker and the location boxes.

Sizes are checked against their parent; at most `MAX_BOXES` boxes and `MAX_DEPTH` levels are
walked, so a hostile file costs at most that much, whatever it claims. Works over any buffer
(bytes, bytearray or an mmap of a large video, which is then never read whole)."""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from tutela.media.errors import MediaError, TooLarge
from tutela.media.result import Finding

MAX_BOXES, MAX_DEPTH = 200_000, 12
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"meta", b"ilst", b"edts",
                        b"dinf", b"iprp", b"ipco", b"moof", b"traf", b"mvex", b"stsd", b"sinf"})
XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
LOCATION_BOXES = {b"\xa9xyz": "©xyz", b"loci": "loci", b"XMP_": "XMP"}
TELEMETRY = {b"gpmd": "GoPro telemetry track", b"camm": "camera motion track (GPS)",
             b"mebx": "timed metadata track"}
WORDS = (b"GPS", b"City", b"State", b"Country", b"Location", b"location", b"latitude", b"ISO6709")


Buffer = bytes | bytearray | mmap.mmap


@dataclass(frozen=True)
class Box:
    type: bytes
    start: int
    body: int  # first byte after the header (and a full box's version/flags where that applies)
    end: int
    path: str


def _header(buf: Buffer, pos: int, end: int) -> tuple[bytes, int, int]:
    if pos + 8 > end:
        raise MediaError(f"truncated box header at byte {pos}")
    size, kind = struct.unpack(">I4s", buf[pos:pos + 8])
    hdr = 8
    if size == 1:
        if pos + 16 > end:
            raise MediaError(f"truncated box header at byte {pos}")
        size, hdr = struct.unpack(">Q", buf[pos + 8:pos + 16])[0], 16
    elif size == 0:
        size = end - pos
    if kind == b"uuid":
        hdr += 16
    if size < hdr or pos + size > end:
        raise MediaError(f"box `{kind.decode('latin-1')}` at byte {pos} runs past its parent")
    return kind, hdr, pos + size


def walk(buf: Buffer, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """Every box, depth first, with its path (`moov/udta/©xyz`)."""
    count = [0]

    def inner(pos: int, stop: int, path: str, depth: int) -> Iterator[Box]:
        while pos < stop:
            if stop - pos < 8 and not any(buf[pos:stop]):
                return  # zero padding at the end of a container
            kind, hdr, box_end = _header(buf, pos, stop)
            count[0] += 1
            if count[0] > MAX_BOXES:
                raise TooLarge(f"more than {MAX_BOXES} boxes")
            name = path + "/" + kind.decode("latin-1").replace("\xa9", "©") if path else kind.decode("latin-1")
            body = pos + hdr
            if kind == b"meta" and buf[body + 4:body + 8] != b"hdlr":
                body += 4  # an ISO full box (QuickTime's `meta` has no version/flags)
            elif kind == b"stsd":
                body += 8  # version/flags and the entry count
            yield Box(kind, pos, body, box_end, name)
            if kind in CONTAINERS and depth < MAX_DEPTH:
                yield from inner(body, box_end, name, depth + 1)
            pos = box_end

    yield from inner(start, len(buf) if end is None else end, "", 0)


def _loci(buf: Buffer, box: Box) -> str | None:
    """ISO 6709 text of a 3GPP `loci` box (16.16 fixed-point longitude, latitude)."""
    raw = buf[box.body + 6:min(box.end, box.body + 512)]
    name_end = raw.find(b"\0")
    if name_end < 0 or name_end + 9 > len(raw):
        return None
    lon, lat = struct.unpack(">ii", raw[name_end + 2:name_end + 10])
    return f"{lat / 65536:+08.4f}{lon / 65536:+09.4f}/"


def _text(buf: Buffer, box: Box) -> str:
    raw = buf[box.body:min(box.end, box.body + 200)]
    if raw[4:8] == b"data":  # an iTunes-style item: a `data` box with type and locale
        raw = raw[16:]
    elif box.type == b"\xa9xyz":
        raw = raw[4:]  # QuickTime user data: 2-byte length, 2-byte language
    return raw.split(b"\0")[0].decode("utf-8", "replace").strip()


def findings(buf: Buffer) -> list[Finding]:
    """Location-bearing boxes: ©xyz, loci, XMP (XMP_ or the XMP uuid) with location words,
    `keys` naming a location, GPS telemetry tracks. An unreadable structure is a finding."""
    out: list[Finding] = []
    moov = False
    try:
        for box in walk(buf):
            moov = moov or box.path == "moov"
            if box.type == b"loci":
                out.append(Finding(box.path, "loci", _loci(buf, box)))
            elif box.type == b"\xa9xyz":
                out.append(Finding(box.path, "©xyz", _text(buf, box) or None))
            elif box.type == b"XMP_" or (box.type == b"uuid" and buf[box.start + 8:box.start + 24] == XMP_UUID):
                body = buf[box.body:box.end]
                out.extend(Finding(box.path, "XMP " + w.decode()) for w in WORDS if w in body)
            elif box.type == b"keys":
                body = buf[box.body:box.end]
                if b"location" in body.lower():
                    out.append(Finding(box.path, "location key"))
            elif box.type in TELEMETRY and box.path.endswith("stsd/" + box.type.decode()):
                out.append(Finding(box.path, TELEMETRY[box.type]))
    except MediaError as exc:
        out.append(Finding("boxes", "unreadable", exc.message))
    if not moov and not out:
        out.append(Finding("boxes", "unreadable", "no `moov` box"))
    return out
