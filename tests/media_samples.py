"""Real media files with location in every place cameras and apps put it (synthetic content).

Pillow, pillow-heif and PyAV make the pictures and videos; piexif writes EXIF GPS; XMP, IPTC,
COM, maker notes, extra EXIF blocks and `udta` XMP are built by hand here. `exiftool_location`
is the oracle the tests hold every output to."""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import piexif
from PIL import Image

LAT, LON = 52.3702, 4.8952
XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
       b' xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
       b' xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"'
       b' exif:GPSLatitude="52,22.212N" exif:GPSLongitude="4,53.712E" photoshop:City="Amsterdam"'
       b' photoshop:State="Noord-Holland" photoshop:Country="Netherlands" Iptc4xmpCore:Location="Dam Square"/>'
       b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
LOCATION_TAG = re.compile(r"gps|location|(?<!chromati)city|state|country|province|coordinates", re.IGNORECASE)


def _rational(value: float) -> tuple[tuple[int, int], ...]:
    value = abs(value)
    deg, minutes_f = int(value), (abs(value) - int(value)) * 60
    sec = Fraction((minutes_f - int(minutes_f)) * 60).limit_denominator(10_000)
    return (deg, 1), (int(minutes_f), 1), (sec.numerator, sec.denominator)


def gps_ifd() -> dict[int, object]:
    return {piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0), piexif.GPSIFD.GPSLatitudeRef: b"N",
            piexif.GPSIFD.GPSLatitude: _rational(LAT), piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: _rational(LON)}


def exif_bytes(gps: bool = True, orientation: int = 6, thumbnail: bool = False, maker: bool = False) -> bytes:
    """An EXIF block (with its `Exif\\0\\0` header) as piexif writes it."""
    d: dict[str, Any] = {"0th": {piexif.ImageIFD.Orientation: orientation, piexif.ImageIFD.Make: b"Synthetic",
                                    piexif.ImageIFD.Artist: b"A. Parent"},
                            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2026:01:02 03:04:05"},
                            "GPS": gps_ifd() if gps else {}, "1st": {}}
    if maker:
        d["Exif"] = {**d["Exif"], piexif.ExifIFD.MakerNote: b"SYNTHMAKER\0HometownCity=Amsterdam\0"}
    if thumbnail:
        thumb = io.BytesIO()
        Image.new("RGB", (8, 8), (250, 0, 0)).save(thumb, "JPEG")
        d["1st"] = {piexif.ImageIFD.Orientation: 1}
        d["thumbnail"] = thumb.getvalue()
    return piexif.dump(d)


def plain_jpeg(size: tuple[int, int] = (48, 32), progressive: bool = False) -> bytes:
    """A JPEG with a JFIF header and no metadata, with real (noisy) image data."""
    rng = np.random.default_rng(7)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, progressive=progressive)
    return out.getvalue()


def segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def iptc(**fields: str) -> bytes:
    """An APP13 payload: Photoshop 3.0 with an IPTC resource holding record-2 datasets."""
    ids = {"city": 90, "sublocation": 92, "province": 95, "country": 101, "caption": 120}
    data = b"".join(b"\x1c\x02" + bytes([ids[k]]) + struct.pack(">H", len(v.encode())) + v.encode()
                    for k, v in fields.items())
    data += b"\0" * (len(data) & 1)
    return b"Photoshop 3.0\0" + b"8BIM\x04\x04\0\0" + struct.pack(">I", len(data)) + data


def insert_after_soi(jpeg: bytes, *segments: bytes, after_app0: bool = True) -> bytes:
    """Segments put after SOI (and after JFIF APP0 when `after_app0`): JFIF -> ICC -> EXIF."""
    at = 2
    if after_app0 and jpeg[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:at] + b"".join(segments) + jpeg[at:]


def icc_segment() -> bytes:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return segment(0xE2, b"ICC_PROFILE\0\x01\x01" + profile)


