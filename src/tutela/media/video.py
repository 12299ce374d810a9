"""MP4/MOV/M4V: location boxes freed in place, or a PyAV remux (packets copied, never
re-encoded) in a bounded child process.

In place (the default when it is enough): each location box (`©xyz`, `loci`, `XMP_`, an XMP
`uuid`; a `meta` box holding a location item) becomes a zero-filled `free` box of the same
size, in a copy of the file. Nothing moves: every stream, codec tag, chunk offset and the
container's brand stay exactly as they were; no C demuxer reads the file. The remux is used
in strict mode (all container metadata goes) and when a track carries location (GoPro
`gpmd`, `camm`, `mebx`) or the box structure cannot be read.

The remux keeps the container family (a QuickTime `.mov` stays QuickTime, an MP4 stays MP4),
every video, audio and subtitle stream with its codec tag (`hvc1` stays `hvc1`), and the
stream and container metadata except location (`location`, `©xyz`, ISO 6709 keys; strict: no
container metadata at all). Location-carrying tracks (GoPro `gpmd`, `camm`, timed metadata
`mebx`) are dropped and named. User data the muxer does not rewrite (`udta` XMP, `loci`) is
simply not carried over. A stream PyAV cannot copy is a refusal, never a silent drop.

The remux runs in `python -m tutela.media.worker` with an address-space limit and a
wall-clock timeout (`tutela.media.limits`), writing to a temporary file beside the original:
the video is streamed packet by packet, never held in memory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tutela.media import bmff
from tutela.media.errors import MediaError

DROP_TAGS = {"gpmd": "GoPro telemetry track", "camm": "camera motion track (GPS)",
             "mebx": "timed metadata track"}
_LOCATION_KEY = re.compile(r"location|xyz|gps|iso6709|latitude|longitude", re.IGNORECASE)
_SET_BY_MUXER = ("major_brand", "minor_version", "compatible_brands", "encoder")


def container_format(path: Path) -> str:
    """`mov` for a QuickTime file (major brand `qt  `), else `mp4`; read from `ftyp` itself."""
    with path.open("rb") as fh:
        head = fh.read(12)
    if len(head) < 12 or head[4:8] != b"ftyp":
        if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
            return "mov"  # an old QuickTime file without `ftyp`
        raise MediaError("not an MP4/MOV file (no `ftyp` box)")
    return "mov" if head[8:12] == b"qt  " else "mp4"


def remux(src: Path, dst: Path, strict: bool) -> list[str]:
    """Copy `src` to `dst` without location; what was removed. Runs inside the worker."""
    import av

    removed: list[str] = []
    fmt = container_format(src)
    try:
        with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
            for key, value in inp.metadata.items():
                if key in _SET_BY_MUXER:
                    continue
                if strict or _LOCATION_KEY.search(key):
                    removed.append(f"container metadata `{key}`")
                else:
                    out.metadata[key] = value
            streams = {}
            for s in inp.streams:
                tag = s.codec_tag or ""  # from the stream's own parameters (data streams have no codec)
                if tag in DROP_TAGS:
                    removed.append(f"stream {s.index}: {DROP_TAGS[tag]}")
                    continue
                if s.type not in ("video", "audio", "subtitle"):
                    raise MediaError(f"stream {s.index} is a `{s.type}` stream (`{tag}`) that PyAV cannot copy; "
                                     "refused rather than dropped")
                o = out.add_stream_from_template(s)
                if tag and o.codec_context.codec_tag != tag:
                    o.codec_context.codec_tag = tag
                for key in list(o.metadata):
                    if _LOCATION_KEY.search(key) or (strict and key not in ("language", "handler_name")):
                        removed.append(f"stream {s.index} metadata `{key}`")
                        del o.metadata[key]
                streams[s.index] = o
            for packet in inp.demux():
                if packet.dts is None or packet.stream.index not in streams:
                    continue
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    except av.error.FFmpegError as exc:
        raise MediaError(f"not a video PyAV can remux: {exc}") from None
    except ValueError as exc:
        raise MediaError(f"PyAV cannot copy this video: {exc}") from None
    return removed


def location_keys(path: Path) -> list[str]:
    """Metadata keys of the file (container and streams) that PyAV reads as location."""
    import av

    try:
        with av.open(str(path)) as c:
            keys = [k for k in c.metadata if _LOCATION_KEY.search(k)]
            keys += [f"stream {s.index} {k}" for s in c.streams for k in s.metadata if _LOCATION_KEY.search(k)]
    except av.error.FFmpegError as exc:
        raise MediaError(f"PyAV cannot read the output again: {exc}") from None
    return keys


def free_plan(buf: bmff.Buffer) -> list[tuple[int, int, str]] | None:
    """The boxes to turn into `free` boxes in place, as (start, end, path); None when that is
    not enough (a location-carrying track, an unreadable structure: the remux is needed).

    `©xyz`, `loci`, `XMP_` and XMP `uuid` boxes are freed themselves; a `meta` box holding a
    location (an iTunes `©xyz` item or a `keys` entry naming a location) is freed whole, since
    its items cannot be removed one by one without moving every box after them."""
    found = bmff.findings(buf)
    if any(f.what in bmff.TELEMETRY.values() or f.what == "unreadable" for f in found):
        return None
    boxes = list(bmff.walk(buf))
    plan: dict[int, tuple[int, int, str]] = {}
    for box in boxes:
        xmp = box.type == b"XMP_" or (box.type == b"uuid" and buf[box.start + 8:box.start + 24] == bmff.XMP_UUID)
        if box.type not in (b"\xa9xyz", b"loci", b"keys") and not xmp:
            continue
        if box.type == b"keys" and b"location" not in bytes(buf[box.body:box.end]).lower():
            continue
        metas = [m for m in boxes if m.type == b"meta" and m.start < box.start and box.end <= m.end]
        inside_meta = box.type == b"keys" or "/ilst/" in box.path
        if inside_meta and not metas:
            return None
        chosen = metas[-1] if inside_meta else box
        plan[chosen.start] = (chosen.start, chosen.end, chosen.path)
    nested = [s for s, e, _p in plan.values() if any(o < s and e <= oe for o, oe, _q in plan.values())]
    return sorted(v for k, v in plan.items() if k not in nested)


def free_in_place(path: Path, plan: list[tuple[int, int, str]]) -> list[str]:
    """Turn each planned box of the file at `path` into a zero-filled `free` box (its size
    stays, so no offset in the file moves); what was removed."""
    with path.open("r+b") as fh:
        for start, end, _name in plan:
            fh.seek(start + 4)
            fh.write(b"free")
            fh.seek(start + 8)
            left = end - start - 8
            while left > 0:
                n = min(left, 1 << 20)
                fh.write(bytes(n))
                left -= n
        fh.flush()
        os.fsync(fh.fileno())
    return [f"{name} (now a zero-filled `free` box)" for _s, _e, name in plan]
