"""HEIC/HEIF/AVIF: the Exif and XMP items rewritten in place, the image items untouched.

A plain re-save with pillow-heif re-encodes the picture and keeps the Exif item (GPS and all)
unless told otherwise; this module does neither. It reads the `meta` box (`iinf` for the items'
types, `iloc` for where their bytes are), scrubs each Exif item's TIFF structure in place
(`tutela.media.exif`: same length, removed parts zeroed, orientation kept) and overwrites each
XMP item with an empty XMP packet padded to the same length. Nothing moves, so every offset
in the file stays valid. An item stored in a way this does not read (a data reference to
another file, construction method 2) is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tutela.media import bmff, exif
from tutela.media.errors import MediaError
from tutela.media.result import Finding

BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")
_EMPTY_XMP = b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
_XMP_END = b'<?xpacket end="w"?>'


@dataclass(frozen=True)
class Item:
    id: int
    kind: str  # "exif" or "xmp"
    extents: tuple[tuple[int, int], ...]  # (file offset, length)


def _int(buf: bytes | bytearray, at: int, size: int) -> int:
    if size == 0:
        return 0
    if at + size > len(buf):
        raise MediaError("HEIF `iloc` runs past its box")
    return int.from_bytes(buf[at:at + size], "big")


def _types(buf: bytes | bytearray, box: bmff.Box) -> dict[int, str]:
    """item id -> "exif" / "xmp" from `iinf` (other items are images and are not touched)."""
    version = buf[box.body]
    pos = box.body + 4 + (2 if version == 0 else 4)
    out: dict[int, str] = {}
    for infe in bmff.walk(buf, pos, box.end):
        if infe.type != b"infe":
            continue
        v = buf[infe.body]
        at = infe.body + 4
        if v < 2:
            continue  # version 0/1 entries carry no item type
        item_id = _int(buf, at, 2 if v == 2 else 4)
        at += (2 if v == 2 else 4) + 2
        kind = bytes(buf[at:at + 4])
        rest = bytes(buf[at + 4:infe.end]).split(b"\0")
        if kind == b"Exif":
            out[item_id] = "exif"
        elif kind == b"mime" and len(rest) > 1 and b"rdf+xml" in rest[1]:
            out[item_id] = "xmp"
    return out


def _locations(buf: bytes | bytearray, box: bmff.Box, idat: int | None) -> dict[int, list[tuple[int, int]]]:
    version = buf[box.body]
    at = box.body + 4
    sizes = _int(buf, at, 2)
    off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    at += 2
    count = _int(buf, at, 2 if version < 2 else 4)
    at += 2 if version < 2 else 4
    out: dict[int, list[tuple[int, int]]] = {}
    for _ in range(count):
        if at >= box.end:
            raise MediaError("HEIF `iloc` lists more items than it holds")
        item_id = _int(buf, at, 2 if version < 2 else 4)
        at += 2 if version < 2 else 4
        method = 0
        if version in (1, 2):
            method = _int(buf, at, 2) & 15
            at += 2
        ref = _int(buf, at, 2)
        base = _int(buf, at + 2, base_size)
        at += 2 + base_size
        n = _int(buf, at, 2)
        at += 2
        per = index_size + off_size + len_size
        if n and (per == 0 or at + n * per > box.end):
            raise MediaError("HEIF `iloc` lists extents it does not hold")
        extents = []
        for _e in range(n):
            at += index_size
            offset, length = _int(buf, at, off_size), _int(buf, at + off_size, len_size)
            at += off_size + len_size
            if method == 1:
                if idat is None:
                    raise MediaError("HEIF item stored in `idat` but the file has none")
                offset += idat
            elif method != 0 or ref != 0:
                offset = -1  # in another file or built from other items: not readable here
            extents.append((base + offset if offset >= 0 else -1, length))
        out[item_id] = extents
    return out


def items(buf: bytes | bytearray) -> list[Item]:
    """The Exif and XMP items of the file's top-level `meta` box."""
    top = list(_top(buf))
    if not any(b.type == b"ftyp" and bytes(buf[b.body:b.body + 4]) in BRANDS for b in top):
        raise MediaError("not a HEIF image (no HEIF brand in `ftyp`)")
    meta = next((b for b in top if b.type == b"meta"), None)
    if meta is None:
        raise MediaError("HEIF without a `meta` box")
    children = [b for b in bmff.walk(buf, meta.body, meta.end) if b.path.count("/") == 0]
    by = {b.type: b for b in children}
    if b"iinf" not in by or b"iloc" not in by:
        raise MediaError("HEIF `meta` without `iinf` or `iloc`")
    idat = by[b"idat"].body if b"idat" in by else None
    kinds = _types(buf, by[b"iinf"])
    where = _locations(buf, by[b"iloc"], idat)
    out = []
    total = 0
    for item_id, kind in sorted(kinds.items()):
        extents = tuple(where.get(item_id, ()))
        total += sum(n for _o, n in extents)
        if total > len(buf):
            raise MediaError("HEIF metadata items claim more bytes than the file holds")
        for offset, length in extents:
            if offset < 0 or length == 0 or offset + length > len(buf):
                raise MediaError(f"HEIF {kind} item {item_id} is not stored in this file where it can be read")
        out.append(Item(item_id, kind, extents))
    return out


