"""tutela.media on JPEG: every location container goes, the image data never changes.

exiftool (`-j -G -a -n`) is the oracle: no GPS, location, city, state, country, comment,
maker-note or thumbnail tag may be left in any output."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

import media_samples as ms
from tutela.media import clean_file, inspect
from tutela.media import jpeg as jpeg_module


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        return img.tobytes()


def orientation(path: Path) -> int | None:
    with Image.open(path) as img:
        value = img.getexif().get(0x0112)
        return int(value) if value is not None else None


@pytest.mark.parametrize("strict", [False, True])
def test_every_location_container_goes_and_exiftool_finds_none(tmp_path: Path, strict: bool) -> None:
    p = write(tmp_path / "photo.jpg", ms.hostile_jpeg())
    before = ms.exiftool_location(p)[str(p)]
    assert {"EXIF:GPSLatitude=52.3702", "XMP:City=Amsterdam", "IPTC:Sub-location=Jordaan"} <= set(before)
    result = clean_file(p, strict=strict)
    assert result.status == "cleaned", result.reason
    assert ms.exiftool_location(p) == {str(p): []}
    assert inspect(p) == ("jpeg", [])
    assert {"EXIF ifd0 GPS", "another EXIF block", "XMP", "APP13 Photoshop/IPTC", "comment (COM)",
            "EXIF thumbnail (IFD1)", "data after the end of the image"} <= set(result.removed)
    gone = "EXIF exif maker note" if not strict else "EXIF ifd0 EXIF IFD (camera, date and exposure tags)"
    assert gone in result.removed
    out = p.read_bytes()
    assert out.endswith(ms.entropy(ms.plain_jpeg()))  # the entropy-coded data is byte for byte the same
    assert pixels(out) == pixels(ms.plain_jpeg())
    assert orientation(p) == 6  # the picture stays upright
    tags = ms.exiftool(p)[0]
    assert tags["ICC_Profile:ProfileDescription"]  # colour profile kept: it is how the picture looks
    assert ("EXIF:Make" in tags) is (not strict)  # strict keeps only what shows the picture right
    assert "EXIF:Artist" not in tags


@pytest.mark.parametrize("progressive", [False, True])
def test_jfif_icc_exif_order_and_two_exif_blocks(tmp_path: Path, progressive: bool) -> None:
    """The issue's files: JFIF -> ICC -> EXIF (no GPS) -> a second EXIF with GPS."""
    plain = ms.plain_jpeg((64, 40), progressive=progressive)
    data = ms.insert_after_soi(plain, ms.icc_segment(), ms.segment(0xE1, ms.exif_bytes(gps=False)),
                               ms.segment(0xE1, ms.exif_bytes(gps=True)))
    p = write(tmp_path / "two.jpg", data)
    assert ms.exiftool_location(p)[str(p)]  # exiftool reads the GPS of the second block
    assert any(f.container == "APP1 EXIF #2" and f.what == "GPS" for f in inspect(p)[1])
    assert clean_file(p).status == "cleaned"
    assert ms.exiftool_location(p) == {str(p): []}
    assert p.read_bytes().endswith(ms.entropy(plain)) and orientation(p) == 6


def test_cleaning_twice_changes_nothing_and_a_clean_file_is_left_alone(tmp_path: Path) -> None:
    p = write(tmp_path / "a.jpg", ms.hostile_jpeg())
    assert clean_file(p).status == "cleaned"
    once = p.read_bytes()
    again = clean_file(p)
    assert again.status == "already_clean" and p.read_bytes() == once
    q = write(tmp_path / "plain.jpg", ms.plain_jpeg())
    assert clean_file(q).status == "already_clean" and q.read_bytes() == ms.plain_jpeg()


@pytest.mark.parametrize("loop", [False, True])
def test_absurd_counts_and_loops_keep_orientation_and_lose_the_gps(tmp_path: Path, loop: bool) -> None:
    """EXIF counts of 0x7FFFFFFF are never allocated; the unreadable parts go, orientation stays."""
    p = write(tmp_path / "absurd.jpg", ms.insert_after_soi(ms.plain_jpeg(), ms.segment(0xE1, ms.absurd_exif(loop))))
    assert "EXIF:GPSLatitudeRef=N" in ms.exiftool_location(p)[str(p)]
    result = clean_file(p)
    assert result.status == "cleaned", result.reason
    assert ms.exiftool_location(p) == {str(p): []} and orientation(p) == 6


def test_truncated_and_garbage_jpegs_are_refused_with_a_reason_and_left_alone(tmp_path: Path) -> None:
    data = ms.hostile_jpeg()
    cases = {"cut-in-exif.jpg": data[:300], "cut-in-scan.jpg": data[:-200].split(b"\xff\xd9")[0],
             "no-soi.jpg": b"\xff\xd8\xff" + b"\x00" * 50, "bad-length.jpg": b"\xff\xd8\xff\xe1\xff\xff" + b"x" * 10}
    for name, raw in cases.items():
        p = write(tmp_path / name, raw)
        result = clean_file(p)
        assert result.status == "refused" and result.reason, name
        assert result.failure is not None and result.failure.startswith("refused: ")
        assert p.read_bytes() == raw  # the original stays as it was


def test_the_segment_parser_skips_stuffing_and_restart_markers() -> None:
    data = ms.insert_after_soi(ms.plain_jpeg((200, 120)), ms.segment(0xFE, b"note"))
    segs, end = jpeg_module.segments(data)
    assert end == len(data)
    wanted = (0xFE, 0xDA, jpeg_module.ENTROPY)
    assert [s.marker for s in segs if s.marker in wanted] == list(wanted)
    scan = next(s for s in segs if s.marker == jpeg_module.ENTROPY)
    assert data[scan.start:scan.end] == ms.entropy(data)[len(data[segs[-2].start:segs[-2].end]):-2]
