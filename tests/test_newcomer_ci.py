"""Running Tutela in CI and as a demo: `audit --fail-on`, `audit --declarations`, a busy port
found before any work, `make demo PORT=...`."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from cli_inprocess import run_cli
from estate_fixture import write_sql
from tutela.clipstream import AS_OF
from tutela.engine import Engine

Cap = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch
ORDER = ("low", "medium", "high", "critical")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('newcomer-ci') / 'e.db'}"
    write_sql(url)
    return url


@pytest.mark.parametrize("severity", ORDER)
def test_fail_on_exits_1_exactly_when_an_open_finding_reaches_the_severity(
        engine: Engine, estate: str, capsys: Cap, monkeypatch: MP, severity: str) -> None:
    findings = engine.audit(estate, as_of=AS_OF)
    assert {f.severity for f in findings} >= {"critical", "high"}  # the fixture has both
    reaching = [f for f in findings if f.status == "open" and ORDER.index(f.severity) >= ORDER.index(severity)]
    code, out, err = run_cli(capsys, monkeypatch, "audit", "--estate", estate, "--as-of", str(AS_OF),
                             "--fail-on", severity, "--format", "json")
    assert json.loads(out) == [f.to_dict() for f in findings]  # the findings are printed all the same
    assert code == (1 if reaching else 0)
    if reaching:
        assert f"{len(reaching)} open findings at severity {severity} or above" in err


def test_fail_on_passes_a_lawful_estate_and_without_it_findings_exit_0(
        estate: str, tmp_path: Path, capsys: Cap, monkeypatch: MP) -> None:
    lawful = f"sqlite:///{tmp_path / 'lawful.db'}"
    code, _, _ = run_cli(capsys, monkeypatch, "estate", "generate", "--accounts", "40", "--seed", "3", "--lawful",
                         "--out", lawful, "--format", "json")
    assert code == 0
    code, out, _ = run_cli(capsys, monkeypatch, "audit", "--estate", lawful, "--as-of", "2026-11-01",
                           "--fail-on", "low", "--format", "json")
    assert (code, json.loads(out)) == (0, [])
    code, _, _ = run_cli(capsys, monkeypatch, "audit", "--estate", estate, "--as-of", str(AS_OF))
    assert code == 0  # without --fail-on an audit that found something has done its job
    code, _, err = run_cli(capsys, monkeypatch, "audit", "--estate", estate, "--fail-on", "severe")
    assert code == 3 and "--fail-on" in err


def test_declarations_can_be_given_apart_from_the_dataset(engine: Engine, estate: str, tmp_path: Path,
                                                          capsys: Cap, monkeypatch: MP) -> None:
    maps = resources.files("tutela.data.datamaps")
    dataset, decl = tmp_path / "maps" / "estate.yml", tmp_path / "elsewhere" / "mine.yml"
    dataset.parent.mkdir()
    decl.parent.mkdir()
    dataset.write_text(maps.joinpath("clipstream.yml").read_text("utf-8"), "utf-8")
    decl.write_text(maps.joinpath("clipstream.tutela.yml").read_text("utf-8"), "utf-8")
    code, out, _ = run_cli(capsys, monkeypatch, "audit", "--estate", estate, "--as-of", str(AS_OF), "--datamap",
                           str(dataset), "--format", "json")
    assert code == 3 and "no Tutela declarations" in json.loads(out)["message"]  # none beside the dataset
    code, out, _ = run_cli(capsys, monkeypatch, "audit", "--estate", estate, "--as-of", str(AS_OF), "--datamap",
                           str(dataset), "--declarations", str(decl), "--format", "json")
    assert code == 0
    assert json.loads(out) == [f.to_dict() for f in engine.audit(estate, as_of=AS_OF)]
    code, out, _ = run_cli(capsys, monkeypatch, "audit", "--estate", estate, "--declarations", str(decl),
                           "--format", "json")
    assert code == 3 and json.loads(out)["where"] == "--declarations"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_serve_refuses_a_busy_port_naming_it(busy_port: int, capsys: Cap, monkeypatch: MP) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "serve", "--port", str(busy_port))
    flat = " ".join(err.split())
    assert code == 3 and f"port {busy_port} on 127.0.0.1 is already in use" in flat and "--port " in flat
    code, _, err = run_cli(capsys, monkeypatch, "serve", "--port", "70000")
    assert code == 3 and "out of range" in err


def test_demo_checks_the_port_before_generating_anything(busy_port: int, tmp_path: Path, capsys: Cap,
                                                         monkeypatch: MP) -> None:
    out_dir = tmp_path / "demo"
    code, _, err = run_cli(capsys, monkeypatch, "demo", "--port", str(busy_port), "--out", str(out_dir),
                           "--accounts", "50")
    flat = " ".join(err.split())
    assert code == 3 and f"port {busy_port}" in flat and "make demo PORT=" in flat
    assert not out_dir.exists()  # nothing was generated


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_passes_the_port() -> None:
    dry = subprocess.run(["make", "-n", "demo", "PORT=9123"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "tutela demo --port 9123" in dry.stdout
    dry = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "tutela demo --port 8000" in dry.stdout