def _top(buf: bytes | bytearray) -> list[bmff.Box]:
    return [b for b in bmff.walk(buf) if "/" not in b.path]


def _payload(buf: bytes | bytearray, item: Item) -> bytes:
    return b"".join(bytes(buf[o:o + n]) for o, n in item.extents)


def _tiff(payload: bytes) -> int:
    """Where the TIFF header starts in an Exif item (after its 4-byte offset field)."""
    if len(payload) < 4:
        raise MediaError("HEIF Exif item is shorter than its header")
    start = 4 + int.from_bytes(payload[:4], "big")
    if start > len(payload):
        raise MediaError("HEIF Exif item's TIFF offset is outside the item")
    return start


def clean(data: bytes, strict: bool) -> tuple[bytes, list[str]]:
    buf = bytearray(data)
    removed: list[str] = []
    for item in items(buf):
        payload = _payload(buf, item)
        if item.kind == "xmp":
            blank = _EMPTY_XMP + b" " * max(0, len(payload) - len(_EMPTY_XMP) - len(_XMP_END)) + _XMP_END
            new = blank if len(blank) == len(payload) else b" " * len(payload)
            if new != payload:
                removed.append(f"XMP item {item.id}")
        else:
            start = _tiff(payload)
            try:
                tiff, _end, notes = exif.scrub(payload[start:], "HEIF Exif", exif.policy(strict, False), pages=False)
            except (MediaError, struct.error) as exc:
                tiff, notes = bytes(len(payload) - start), [f"Exif (unreadable, zeroed whole: {exc})"]
            new = payload[:start] + tiff
            removed.extend(f"Exif item {item.id} {n}" for n in notes)
        pos = 0
        for offset, length in item.extents:
            buf[offset:offset + length] = new[pos:pos + length]
            pos += length
    return bytes(buf), removed


def findings(data: bytes) -> list[Finding]:
    try:
        found = items(data)
    except MediaError as exc:
        return [Finding("HEIF", "unreadable", exc.message)]
    out: list[Finding] = []
    for item in found:
        payload = _payload(data, item)
        if item.kind == "xmp":
            out.extend(Finding(f"XMP item {item.id}", w.decode()) for w in bmff.WORDS if w in payload)
        else:
            try:
                start = _tiff(payload)
            except MediaError as exc:
                out.append(Finding(f"Exif item {item.id}", "unreadable", exc.message))
                continue
            if any(payload[start:]):
                out.extend(exif.findings(payload[start:], f"Exif item {item.id}", pages=False))
    out.extend(bmff.findings(data) if any(b.type == b"moov" for b in _top(data)) else [])
    return out
