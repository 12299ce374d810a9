"""Evidence packs: build -> verify ok; every kind of tampering named by file; bad dates are clear
errors; the API hands the pack to staff only; the summary page opens offline in Chromium."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cli_inprocess import run_cli
from test_requests_api import ALICE, BOB, TOKENS, auth
from test_requests_estate import Estate, make_estate
from tutela.api import create_app
from tutela.engine import Engine
from tutela.models import new_ledger_key

KEY = "pseudonym-key-for-tests-0123456789"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    monkeypatch.setenv("TUTELA_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("TUTELA_LEDGER_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("TUTELA_LEDGER_KEY", new_ledger_key())
    monkeypatch.delenv("TUTELA_LEDGER_PUBLIC_KEYS", raising=False)
    with make_estate("sqlite", tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state.url)
        monkeypatch.setenv("TUTELA_STAFF_TOKENS", TOKENS)
        client = TestClient(create_app(Engine(), estate=e.config()))  # one answered erasure in the pack
        rid = client.post("/v1/requests", headers=auth(ALICE), json={"kind": "erasure", "subject": "2",
                                                                      "scope": "data"}).json()["id"]
        client.post(f"/v1/requests/{rid}/approve", headers=auth(BOB))
        assert client.post(f"/v1/requests/{rid}/run", headers=auth(BOB)).json()["status"] == "done"
        yield e


def _build(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, estate: Estate,
           out: Path) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "evidence", "--since", "2020-01-01", "--until", "2030-12-31",
                           "--estate", estate.url, "--cohort-created-from", "2025-01-01",
                           "--cohort-created-until", "2025-01-02", "--as-of", "2026-11-01", "--out", str(out))
    assert code == 0, err


def _verify(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, pack: Path) -> tuple[int, dict]:
    code, out, _ = run_cli(capsys, monkeypatch, "evidence", "verify", str(pack), "--format", "json")
    return code, json.loads(out)


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    for name, data in change.items():
        if data is None:
            files.pop(name)
        else:
            files[name] = data
    with zipfile.ZipFile(dst, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)


def test_round_trip_and_what_the_pack_holds(estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pack = tmp_path / "pack.zip"
    _build(capsys, monkeypatch, estate, pack)
    code, v = _verify(capsys, monkeypatch, pack)
    assert code == 0 and v["ok"] and v["signed"] and v["first_bad"] is None
    with zipfile.ZipFile(pack) as z:
        names = set(z.namelist())
        ropa, rights = json.loads(z.read("ropa.json")), json.loads(z.read("rights.json"))
        findings, ledger = json.loads(z.read("findings.json")), json.loads(z.read("ledger.json"))
        consent, receipts = json.loads(z.read("consent.json")), json.loads(z.read("receipts.json"))
        manifest = json.loads(z.read("manifest.json"))
        text = b"".join(z.read(n) for n in names).decode()
    assert {"index.html", "manifest.json", "manifest.sig", "ropa.json", "rulebook.json"} <= names
    assert ropa["citation"]["section"] == "Art. 30(1)" and ropa["controller"] == "not recorded in the data map"
    assert {p["country"] for p in ropa["third_country_transfers"]["recipients"]} == {"IN", "US"}
    assert any(a["erasure_time_limit"] == "90 days" for a in ropa["activities"])
    assert [r["deadline"] for r in rights["requests"]] == ["met"] and rights["requests"][0]["subject"].startswith("ps:")
    # accounts 1 and 2 were created in the cohort's two days; 2's account row went with its erasure
    assert findings["subjects_in_cohort"] == 1 and findings["created_from"] == "2025-01-01"
    assert ledger["verification"]["ok"] and ledger["entries_in_period"]["rights_request"] == 1
    verified = ledger["verification"]
    assert ledger["signed_for_this_pack"]["seq"] == verified["head_seq"] == verified["proven_upto"]
    assert consent["consent_store"]["requests"] == {"total": 0, "by_status": {}}  # searched: none in this estate
    assert consent["not_searched"] == []
    assert receipts["chain"]["ok"] and receipts["receipts"]
    assert set(manifest["files"]) == names - {"manifest.json", "manifest.sig"}
    assert "child2@example.test" not in text  # ids and counts, never the data


@pytest.mark.parametrize("kind", ["changed", "missing", "added", "manifest", "signature"])
def test_tampering_is_named(kind: str, estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    pack, bad = tmp_path / "pack.zip", tmp_path / "bad.zip"
    _build(capsys, monkeypatch, estate, pack)
    with zipfile.ZipFile(pack) as z:
        rights, manifest = z.read("rights.json"), json.loads(z.read("manifest.json"))
    change: dict[str, bytes | None] = {
        "changed": {"rights.json": rights.replace(b'"met"', b'"missed"')},
        "missing": {"receipts.json": None},
        "added": {"extra.txt": b"slipped in"},
        "manifest": {"manifest.json": json.dumps({**manifest, "files": {**manifest["files"],
                                                                        "rights.json": "0" * 64}}).encode()},
        "signature": {"manifest.sig": None},
    }[kind]
    _rewrite(pack, bad, change)
    code, v = _verify(capsys, monkeypatch, bad)
    expected = {"changed": "rights.json", "missing": "receipts.json", "added": "extra.txt",
                "manifest": "rights.json", "signature": "manifest.sig"}[kind]
    assert code == 1 and not v["ok"] and v["first_bad"]["file"] == expected


def test_a_re_signed_manifest_fails_against_a_pinned_key(estate: Estate, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pack = tmp_path / "pack.zip"
    _build(capsys, monkeypatch, estate, pack)
    monkeypatch.setenv("TUTELA_LEDGER_KEY", new_ledger_key())  # someone else's key: not trusted
    code, v = _verify(capsys, monkeypatch, pack)
    assert code == 1 and v["first_bad"]["file"] == "manifest.sig" and "not a trusted key" in v["first_bad"]["problem"]


@pytest.mark.parametrize(("args", "where"), [
    (["--since", "2026-02-30", "--until", "2026-03-01"], "--since"),
    (["--since", "2026-03-01", "--until", "01/04/2026"], "--until"),
    (["--since", "2026-03-01", "--until", "2026-02-01"], "--until"),
    (["--since", "2026-01-01", "--until", "2026-02-01", "--cohort-created-from", "2020-01-01"],
     "--cohort-created-until"),
])
def test_malformed_dates_are_clear_errors(args: list[str], where: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, "evidence", *args, "--out", str(tmp_path / "p.zip"), "--format", "json")
    assert code == 3 and json.loads(out)["where"] == where and not (tmp_path / "p.zip").exists()


def test_not_a_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    code, _, err = run_cli(capsys, monkeypatch, "evidence", "verify", str(junk))
    assert code == 3 and "not a zip file" in err


def test_the_api_gives_the_pack_to_staff_only(estate: Estate) -> None:
    client = TestClient(create_app(Engine(), estate=estate.config()))
    assert client.get("/v1/evidence?since=2026-01-01&until=2026-12-31").status_code == 401
    bad = client.get("/v1/evidence?since=2026-1-1&until=2026-12-31", headers=auth(ALICE))
    assert bad.status_code == 422 and bad.json()["where"] == "query.since"
    back = client.get("/v1/evidence?since=2026-12-31&until=2026-01-01", headers=auth(ALICE))
    assert back.status_code == 422 and back.json()["where"] == "query.until"
    half = client.get("/v1/evidence?since=2026-01-01&until=2026-12-31&cohort_created_from=2025-01-01",
                      headers=auth(ALICE))
    assert half.status_code == 422 and half.json()["where"] == "query.cohort_created_until"
    got = client.get("/v1/evidence?since=2020-01-01&until=2030-12-31", headers=auth(ALICE))
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(got.content)) as z:
        assert "index.html" in z.namelist()
    p = Path(estate.media).parent / "api-pack.zip"  # the same check the CLI runs, on the downloaded bytes
    p.write_bytes(got.content)
    assert Engine().evidence.verify(p).ok


def test_the_summary_opens_offline_in_chromium(estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("Chromium is not installed (`apt-get install -y chromium`)")
    pack = tmp_path / "pack.zip"
    _build(capsys, monkeypatch, estate, pack)
    html = tmp_path / "index.html"
    with zipfile.ZipFile(pack) as z:
        html.write_bytes(z.read("index.html"))
    text = html.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "src=" not in text  # nothing to fetch
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
             "--proxy-bypass-list=<-loopback>"]  # any request to the network would fail
    dom = subprocess.run([browser, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="ledger-status">verified<' in dom.stdout and "Record of processing activities" in dom.stdout
    assert "Parental consent requests opened in the period" in dom.stdout  # every store searched: none named
    DOCS.mkdir(parents=True, exist_ok=True)
    shot = DOCS / "evidence-summary.png"
    subprocess.run([browser, *flags, "--hide-scrollbars", "--window-size=1200,2200", f"--screenshot={shot}",
                    html.as_uri()], capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(shot) as img:
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50  # drawn, not blank


def test_a_rule_change_on_the_first_day_of_the_period_is_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUTELA_LEDGER_URL", raising=False)
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    engine = Engine()
    coppa = next(c for c in engine.rules_diff(dt.date(2026, 1, 1),
                                               dt.date(2026, 12, 31)) if c.change == "starts")
    day = coppa.on
    data = engine.evidence.build(day, day)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        rulebook = json.loads(z.read("rulebook.json"))
        manifest = json.loads(z.read("manifest.json"))
    assert coppa.id in {c["id"] for c in rulebook["changes"]}
    assert any(s.startswith("state store: none exists") for s in manifest["not_searched"])
    assert not (tmp_path / "home").exists()  # a pack only reads: it creates no state store or ledger


def test_one_flipped_byte_anywhere_is_found(estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tutela.evidence.pack import verify  # the check `tutela evidence verify` runs, on the files in memory

    pack = tmp_path / "pack.zip"
    _build(capsys, monkeypatch, estate, pack)
    with zipfile.ZipFile(pack) as z:
        files = {n: z.read(n) for n in z.namelist()}
    for name, data in sorted(files.items()):
        at = len(data) // 2
        flipped = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
        got = verify({**files, name: flipped})
        assert not got.ok, name
        assert got.first_bad is not None
        if name == "manifest.sig":
            assert got.first_bad["file"] == "manifest.sig"
        elif name != "manifest.json":  # a flip in the manifest names the file whose hash it changed, or the manifest
            assert got.first_bad == {"file": name, "problem": "its SHA-256 does not match the manifest (changed)"}
