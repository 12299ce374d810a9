"""`tutela media clean` (a real subprocess: exit codes, JSON, the table) and `POST /v1/media/clean`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

import media_samples as ms
from cli_inprocess import run_cli as cli
from tutela.api import create_app
from tutela.api import media as media_api


def tutela(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it (a real process: slow to start, so used once)."""
    return subprocess.run([sys.executable, "-m", "tutela", *args], capture_output=True, text=True, timeout=300)




@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "a.jpg").write_bytes(ms.hostile_jpeg())
    (tmp_path / "b.heic").write_bytes(ms.heic_with_location())
    (tmp_path / "c.jpg").write_bytes(ms.plain_jpeg())
    ms.video_with_location(tmp_path / "d.mov")
    return tmp_path


def test_cli_cleans_a_folder_and_exits_0_when_every_file_is_clean(
        folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, stdout, stderr = cli(capsys, monkeypatch, "media", "clean", str(folder), "--format", "json")
    assert code == 0, stderr
    got = json.loads(stdout)
    assert got["summary"] == {"cleaned": 3, "already_clean": 1, "refused": 0}
    assert {Path(f["path"]).name: f["status"] for f in got["files"]}["c.jpg"] == "already_clean"
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert ms.exiftool_location(*files) == {str(p): [] for p in files}
    code, table, _ = cli(capsys, monkeypatch, "media", "clean", str(folder))
    assert code == 0 and "0 cleaned, 4 already clean, 0 refused" in table and "d.mov" in table


def test_cli_strict_quarantines_a_refused_file_and_exits_1(folder: Path) -> None:
    (folder / "broken.jpg").write_bytes(ms.hostile_jpeg()[:300])
    out = tutela("media", "clean", str(folder / "a.jpg"), str(folder / "broken.jpg"), "--strict", "--format", "json")
    assert out.returncode == 1, out.stderr
    got = {Path(f["path"]).name: f for f in json.loads(out.stdout)["files"]}
    assert got["a.jpg"]["status"] == "cleaned" and got["broken.jpg"]["status"] == "refused"
    assert "truncated JPEG" in got["broken.jpg"]["reason"] and "quarantined to" in got["broken.jpg"]["reason"]
    assert not (folder / "broken.jpg").exists() and (folder / ".tutela-quarantine/broken.jpg").exists()
    assert "EXIF:Make" not in ms.exiftool(folder / "a.jpg")[0]  # strict: camera tags gone too


def test_cli_bad_input_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli(capsys, monkeypatch, "media", "clean", str(tmp_path / "missing.jpg"))
    assert code == 3 and "no such file or folder" in err and "Traceback" not in err
    code, _, err = cli(capsys, monkeypatch, "media", "clean", str(tmp_path), "--on-refuse", "shred")
    assert code == 3 and "--on-refuse" in err


def test_api_returns_the_cleaned_file_and_refuses_with_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(create_app())
    raw = ms.hostile_jpeg()
    got = client.post("/v1/media/clean", content=raw)
    assert got.status_code == 200 and got.headers["x-tutela-status"] == "cleaned"
    assert got.headers["content-type"] == "image/jpeg"
    assert got.content.endswith(ms.entropy(ms.plain_jpeg()))
    with Image.open(io.BytesIO(got.content)) as img:
        exif = img.getexif()
        assert exif.get(0x0112) == 6 and 0x8825 not in exif and 0x010F not in exif  # strict by default
    lenient = client.post("/v1/media/clean", params={"strict": "false"}, content=raw)
    with Image.open(io.BytesIO(lenient.content)) as img:
        assert img.getexif().get(0x010F) == "Synthetic"
    refused = client.post("/v1/media/clean", content=raw[:300])
    assert refused.status_code == 422 and refused.json()["error"] == "MediaRefused"
    assert "truncated JPEG" in refused.json()["message"]
    assert client.post("/v1/media/clean", content=b"plain text").json()["message"].startswith(
        "refused: not a supported media format")
    assert client.post("/v1/media/clean", content=b"").status_code == 422
    monkeypatch.setenv(media_api.ENV, "1000")
    big = client.post("/v1/media/clean", content=raw)
    assert big.status_code == 413 and big.json()["error"] == "TooLarge"
