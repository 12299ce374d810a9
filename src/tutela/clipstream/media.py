"""Real, tiny media files for the estate: JPEGs with EXIF GPS (Pillow + piexif) and MP4s with
an ISO 6709 `location` tag (PyAV). Deterministic: same inputs, same bytes."""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

MAX_AVATAR_FILES = 300
Progress = Callable[[str, int, int], None]


def iso6709(lat: float, lon: float) -> str:
    return f"{lat:+08.4f}{lon:+09.4f}/"


def _rational(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value)
    deg = int(value)
    minutes_f = (value - deg) * 60
    minutes = int(minutes_f)
    seconds = Fraction((minutes_f - minutes) * 60).limit_denominator(10_000)
    return (deg, 1), (minutes, 1), (seconds.numerator, seconds.denominator)


def write_jpeg(path: Path, color: tuple[int, int, int], lat: float | None = None,
               lon: float | None = None) -> None:
    import piexif
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (32, 32), color)
    exif: dict[str, dict[int, object]] = {"0th": {piexif.ImageIFD.Software: b"ClipStream (synthetic)"},
                                          "Exif": {}, "GPS": {}, "1st": {}}
    if lat is not None and lon is not None:
        exif["GPS"] = {
            piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
            piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
            piexif.GPSIFD.GPSLatitude: _rational(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
            piexif.GPSIFD.GPSLongitude: _rational(lon),
        }
    img.save(path, "JPEG", quality=70, exif=piexif.dump(exif))


def write_mp4(path: Path, color: tuple[int, int, int], lat: float | None = None,
              lon: float | None = None, frames: int = 3) -> None:
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        if lat is not None and lon is not None:
            out.metadata["location"] = iso6709(lat, lon)
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for k in range(frames):
            pixel = np.array([(c + 40 * k) % 256 for c in color], dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(np.broadcast_to(pixel, (32, 32, 3)).copy(), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def read_jpeg_gps(path: Path) -> tuple[float, float] | None:
    """(lat, lon) from a JPEG's EXIF GPS, None when absent."""
    import piexif
    from PIL import Image

    with Image.open(path) as img:
        raw = img.info.get("exif")
    if not raw:
        return None
    gps = piexif.load(raw).get("GPS") or {}
    if piexif.GPSIFD.GPSLatitude not in gps:
        return None

    def dec(v: tuple[tuple[int, int], ...], ref: bytes, neg: bytes) -> float:
        x = float(sum(n / d / 60**i for i, (n, d) in enumerate(v)))
        return -x if ref == neg else x

    return (dec(gps[piexif.GPSIFD.GPSLatitude], gps[piexif.GPSIFD.GPSLatitudeRef], b"S"),
            dec(gps[piexif.GPSIFD.GPSLongitude], gps[piexif.GPSIFD.GPSLongitudeRef], b"W"))


def read_mp4_location(path: Path) -> str | None:
    import av

    with av.open(str(path)) as c:
        return c.metadata.get("location")


def write_files(rows: list[tuple[Any, ...]], profiles: list[tuple[Any, ...]], folder: Path, limit: int,
                 seed: int, progress: Progress | None) -> int:
    """Files for the first `limit` media rows and avatars (at most MAX_AVATAR_FILES); the count."""
    r = random.Random(seed ^ 0x5EED)
    todo = rows[:limit]
    avatars = [p for p in profiles if p[2] is not None][:min(limit, MAX_AVATAR_FILES)]
    total, done = len(todo) + len(avatars), 0
    for media_id, _aid, kind, path, _cap, lat, lon, _at in todo:
        color = (r.randrange(256), r.randrange(256), r.randrange(256))
        if kind == "video":
            write_mp4(folder / path, color, lat, lon)
        else:
            write_jpeg(folder / path, color, lat, lon)
        done += 1
        if progress and (done % 50 == 0 or done == total):
            progress("media files", done, total)
        del media_id
    for p in avatars:
        write_jpeg(folder / p[2], (r.randrange(256), r.randrange(256), r.randrange(256)))
        done += 1
        if progress and (done % 50 == 0 or done == total):
            progress("media files", done, total)
    if progress and total == 0:
        progress("media files", 0, 0)
    return total
