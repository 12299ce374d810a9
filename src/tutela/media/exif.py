"""TIFF structure (EXIF blocks and whole TIFF files): a bounded reader and an in-place scrub.

Bounded by construction: nothing is allocated from a count or a length in the file; every
entry's value is checked against the block before it is read (an EXIF count of 0x7FFFFFFF is
just an entry that does not fit), IFDs are visited at most once and at most `MAX_IFDS` times.

The scrub builds the output as a zero-filled buffer of the input's size and copies into it
only what is kept: the header, each kept IFD (rewritten with its kept entries), the kept
entries' values and, for TIFF files, the image strips or tiles. Everything not copied (the
GPS IFD, maker notes, thumbnails, XMP, IPTC, any orphan bytes) is zero, whatever the input's
structure was. Offsets do not move, so the image data of a TIFF file stays where it was.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import NamedTuple

from tutela.media.errors import MediaError
from tutela.media.result import Finding

MAX_IFDS = 64
SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
EXIF_IFD, GPS_IFD, INTEROP_IFD, SUB_IFDS = 0x8769, 0x8825, 0xA005, 0x014A
ORIENTATION = 0x0112
NAMES = {GPS_IFD: "GPS", EXIF_IFD: "EXIF IFD (camera, date and exposure tags)",
         0x927C: "maker note", 0x02BC: "XMP", 0x83BB: "IPTC", 0x8649: "Photoshop",
         0x9286: "user comment", 0x010E: "image description", 0x013B: "artist", SUB_IFDS: "sub-images",
         INTEROP_IFD: "interoperability IFD", 0xA431: "serial number", 0xC4A5: "print image matching",
         0x010F: "make", 0x0110: "model", 0x0131: "software", 0x0132: "date", 0x9003: "date taken"}
# (offsets tag, byte counts tag) of image data a TIFF file's IFD points at
DATA = ((0x0111, 0x0117), (0x0144, 0x0145), (0x0201, 0x0202))
IMAGE = frozenset({0x00FE, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x010A, 0x0111, 0x0115, 0x0116, 0x0117,
                   0x011C, 0x0122, 0x0123, 0x0124, 0x0125, 0x0128, 0x012D, 0x013D, 0x013E, 0x013F, 0x0140,
                   0x0142, 0x0143, 0x0144, 0x0145, 0x0152, 0x0153, 0x0154, 0x0155, 0x015B, 0x0211, 0x0212,
                   0x0213, 0x0214, 0x011A, 0x011B, 0x8773, ORIENTATION})
CAMERA = frozenset({0x010F, 0x0110, 0x0131, 0x0132, EXIF_IFD})
EXIF_KEEP = frozenset({0x829A, 0x829D, 0x8822, 0x8827, 0x8830, 0x9000, 0x9003, 0x9004, 0x9010, 0x9011, 0x9012,
                       0x9101, 0x9102, 0x9201, 0x9202, 0x9203, 0x9204, 0x9205, 0x9206, 0x9207, 0x9208, 0x9209,
                       0x920A, 0x9290, 0x9291, 0x9292, 0xA000, 0xA001, 0xA002, 0xA003, 0xA210, 0xA401, 0xA402,
                       0xA403, 0xA404, 0xA405, 0xA406, 0xA432, 0xA433, 0xA434})


class Entry(NamedTuple):
    tag: int
    type: int
    n: int  # the value count
    pos: int  # where the 12-byte entry is
    at: int  # where its value is (inline: inside the entry)
    size: int  # bytes of the value; -1 for an unknown type

    @property
    def fits(self) -> bool:
        return self.size >= 0


class Tiff:
    """A TIFF structure over `data`. `where` names it in errors (e.g. `APP1 EXIF`)."""

    def __init__(self, data: bytes | bytearray, where: str) -> None:
        self.data, self.where = data, where
        if len(data) < 8 or data[:2] not in (b"II", b"MM"):
            raise MediaError(f"{where}: not a TIFF structure (bad byte order mark)")
        self.e = "<" if data[:2] == b"II" else ">"
        magic = self.u16(2)
        if magic == 43:
            raise MediaError(f"{where}: BigTIFF is not supported")
        if magic != 42:
            raise MediaError(f"{where}: not a TIFF structure (magic {magic})")
        self.first = self.u32(4)

    def u16(self, at: int) -> int:
        return int(struct.unpack_from(self.e + "H", self.data, at)[0])

    def u32(self, at: int) -> int:
        return int(struct.unpack_from(self.e + "I", self.data, at)[0])

    def ifd(self, at: int) -> tuple[list[Entry], int]:
        """The entries of the IFD at `at` and the offset of the next IFD (0: none)."""
        if at < 8 or at + 2 > len(self.data):
            raise MediaError(f"{self.where}: IFD offset {at} is outside the block")
        n = self.u16(at)
        if at + 2 + 12 * n + 4 > len(self.data):
            raise MediaError(f"{self.where}: IFD at {at} with {n} entries runs past the end")
        out = []
        limit, pos = len(self.data), at + 2
        for tag, typ, count, value_at in struct.iter_unpack(self.e + "HHII", self.data[pos:pos + 12 * n]):
            size = SIZES[typ] * count if typ in SIZES else -1
            if 0 <= size <= 4:
                value_at = pos + 8
            elif value_at + size > limit:
                size = -1  # a count or offset that does not fit the block: never read
            out.append(Entry(tag, typ, count, pos, value_at, size))
            pos += 12
        return out, self.u32(pos)

    def ints(self, entry: Entry) -> list[int]:
        """The values of a SHORT/LONG entry (bounded: the entry fits the block)."""
        if not entry.fits or entry.type not in (3, 4, 13):
            raise MediaError(f"{self.where}: tag 0x{entry.tag:04X} is not a readable offset list")
        fmt = "H" if entry.type == 3 else "I"
        return list(struct.unpack_from(f"{self.e}{entry.n}{fmt}", self.data, entry.at))

    def value(self, entry: Entry) -> bytes:
        if not entry.fits:
            raise MediaError(f"{self.where}: tag 0x{entry.tag:04X} does not fit the block")
        return bytes(self.data[entry.at:entry.at + entry.size])

    def chain(self) -> Iterator[tuple[int, list[Entry], int]]:
        """(offset, entries, next) of IFD0, IFD1, ... (a loop or more than MAX_IFDS is an error)."""
        seen: set[int] = set()
        at = self.first
        while at:
            if at in seen or len(seen) >= MAX_IFDS:
                raise MediaError(f"{self.where}: the IFD chain loops or is too long")
            seen.add(at)
            entries, nxt = self.ifd(at)
            yield at, entries, nxt
            at = nxt

    def pointer(self, entry: Entry) -> int:
        values = self.ints(entry)
        if not values:
            raise MediaError(f"{self.where}: tag 0x{entry.tag:04X} points nowhere")
        return values[0]


# keep(ifd name, tag) -> keep the entry?  ifd name: "ifd0", "ifd1"... or "exif"
Keep = Callable[[str, int], bool]


def scrub(data: bytes | bytearray, where: str, keep: Keep, pages: bool) -> tuple[bytes, int, list[str]]:
    """(scrubbed block, end of the last byte in use, names of what was removed); the end is 0
    when IFD0 keeps no entry (nothing is left worth a block).

    `pages`: follow the IFD chain (a TIFF file's pages) rather than keeping IFD0 only (EXIF:
    IFD1 is the thumbnail). Image data of kept IFDs is copied; an entry that does not fit the
    block is dropped (a strip that does not fit is an error: the image would break)."""
    t = Tiff(data, where)
    out = bytearray(len(data))
    out[:8] = data[:8]
    removed: list[str] = []
    end = [8]
    budget = [2 * len(data) + 4096]  # bytes that may be copied: overlapping values or strips cannot multiply it

    def put(at: int, chunk: bytes) -> None:
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise MediaError(f"{where}: its values and image data overlap (more bytes than the block holds)")
        out[at:at + len(chunk)] = chunk
        end[0] = max(end[0], at + len(chunk))

    def write_ifd(at: int, name: str, entries: list[Entry], nxt: int) -> int:
        kept = []
        for e in entries:
            if not keep(name, e.tag):
                removed.append(f"{name} {NAMES.get(e.tag, f'tag 0x{e.tag:04X}')}")
                continue
            if not e.fits:
                removed.append(f"{name} tag 0x{e.tag:04X} (does not fit the block)")
                continue
            if e.tag == EXIF_IFD:
                try:
                    sub = t.pointer(e)
                    sub_entries, _ = t.ifd(sub)
                except (MediaError, struct.error) as exc:
                    removed.append(f"{name} EXIF IFD (unreadable: {exc})")
                    continue
                write_ifd(sub, "exif", sub_entries, 0)
            elif e.size > 4:
                put(e.at, t.value(e))
            kept.append(bytes(data[e.pos:e.pos + 12]))
        by_tag = {e.tag: e for e in entries if keep(name, e.tag) and e.fits} if pages else {}
        for offs_tag, counts_tag in DATA:
            if offs_tag in by_tag and counts_tag in by_tag:
                offs, counts = t.ints(by_tag[offs_tag]), t.ints(by_tag[counts_tag])
                if len(offs) != len(counts):
                    raise MediaError(f"{where}: {len(offs)} strip offsets but {len(counts)} byte counts")
                for o, n in zip(offs, counts, strict=True):
                    if o + n > len(data):
                        raise MediaError(f"{where}: image data at {o} (+{n}) is outside the file")
                    put(o, bytes(data[o:o + n]))
        head = struct.pack(t.e + "H", len(kept)) + b"".join(kept) + struct.pack(t.e + "I", nxt)
        put(at, head)  # the rest of the old IFD stays zero
        return len(kept)

    if pages:
        for n, (at, entries, nxt) in enumerate(t.chain()):
            write_ifd(at, f"ifd{n}", entries, nxt)
    else:  # an EXIF block: IFD0 only; a next IFD is the thumbnail
        entries, nxt = t.ifd(t.first)
        if nxt:
            removed.append("thumbnail (IFD1)")
        if not write_ifd(t.first, "ifd0", entries, 0):
            end[0] = 0
    return bytes(out), end[0], sorted(set(removed))


def policy(strict: bool, image_file: bool) -> Keep:
    """The keep rule for a block (see `_policy`), built once per combination."""
    return _POLICIES[strict, image_file]


def _policy(strict: bool, image_file: bool) -> Keep:
    """What an EXIF block (or a TIFF file) keeps: strict only what shows the picture right
    (orientation; a TIFF file's image structure and colour profile); otherwise also the camera,
    date and exposure tags. Location, maker notes, thumbnails, XMP, IPTC, names are never kept."""
    base = IMAGE if image_file else frozenset({ORIENTATION})

    def keep(ifd: str, tag: int) -> bool:
        if ifd == "exif":
            return not strict and tag in EXIF_KEEP
        return tag in base or (not strict and tag in CAMERA)

    return keep


_POLICIES = {(s, i): _policy(s, i) for s in (False, True) for i in (False, True)}


def _rationals(t: Tiff, e: Entry) -> list[float]:
    if e.type != 5 or not e.fits:
        raise MediaError(f"{t.where}: GPS coordinate is not a rational")
    nums = struct.unpack_from(f"{t.e}{2 * e.n}I", t.data, e.at)
    return [n / d for n, d in zip(nums[::2], nums[1::2], strict=True) if d]


def _position(t: Tiff, gps: list[Entry]) -> str | None:
    """ISO 6709 text of a GPS IFD's latitude/longitude, None when not readable."""
    by = {e.tag: e for e in gps}
    try:
        lat, lon = _rationals(t, by[2]), _rationals(t, by[4])
        lat_ref, lon_ref = t.value(by[1])[:1], t.value(by[3])[:1]
    except (KeyError, MediaError, struct.error):
        return None
    if len(lat) != 3 or len(lon) != 3:
        return None
    y = sum(v / 60**i for i, v in enumerate(lat)) * (-1 if lat_ref == b"S" else 1)
    x = sum(v / 60**i for i, v in enumerate(lon)) * (-1 if lon_ref == b"W" else 1)
    return f"{y:+08.4f}{x:+09.4f}/"


def findings(data: bytes | bytearray, container: str, pages: bool) -> list[Finding]:
    """Every location-bearing thing a TIFF structure holds: a GPS IFD (with its position when
    readable), maker notes, XMP/IPTC/Photoshop blocks, a thumbnail IFD (EXIF only), sub-images.
    An unreadable structure is itself a finding (nothing can be said about it)."""
    try:
        t = Tiff(data, container)
        out: list[Finding] = []
        ifds = [entries for _at, entries, _nxt in t.chain()] if pages else [t.ifd(t.first)[0]]
        if not pages and t.ifd(t.first)[1]:
            out.append(Finding(container, "thumbnail (IFD1)"))
        for entries in ifds:
            for e in entries:
                if e.tag == GPS_IFD:
                    gps = t.ifd(t.pointer(e))[0] if e.fits else []
                    out.append(Finding(container, "GPS", _position(t, gps)))
                elif e.tag in (0x02BC, 0x83BB, 0x8649, SUB_IFDS):
                    out.append(Finding(container, NAMES[e.tag]))
                elif e.tag == EXIF_IFD and e.fits:
                    for x in t.ifd(t.pointer(e))[0]:
                        if x.tag in (0x927C, INTEROP_IFD, GPS_IFD):
                            out.append(Finding(container, NAMES[x.tag]))
        return out
    except (MediaError, struct.error) as exc:
        return [Finding(container, "unreadable", str(exc))]