def hostile_jpeg() -> bytes:
    """Every place: JFIF -> ICC -> EXIF (orientation 6, GPS, thumbnail, maker note) -> a second
    EXIF with GPS -> XMP -> IPTC -> COM, and an MPF-like trailer after EOI."""
    first = exif_bytes(gps=True, thumbnail=True, maker=True)
    second = exif_bytes(gps=True, orientation=1)
    return insert_after_soi(plain_jpeg(), icc_segment(), segment(0xE1, first), segment(0xE1, second),
                            segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + XMP),
                            segment(0xED, iptc(city="Amsterdam", sublocation="Jordaan", province="Noord-Holland",
                                               country="Netherlands")),
                            segment(0xFE, b"taken at Dam Square, Amsterdam")) + b"\xff\xd8trailer GPS"


def png_with_location() -> bytes:
    img = Image.new("RGB", (24, 16), (5, 100, 200))
    out = io.BytesIO()
    img.save(out, "PNG", exif=exif_bytes())
    data = out.getvalue()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    extra = (chunk(b"tEXt", b"Location\0Dam Square, Amsterdam") +
             chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"GPS 52.37 4.89")) +
             chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + XMP))
    return data[:33] + extra + data[33:]


def webp_with_location() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (5, 100, 200)).save(out, "WEBP", exif=exif_bytes(), xmp=XMP, lossless=True)
    return out.getvalue()


