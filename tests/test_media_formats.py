"""tutela.media on PNG, WebP, TIFF, HEIC and MP4/MOV: location gone (exiftool agrees), the
picture or the streams unchanged, the container kept as it was."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import av
import pillow_heif
import pytest
from PIL import Image

import media_samples as ms
from tutela.media import clean_file, inspect, location

IMAGES: dict[str, Callable[[], bytes]] = {
    "p.png": ms.png_with_location, "w.webp": ms.webp_with_location,
    "t.tif": ms.tiff_with_location, "x.heic": ms.heic_with_location,
}


def decoded(path: Path) -> bytes:
    if path.suffix == ".heic":
        return bytes(pillow_heif.open_heif(path, convert_hdr_to_8bit=True).data)
    with Image.open(path) as img:
        return img.convert("RGB").tobytes()


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_images_lose_every_location_and_keep_their_pixels(tmp_path: Path, name: str, strict: bool) -> None:
    p = tmp_path / name
    p.write_bytes(IMAGES[name]())
    pixels = decoded(p)
    before = ms.exiftool_location(p)[str(p)]
    assert "EXIF:GPSLatitude=52.3702" in before
    fmt, found = inspect(p)
    assert any(f.what == "GPS" and f.value == "+52.3702+004.8952/" for f in found)
    assert location(p) == "+52.3702+004.8952/"
    result = clean_file(p, strict=strict)
    assert result.status == "cleaned" and result.format == fmt, result.reason
    assert ms.exiftool_location(p) == {str(p): []}
    assert inspect(p) == (fmt, []) and location(p) is None
    assert decoded(p) == pixels  # no re-encoding: the same picture
    tags = ms.exiftool(p)[0]
    assert "EXIF:Artist" not in tags
    if name != "t.tif":  # a TIFF's orientation lives in IFD0 beside the image structure: kept too
        assert tags.get("EXIF:Orientation") == 6
    assert clean_file(p, strict=strict).status == "already_clean"


def test_heic_is_not_re_encoded_and_keeps_its_size(tmp_path: Path) -> None:
    """pillow-heif's plain re-save would keep the Exif item (and re-encode); the item is
    rewritten in place instead: same size, same image bytes."""
    p = tmp_path / "x.heic"
    raw = ms.heic_with_location()
    p.write_bytes(raw)
    resaved = io.BytesIO()
    pillow_heif.open_heif(io.BytesIO(raw)).save(resaved)
    q = tmp_path / "resaved.heic"
    q.write_bytes(resaved.getvalue())
    assert ms.exiftool_location(q)[str(q)]  # the naive re-save: GPS still there
    assert clean_file(p).status == "cleaned"
    assert len(p.read_bytes()) == len(raw) and ms.exiftool_location(p) == {str(p): []}


def streams(path: Path) -> list[tuple[str, str]]:
    with av.open(str(path)) as c:
        return [(s.type, s.codec_context.codec_tag) for s in c.streams]


def frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.mark.parametrize(("name", "fmt", "brand"), [("clip.mov", "mov", "qt  "), ("clip.mp4", "mp4", "isom"),
                                                     ("clip.m4v", "mp4", "isom")])
def test_videos_keep_container_codec_tags_and_every_stream(tmp_path: Path, name: str, fmt: str, brand: str) -> None:
    p = ms.video_with_location(tmp_path / name, fmt=fmt)
    before_streams, before_frames = streams(p), frames(p)
    assert before_streams == [("video", "hvc1"), ("audio", "mp4a"), ("subtitle", "tx3g" if fmt == "mp4" else "text")]
    before = ms.exiftool_location(p)[str(p)]
    assert "XMP:City=Amsterdam" in before and any("GPS" in b or "Location" in b for b in before)
    assert location(p) == "+52.3702+004.8952/"
    size = p.stat().st_size
    result = clean_file(p)
    assert result.status == "cleaned", result.reason
    assert ms.exiftool_location(p) == {str(p): []}
    assert inspect(p) == ("video", [])
    assert p.stat().st_size == size and all("free" in r for r in result.removed)  # freed in place
    tags = ms.exiftool(p)[0]
    assert tags["QuickTime:MajorBrand"] == brand  # a .mov stays QuickTime
    assert streams(p) == before_streams and frames(p) == before_frames  # hvc1 stays hvc1, subtitles kept
    assert tags.get("QuickTime:Title") == "synthetic clip"  # other metadata kept (strict drops it)
    assert clean_file(p).status == "already_clean"
    # strict: the PyAV remux (packets copied): container family, codec tags and every stream kept
    remuxed = clean_file(p, strict=True)
    assert remuxed.status == "cleaned" and "container metadata `title`" in remuxed.removed
    tags = ms.exiftool(p)[0]
    assert "QuickTime:Title" not in tags and tags["QuickTime:MajorBrand"] == brand
    assert streams(p) == before_streams and frames(p) == before_frames
    assert ms.exiftool_location(p) == {str(p): []}
    assert not list(tmp_path.glob(".*tutela-tmp"))


def test_an_iphone_style_location_key_is_removed_with_its_meta_box(tmp_path: Path) -> None:
    p = ms.video_with_location(tmp_path / "phone.mov")
    ms.add_to_moov(p, ms.apple_location_meta())
    before = ms.exiftool_location(p)[str(p)]
    assert any("GPSCoordinates" in b for b in before)
    assert any(f.what == "location key" for f in inspect(p)[1])
    result = clean_file(p)
    assert result.status == "cleaned" and any(r.startswith("moov/meta ") for r in result.removed), result.removed
    assert ms.exiftool_location(p) == {str(p): []} and frames(p) == 5
