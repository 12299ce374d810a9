"""Hostile input: truncated, bit-flipped, huge-dimension, decompression-bomb and absurd-count
files each end in a clear per-file result (cleaned without location, or refused with a
reason), never a hang, a crash or an output that still has location. Fuzzed with Hypothesis
over mutated real files; exiftool reads every output the fuzzer produced, in one process."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import media_samples as ms
from tutela.media import STATUSES, Limits, clean_file, clean_many, inspect

SEEDS = {"jpg": ms.hostile_jpeg(), "png": ms.png_with_location(), "webp": ms.webp_with_location(),
         "tif": ms.tiff_with_location(), "heic": ms.heic_with_location(),
         "absurd.jpg": ms.insert_after_soi(ms.plain_jpeg(), ms.segment(0xE1, ms.absurd_exif(loop=True)))}


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_fuzzed_files_are_cleaned_or_refused_and_no_output_keeps_location(tmp_path: Path) -> None:
    outputs: list[Path] = []
    seen: set[str] = set()

    @settings(max_examples=120, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.sampled_from(sorted(SEEDS)), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=6),
           st.floats(0.05, 1.0))
    def one(name: str, flips: list[tuple[float, int]], keep: float) -> None:
        raw = bytearray(SEEDS[name])
        for where, value in flips:
            raw[min(int(where * len(raw)), len(raw) - 1)] = value
        raw = raw[:max(1, int(keep * len(raw)))]
        p = tmp_path / f"{len(outputs)}-{len(seen)}.{name.split('.')[-1]}"
        p.write_bytes(bytes(raw))
        result = clean_file(p)
        assert result.status in STATUSES
        seen.add(result.status)
        if result.status == "refused":
            assert result.reason and p.read_bytes() == bytes(raw)  # a clear reason, the original untouched
            p.unlink()
        else:
            assert inspect(p)[1] == []
            outputs.append(p)

    one()
    assert {"cleaned", "refused"} <= seen
    leftovers = {k: v for k, v in ms.exiftool_location(*outputs).items() if v}
    assert leftovers == {}


def test_huge_dimensions_and_decompression_bombs_are_cleaned_without_decoding(tmp_path: Path) -> None:
    jpeg = bytearray(ms.insert_after_soi(ms.plain_jpeg(), ms.segment(0xE1, ms.exif_bytes())))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)  # a 65,500 x 65,500 frame header
    png = ms.png_with_location()
    bomb_idat = zlib.compress(b"\0" * (64 << 20), 9)  # 64 MiB of zeros in ~64 KiB
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = (png[:8] + _chunk(b"IHDR", ihdr) + _chunk(b"zTXt", b"Comment\0\0" + bomb_idat)
            + _chunk(b"tEXt", b"GPS\x0052.37,4.89") + _chunk(b"IDAT", bomb_idat) + _chunk(b"IEND", b""))
    plain = ms.plain_jpeg()
    sos = plain.index(b"\xff\xda")
    scan = sos + 2 + int.from_bytes(plain[sos + 2:sos + 4], "big")
    stuffed = ms.insert_after_soi(plain[:scan] + b"\xff\x00" * (1 << 20) + b"\xff\xd9",
                                  ms.segment(0xE1, ms.exif_bytes()))  # 2 MiB of byte stuffing
    for name, raw in {"huge.jpg": bytes(jpeg), "bomb.png": bomb, "stuffed.jpg": stuffed}.items():
        p = tmp_path / name
        p.write_bytes(raw)
        result = clean_file(p)
        assert result.status == "cleaned", (name, result.reason)
        assert ms.exiftool_location(p) == {str(p): []}
    assert (tmp_path / "bomb.png").stat().st_size < len(bomb)  # the zTXt went unexpanded; IDAT copied as is
    assert (tmp_path / "stuffed.jpg").read_bytes().endswith(b"\xff\x00" * (1 << 20) + b"\xff\xd9")


def test_a_refused_file_never_blocks_the_others(tmp_path: Path) -> None:
    good = [tmp_path / "a.jpg", tmp_path / "c.png"]
    good[0].write_bytes(ms.hostile_jpeg())
    good[1].write_bytes(ms.png_with_location())
    bad = [tmp_path / "b.jpg", tmp_path / "d.txt", tmp_path / "e.mp4"]
    bad[0].write_bytes(ms.hostile_jpeg()[:200])
    bad[1].write_bytes(b"not media")
    bad[2].write_bytes(b"\0\0\0\x18ftypisom" + b"\0" * 40)
    results = clean_many([good[0], bad[0], bad[1], good[1], bad[2]])
    assert [r.status for r in results] == ["cleaned", "refused", "refused", "cleaned", "refused"]
    reasons = [r.reason or "" for r in results if r.status == "refused"]
    assert "truncated JPEG" in reasons[0] and "not a supported media format" in reasons[1]
    assert reasons[2]  # the remux worker's own words
    assert ms.exiftool_location(*good) == {str(p): [] for p in good}


def test_video_bounds_end_in_a_refusal(tmp_path: Path) -> None:
    """The remux runs in a child with a wall-clock and an address-space limit."""
    clip = ms.video_with_location(tmp_path / "clip.mp4", fmt="mp4")
    raw = clip.read_bytes()
    slow = clean_file(clip, strict=True, limits=Limits(video_seconds=0.001))  # strict: always the remux
    assert slow.status == "refused" and "took longer than" in (slow.reason or "")
    starved = clean_file(clip, strict=True, limits=Limits(video_memory=16 << 20))
    assert starved.status == "refused" and "remux process failed" in (starved.reason or "")
    big = clean_file(clip, limits=Limits(max_video_bytes=100))
    assert big.status == "refused" and "over the video limit" in (big.reason or "")
    assert clip.read_bytes() == raw
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(raw[: len(raw) // 2])
    truncated = clean_file(cut)
    assert truncated.status == "refused" and truncated.reason


def test_strict_refusals_are_quarantined_or_deleted_never_passed_on(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(ms.hostile_jpeg()[:300])
    b.write_bytes(ms.hostile_jpeg()[:300])
    q = clean_file(a, strict=True, on_refuse="quarantine")
    assert q.status == "refused" and "quarantined to" in (q.reason or "")
    assert not a.exists() and (tmp_path / ".tutela-quarantine" / "a.jpg").exists()
    d = clean_file(b, strict=True, on_refuse="delete")
    assert d.status == "refused" and (d.reason or "").endswith("(deleted)") and not b.exists()


def test_mutated_videos_are_cleaned_or_refused_and_no_output_keeps_location(tmp_path: Path) -> None:
    """Bytes changed in `moov` (where the boxes are) or the file cut short: in-place freeing,
    the remux worker or a refusal, never a location left (exiftool reads every output)."""
    seed_path = ms.video_with_location(tmp_path / "seed.mov")
    ms.add_to_moov(seed_path, ms.apple_location_meta())
    seed = seed_path.read_bytes()
    outputs, seen = [], set()

    @settings(max_examples=25, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.lists(st.tuples(st.integers(0, 1999), st.integers(0, 255)), min_size=1, max_size=6),
           st.floats(0.3, 1.0))
    def one(flips: list[tuple[int, int]], keep: float) -> None:
        raw = bytearray(seed)
        for back, value in flips:
            raw[len(raw) - 1 - back] = value
        raw = raw[:max(100, int(keep * len(raw)))]
        p = tmp_path / f"{len(outputs)}-{len(seen)}-{keep:.3f}.mov"
        p.write_bytes(bytes(raw))
        result = clean_file(p)
        seen.add(result.status)
        if result.status == "refused":
            assert result.reason and p.read_bytes() == bytes(raw)
        else:
            assert inspect(p)[1] == []
            outputs.append(p)

    one()
    assert "cleaned" in seen
    assert {k: v for k, v in ms.exiftool_location(*outputs).items() if v} == {}


def test_a_tiff_whose_strips_overlap_a_thousandfold_is_refused_not_copied(tmp_path: Path) -> None:
    """20,000 strips each claiming the whole file would copy gigabytes: the copy budget (twice
    the file) refuses it instead."""
    n = 20_000
    entries = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, n, 0), (278, 3, 1, 1), (279, 4, n, 0)]
    ifd_size = 2 + 12 * len(entries) + 4
    offsets_at, counts_at = 8 + ifd_size, 8 + ifd_size + 4 * n
    total = counts_at + 4 * n
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        value = offsets_at if tag == 273 else counts_at if tag == 279 else value
        ifd += struct.pack("<HHII", tag, typ, count, value)
    raw = b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)
    raw += struct.pack(f"<{n}I", *([0] * n)) + struct.pack(f"<{n}I", *([total] * n))
    p = tmp_path / "overlap.tif"
    p.write_bytes(raw)
    result = clean_file(p)
    assert result.status == "refused" and "overlap" in (result.reason or "")