def tiff_with_location() -> bytes:
    out = io.BytesIO()
    rng = np.random.default_rng(3)
    img = Image.fromarray(rng.integers(0, 255, (16, 24, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif.load(exif_bytes())
    img.save(out, "TIFF", exif=exif)
    return out.getvalue()


def heic_with_location() -> bytes:
    import pillow_heif

    rng = np.random.default_rng(5)
    img = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    heif = pillow_heif.from_pillow(img)
    out = io.BytesIO()
    heif.save(out, exif=exif_bytes(), xmp=XMP, quality=60)
    return out.getvalue()


def video_with_location(path: Path, fmt: str = "mov", codec: str = "libx265", tag: str = "hvc1") -> Path:
    """A video (HEVC tagged `hvc1`, AAC, a mov_text subtitle) with a location tag and, in
    `moov/udta`, an XMP box with GPS (as cameras and editors write it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as out:
        out.metadata["location"] = f"{LAT:+08.4f}{LON:+09.4f}/"
        out.metadata["title"] = "synthetic clip"
        v = out.add_stream(codec, rate=10, options={"x265-params": "log-level=none"} if codec == "libx265" else {})
        v.width, v.height, v.pix_fmt = 64, 64, "yuv420p"
        v.codec_context.codec_tag = tag
        a = out.add_stream("aac", rate=8000)
        s = out.add_stream("mov_text")
        s.codec_context.time_base = Fraction(1, 1000)
        s.codec_context.subtitle_header = b"[Script Info]\r\nScriptType: v4.00+\r\n"
        for k in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), k * 40, np.uint8), format="rgb24")
            frame.pts = k
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        af.sample_rate, af.pts = 8000, 0
        for p in [*a.encode(af), *a.encode()]:
            out.mux(p)
        sub = av.Packet(b"\0\x02hi")
        sub.stream, sub.pts, sub.dts, sub.duration, sub.time_base = s, 0, 0, 400, Fraction(1, 1000)
        out.mux(sub)
    _add_udta_xmp(path)
    return path


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def apple_location_meta() -> bytes:
    """A QuickTime `meta` box as iPhones write it: `keys` naming
    `com.apple.quicktime.location.ISO6709` and its `ilst` value."""
    key = b"com.apple.quicktime.location.ISO6709"
    hdlr = _box(b"hdlr", b"\0" * 8 + b"mdta" + b"\0" * 12 + b"\0")
    keys = _box(b"keys", b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">I", 8 + len(key)) + b"mdta" + key)
    value = f"{LAT:+08.4f}{LON:+09.4f}+000.000/".encode()
    ilst = _box(b"ilst", _box(struct.pack(">I", 1), _box(b"data", struct.pack(">II", 1, 0) + value)))
    return _box(b"meta", hdlr + keys + ilst)


def add_to_moov(path: Path, box: bytes) -> None:
    """Append a box to `moov` (moov is the last box: no chunk offset moves)."""
    data = bytearray(path.read_bytes())
    pos, moov = 0, None
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"moov":
            moov = pos
        pos += size
    assert moov is not None and moov + struct.unpack_from(">I", data, moov)[0] == len(data)
    data += box
    struct.pack_into(">I", data, moov, len(data) - moov)
    path.write_bytes(bytes(data))


def _add_udta_xmp(path: Path) -> None:
    """Append an `XMP_` box to `moov/udta` (moov is the last box: no chunk offset moves)."""
    data = bytearray(path.read_bytes())
    pos, moov = 0, None
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"moov":
            moov = pos
        pos += size
    assert moov is not None and moov + struct.unpack_from(">I", data, moov)[0] == len(data)
    box = struct.pack(">I4s", 8 + len(XMP), b"XMP_") + XMP
    udta = struct.pack(">I4s", 8 + len(box), b"udta") + box
    data += udta
    struct.pack_into(">I", data, moov, len(data) - moov)
    path.write_bytes(bytes(data))


def exiftool(*paths: Path) -> list[dict[str, object]]:
    """`exiftool -j -G -a -n` over the files (one process)."""
    proc = subprocess.run(["exiftool", "-j", "-G", "-a", "-n", *map(str, paths)], capture_output=True, check=False)
    return list(json.loads(proc.stdout or b"[]"))


def exiftool_location(*paths: Path) -> dict[str, list[str]]:
    """The oracle: per file, every tag exiftool reads whose name is about location, or
    that holds a maker note, thumbnail or comment (empty lists: clean)."""
    out = {}
    for info in exiftool(*paths):
        bad = [f"{k}={v}" for k, v in info.items()
               if LOCATION_TAG.search(k.split(":")[-1])
               or k.split(":")[-1] in ("MakerNoteUnknownText", "ThumbnailImage", "ThumbnailOffset", "Comment",
                                       "PreviewImage", "MPImage2")]
        out[str(info["SourceFile"])] = bad
    return out


def absurd_exif(loop: bool = False) -> bytes:
    """A hand-made EXIF block (with `Exif\\0\\0`): orientation 6, a description and a GPS
    latitude whose counts are 0x7FFFFFFF, a GPS IFD with a readable latitude reference; with
    `loop`, IFD0's next-IFD pointer points back at IFD0."""
    e = "<"
    ifd0 = struct.pack(e + "H", 3)
    ifd0 += struct.pack(e + "HHIHH", 0x0112, 3, 1, 6, 0)
    ifd0 += struct.pack(e + "HHII", 0x010E, 2, 0x7FFFFFFF, 100)
    ifd0 += struct.pack(e + "HHII", 0x8825, 4, 1, 60)
    ifd0 += struct.pack(e + "I", 8 if loop else 0)
    gps = struct.pack(e + "H", 2) + struct.pack(e + "HHI2s2x", 1, 2, 2, b"N\0")
    gps += struct.pack(e + "HHII", 2, 5, 0x7FFFFFFF, 100) + struct.pack(e + "I", 0)
    block = bytearray(b"II*\0" + struct.pack(e + "I", 8) + ifd0)
    block += bytes(60 - len(block)) + gps
    block += bytes(128 - len(block))
    return b"Exif\0\0" + bytes(block)


def entropy(jpeg: bytes) -> bytes:
    """From the first SOS marker to the end (for a JPEG without metadata segments)."""
    return jpeg[jpeg.index(b"\xff\xda"):]
