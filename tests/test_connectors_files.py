"""The media-folder connector against real JPEG and MP4 files (tutela.clipstream.media makes them)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from unittest import mock

import av
import pyarrow as pa
import pytest
from PIL import Image

from tutela.clipstream.media import iso6709, read_jpeg_gps, read_mp4_location, write_jpeg, write_mp4
from tutela.connectors import FilesConnector, Target, open_connector
from tutela.connectors.strategies import Strategy
from tutela.datamap import load_datamap
from tutela.datamap.models import FilesStoreDecl
from tutela.errors import InputError

STRIP = {"path": Strategy(strategy="strip_location")}
LOCATED = ["media/1.jpg", "media/2.mp4"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    media = tmp_path / "media-root"
    write_jpeg(media / "media/1.jpg", (200, 10, 10), 52.3702, 4.8952)
    write_mp4(media / "media/2.mp4", (10, 200, 10), 51.5072, -0.1276)
    write_jpeg(media / "media/3.jpg", (10, 10, 200))  # no location
    write_mp4(media / "media/4.mp4", (90, 90, 90), 40.7128, -74.006)  # another subject's
    write_jpeg(media / "avatars/5.jpg", (1, 2, 3), 48.8566, 2.3522)
    (tmp_path / "outside.jpg").write_bytes((media / "media/1.jpg").read_bytes())
    return media


def sums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def connector(root: Path) -> FilesConnector:
    dm = load_datamap()
    assert dm.tutela is not None
    store = dm.tutela.stores["files"]
    assert isinstance(store, FilesStoreDecl)
    c = open_connector(f"file://{root}", store=store)
    assert isinstance(c, FilesConnector)
    return c


def keys(*paths: str) -> pa.Table:
    return pa.table({"path": list(paths)})


def test_strip_location_rewrites_only_located_files_and_keeps_the_pictures(root: Path) -> None:
    before = sums(root)
    c = connector(root)
    target = Target("media", ("path",), "mask", STRIP)
    batch = keys("media/1.jpg", "media/2.mp4", "media/3.jpg", "media/missing.jpg")
    with Image.open(root / "media/1.jpg") as img:
        pixels = img.tobytes()
    assert c.count(target, batch) == 2
    assert sums(root) == before  # the dry run wrote nothing
    assert c.apply(target, batch).changed == 2
    assert read_jpeg_gps(root / "media/1.jpg") is None and read_mp4_location(root / "media/2.mp4") is None
    with Image.open(root / "media/1.jpg") as img:
        assert img.tobytes() == pixels  # EXIF rewritten, image data not re-encoded
    with av.open(str(root / "media/2.mp4")) as video:
        assert sum(1 for _ in video.decode(video=0)) == 3  # still a playable 3-frame video
    after = sums(root)
    assert {k: v for k, v in after.items() if k not in LOCATED} == {k: v for k, v in before.items() if k not in LOCATED}
    assert not [p for p in root.rglob("*") if p.name.endswith(".tmp")]
    assert c.apply(target, batch).changed == 0 and c.count(target, batch) == 0 and sums(root) == after


def test_delete_removes_exactly_the_named_files(root: Path) -> None:
    before = sums(root)
    c = connector(root)
    target = Target("media", ("path",), "delete")
    batch = keys("media/1.jpg", "media/3.jpg", "media/missing.jpg")
    assert c.count(target, batch) == 2 and sums(root) == before
    assert c.apply(target, batch).changed == 2
    assert sums(root) == {k: v for k, v in before.items() if k not in ("media/1.jpg", "media/3.jpg")}
    assert c.apply(target, batch).changed == 0
    avatars = Target("profiles", ("avatar_path",), "delete")
    assert c.apply(avatars, pa.table({"avatar_path": ["avatars/5.jpg", None]})).changed == 1  # NULL paths are skipped


def test_retrieve_reports_size_digest_and_location(root: Path) -> None:
    c = connector(root)
    got = c.retrieve("media", ("path",), keys(*LOCATED, "media/3.jpg", "media/missing.jpg"),
                     ["path", "bytes", "sha256", "location"])
    rows = {r["path"]: r for r in got.to_pylist()}
    assert set(rows) == {*LOCATED, "media/3.jpg"}
    assert rows["media/1.jpg"]["location"] == iso6709(52.3702, 4.8952)
    assert rows["media/2.mp4"]["location"] == iso6709(51.5072, -0.1276)
    assert rows["media/3.jpg"]["location"] is None
    assert rows["media/3.jpg"]["bytes"] == (root / "media/3.jpg").stat().st_size
    assert rows["media/3.jpg"]["sha256"] == hashlib.sha256((root / "media/3.jpg").read_bytes()).hexdigest()


@pytest.mark.parametrize("bad", ["../outside.jpg", "/etc/hostname", "media/../../outside.jpg", "link/1.jpg"])
def test_paths_escaping_the_root_are_refused_before_any_write(root: Path, bad: str) -> None:
    (root / "link").symlink_to(root.parent)  # a symlink out of the root
    before, outside = sums(root), (root.parent / "outside.jpg").read_bytes()
    c = connector(root)
    for target in (Target("media", ("path",), "delete"), Target("media", ("path",), "mask", STRIP)):
        with pytest.raises(InputError, match="escapes the media folder") as info:
            c.apply(target, keys("media/1.jpg", bad))  # a good path first: still nothing happens
        assert info.value.where is not None and info.value.where.endswith("media")
    assert sums(root) == before and (root.parent / "outside.jpg").read_bytes() == outside


def test_check_and_unsupported_files_are_input_errors(root: Path, tmp_path: Path) -> None:
    c = connector(root)
    c.check({"media": {"path", "location"}, "profiles": {"avatar_path"}})
    with pytest.raises(InputError, match="`messages` has no files declared"):
        c.check({"messages": {"body"}})
    with pytest.raises(InputError, match=r"`media\.caption` are not file fields"):
        c.check({"media": {"caption"}})
    with pytest.raises(InputError, match="media folder not found"):
        FilesConnector(tmp_path / "nope", {"media": "path"}).check({"media": {"path"}})
    (root / "media/6.png").write_bytes(b"\x89PNG")
    before = sums(root)
    with pytest.raises(InputError, match="only `strip_location`"):
        c.apply(Target("media", ("path",), "mask", {"path": Strategy(strategy="null_rewrite")}), keys("media/1.jpg"))
    assert sums(root) == before
    # a file that cannot be cleaned is a failure of its own: the others in the batch are still cleaned
    done = c.apply(Target("media", ("path",), "mask", STRIP), keys("media/1.jpg", "media/6.png"))
    assert done.changed == 1 and read_jpeg_gps(root / "media/1.jpg") is None
    assert [(f.key, f.reason.split(":")[0]) for f in done.failed] == [(("media/6.png",), "refused")]
    assert (root / "media/6.png").read_bytes() == b"\x89PNG"


def test_a_crash_mid_rewrite_leaves_the_original_and_a_rerun_completes(root: Path) -> None:
    original = (root / "media/1.jpg").read_bytes()
    c = connector(root)
    target = Target("media", ("path",), "mask", STRIP)

    def crash(src: object, dst: object) -> None:
        raise OSError("power cut")

    with mock.patch.object(os, "replace", crash):
        torn = c.apply(target, keys("media/1.jpg"))
    assert torn.changed == 0 and [f.reason for f in torn.failed] == ["refused: power cut"]
    assert (root / "media/1.jpg").read_bytes() == original  # the original stays, no temporary file is left
    assert c.apply(target, keys("media/1.jpg")).changed == 1 and read_jpeg_gps(root / "media/1.jpg") is None
    assert sorted(os.listdir(root / "media")) == ["1.jpg", "2.mp4", "3.jpg", "4.mp4"]


def test_strip_location_cleans_real_world_files_each_on_its_own(tmp_path: Path) -> None:
    """The issue's files through remediation's mask: JFIF -> ICC -> EXIF and two-EXIF JPEGs,
    XMP/IPTC/COM/maker notes/thumbnails, HEIC, TIFF and a QuickTime HEVC clip with subtitles
    and udta XMP are cleaned (exiftool finds no location in any), a truncated JPEG and a text
    file are failures of their own, and the batch goes on."""
    import media_samples as ms

    media = tmp_path / "m"
    (media / "media").mkdir(parents=True)
    plain = ms.plain_jpeg()
    files = {
        "order.jpg": ms.insert_after_soi(plain, ms.icc_segment(), ms.segment(0xE1, ms.exif_bytes())),
        "two.jpg": ms.insert_after_soi(plain, ms.segment(0xE1, ms.exif_bytes(gps=False)),
                                       ms.segment(0xE1, ms.exif_bytes())),
        "all.jpg": ms.hostile_jpeg(), "x.heic": ms.heic_with_location(), "t.tif": ms.tiff_with_location(),
        "broken.jpg": ms.hostile_jpeg()[:400], "note.txt": b"GPS 52.37 4.89",
    }
    for name, raw in files.items():
        (media / "media" / name).write_bytes(raw)
    ms.video_with_location(media / "media/clip.mov")
    names = [*files, "clip.mov"]
    c = FilesConnector(media, {"media": "path"})
    target = Target("media", ("path",), "mask", STRIP)
    batch = keys(*(f"media/{n}" for n in names))
    got = {r["path"]: r["location"] for r in c.retrieve("media", ("path",), batch, ["path", "location"]).to_pylist()}
    assert got["media/two.jpg"] == got["media/clip.mov"] == "+52.3702+004.8952/" and got["media/note.txt"] is None
    assert c.count(target, batch) == len(names)
    done = c.apply(target, batch)
    assert done.changed == 6
    assert sorted((f.key[0], f.reason.split(":")[0]) for f in done.failed) == [
        ("media/broken.jpg", "refused"), ("media/note.txt", "refused")]
    cleaned = [media / "media" / n for n in names if n not in ("broken.jpg", "note.txt")]
    assert ms.exiftool_location(*cleaned) == {str(p): [] for p in cleaned}
    for n in ("order.jpg", "two.jpg", "all.jpg"):
        out = (media / "media" / n).read_bytes()
        assert out.endswith(ms.entropy(plain))  # not re-encoded
        with Image.open(media / "media" / n) as img:
            assert img.getexif().get(0x0112) == 6  # still upright
    tags = ms.exiftool(media / "media/clip.mov")[0]
    assert tags["QuickTime:MajorBrand"] == "qt  " and tags["QuickTime:CompressorID"] == "hvc1"
    with av.open(str(media / "media/clip.mov")) as clip:
        assert [s.type for s in clip.streams] == ["video", "audio", "subtitle"]
    assert (media / "media/broken.jpg").read_bytes() == files["broken.jpg"]  # a failure leaves the file
    again = c.apply(target, batch)
    assert again.changed == 0 and len(again.failed) == 2
