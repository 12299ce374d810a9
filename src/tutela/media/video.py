"""MP4/MOV/M4V: remuxed with PyAV (packets copied, never re-encoded), in a bounded child process.

The output keeps the container family (a QuickTime `.mov` stays QuickTime, an MP4 stays MP4),
every video, audio and subtitle stream with its codec tag (`hvc1` stays `hvc1`), and the
stream and container metadata except location (`location`, `©xyz`, ISO 6709 keys; strict: no
container metadata at all). Location-carrying tracks (GoPro `gpmd`, `camm`, timed metadata
`mebx`) are dropped and named. User data the muxer does not rewrite (`udta` XMP, `loci`) is
simply not carried over. A stream PyAV cannot copy is a refusal, never a silent drop.

The remux runs in `python -m tutela.media.worker` with an address-space and CPU limit and a
wall-clock timeout (`tutela.media.limits`), writing to a temporary file beside the original:
the video is streamed packet by packet, never held in memory.
"""

from __future__ import annotations

import re
from pathlib import Path

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
                tag = s.codec_context.codec_tag if s.codec_context is not None else ""
                if tag in DROP_TAGS or (s.type == "data" and not s.codec_context):
                    removed.append(f"stream {s.index}: {DROP_TAGS.get(tag, 'data track')}")
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
