"""The ledger's callers: a demo-like flow (rights requests over HTTP, a remediation job, API
decisions, a stream batch) writes its entries, subjects only as pseudonyms; `tutela ledger
verify` passes after it and still names an entry edited afterwards."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cli_inprocess import run_cli
from test_requests_api import ALICE, BOB, TOKENS, auth
from test_requests_estate import Estate, make_estate
from tutela.api import create_app
from tutela.engine import Engine
from tutela.errors import InputError
from tutela.guard.stream_synth import synthetic_events, synthetic_state
from tutela.ledger import Ledger

KEY = "pseudonym-key-for-tests-0123456789"
DENY = {"subject": {"jurisdiction": "IT", "age": 13, "grants": [{"scopes": ["personalization"], "by": "self"}]},
        "act": {"category": "user.behavior.media_consumption", "use": "personalize.content.profiled",
                "at": "2026-12-01"}}
CONSENT_ALLOW = {"subject": {"jurisdiction": "PT", "age": 13,
                             "grants": [{"scopes": ["personalization"], "by": "self"}]},
                 "act": {"category": "user.behavior.media_consumption", "use": "personalize.content.profiled",
                         "at": "2026-12-01"}}


@pytest.fixture
def ledgered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Estate, str]]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("TUTELA_LEDGER_URL", url)
    monkeypatch.setenv("TUTELA_LEDGER_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("TUTELA_STREAM_KEYS", "k1:" + "ab" * 16)
    with make_estate("sqlite", tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state.url)
        monkeypatch.setenv("TUTELA_STAFF_TOKENS", TOKENS)
        yield e, url


def _entries(url: str) -> list[dict[str, Any]]:
    with Ledger(url, create=False) as ledger:
        return list(ledger.entries())


def test_a_demo_like_flow_writes_every_kind_and_verifies(ledgered: tuple[Estate, str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    estate, url = ledgered
    engine = Engine()
    client = TestClient(create_app(engine, estate=estate.config()))
    base = "/v1/requests"
    access = client.post(base, headers=auth(ALICE), json={"kind": "access", "subject": "1"}).json()["id"]
    assert client.post(f"{base}/{access}/approve", headers=auth(BOB)).status_code == 200
    assert client.post(f"{base}/{access}/run", headers=auth(BOB)).json()["status"] == "done"
    erase = client.post(base, headers=auth(ALICE), json={"kind": "erasure", "subject": "2", "scope": "data"}).json()
    assert client.post(f"{base}/{erase['id']}/approve", headers=auth(BOB)).status_code == 200
    assert client.post(f"{base}/{erase['id']}/run", headers=auth(BOB)).json()["status"] == "done"
    other = client.post(base, headers=auth(ALICE), json={"kind": "access", "subject": "3"}).json()["id"]
    extended = client.post(f"{base}/{other}/extend", headers=auth(BOB), json={"reason": "several accounts"})
    assert extended.status_code == 200 and extended.json()["extended"]
    rejected = client.post(f"{base}/{other}/reject", headers=auth(BOB), json={"reason": "not the parent"})
    assert rejected.status_code == 200
    assert client.post("/v1/decisions", json=DENY).json()["effect"] == "deny"
    assert client.post("/v1/decisions", json=CONSENT_ALLOW).json()["effect"] != "deny"
    plain = {**CONSENT_ALLOW, "act": {"category": "user.account", "use": "essential.service", "at": "2026-12-01"}}
    assert client.post("/v1/decisions", json={"requests": [plain, DENY]}).status_code == 200
    findings = tmp_path / "findings.json"
    found = engine.audit(estate.url, as_of=dt.date(2026, 11, 1))
    findings.write_text(json.dumps([f.to_dict() for f in found], default=str))
    job = engine.remediate(estate.url, findings, execute=True, media=estate.media, redis=estate.config().redis,
                           redis_prefix=estate.prefix, as_of=dt.date(2026, 11, 1))
    metrics = client.get("/metrics").text  # the job's progress, as an operator sees it
    planned = sum(s["rows"] for s in job["steps"])
    assert f'tutela_remediation_rows{{job="{job["job"]}",kind="done",status="done"}}' in metrics
    assert f'tutela_remediation_rows{{job="{job["job"]}",kind="planned",status="done"}} {float(planned)}' in metrics
    guard = engine.stream_guard(synthetic_state(50))
    guard.guard(synthetic_events(50, 400))

    entries = _entries(url)
    kinds = Counter(e["kind"] for e in entries)
    assert kinds["rulebook_version"] == 1
    assert kinds["rights_request"] == 3 and kinds["rights_fulfilment"] == 2
    decided = Counter(e["body"]["decision"] for e in entries if e["kind"] == "rights_approval")
    assert decided == {"approved": 2, "extended": 1, "rejected": 1}
    ext = next(e["body"] for e in entries if e["kind"] == "rights_approval" and e["body"]["decision"] == "extended")
    assert ext["deadline"] == extended.json()["due"] and ext["reason"] == "reason_given" and ext["by"] == "bob"
    api = [e["body"] for e in entries if e["kind"] == "decision" and e["body"]["source"] == "api"]
    effects = sorted((b["effect"] != "deny", b["basis"]) for b in api)
    assert effects == [(False, "consent"), (False, "consent"), (True, "consent")]  # the plain allow is not written
    stream = [e["body"] for e in entries if e["kind"] == "decision" and e["body"]["source"] == "stream"]
    assert len(stream) == 1 and stream[0]["total"] == 400 and stream[0]["allow"] + stream[0]["deny"] == 400
    assert kinds["remediation_receipt"] >= 1 and kinds["erasure_receipt"] > job["receipts"]
    erased = [e["body"] for e in entries if e["kind"] == "erasure_receipt" and e["body"]["job_id"] == erase["id"]]
    assert erased and all(b["subject"] == Ledger.pseudonym("2", KEY.encode()) for b in erased)
    for e in entries:  # subjects only as pseudonyms; no e-mail address anywhere
        body = e["body"]
        assert isinstance(body, dict)
        if body.get("subject") is not None:
            assert str(body["subject"]).startswith("ps:")
        assert "@" not in json.dumps(body)

    code, out, _ = run_cli(capsys, monkeypatch, "ledger", "verify", "--db", url)
    assert code == 0 and "ok" in out
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:  # a rights request's deadline moved afterwards
        seq, raw = db.execute("SELECT seq, entry FROM ledger_entries WHERE instr(entry, ?) > 0 LIMIT 1",
                              (b'"kind":"rights_request"',)).fetchone()
        edited = raw.replace(b'"deadline":"2', b'"deadline":"1')
        db.execute("UPDATE ledger_entries SET entry = ? WHERE seq = ?", (edited, seq))
    code, out, _ = run_cli(capsys, monkeypatch, "ledger", "verify", "--db", url, "--format", "json")
    assert code == 1 and json.loads(out)["first_bad"]["seq"] == seq


def test_the_rulebook_version_is_written_only_when_it_changes(ledgered: tuple[Estate, str]) -> None:
    _, url = ledgered
    assert Engine().recorder is not None and Engine().recorder is not None
    versions = [e for e in _entries(url) if e["kind"] == "rulebook_version"]
    assert len(versions) == 1 and versions[0]["body"]["version"] == Engine().version
    assert len(versions[0]["body"]["digest"]) == 64


def test_a_ledger_without_a_pseudonym_key_refuses_to_start(ledgered: tuple[Estate, str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUTELA_LEDGER_PSEUDONYM_KEY")
    with pytest.raises(InputError) as err:
        _ = Engine().recorder
    assert err.value.where == "TUTELA_LEDGER_PSEUDONYM_KEY"


def test_no_ledger_configured_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUTELA_LEDGER_URL", raising=False)
    engine = Engine()
    assert engine.recorder is None
    assert engine.record_decisions([DENY], [engine.decide(DENY)]) == 0


def test_an_age_signal_read_is_recorded(ledgered: tuple[Estate, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, url = ledgered
    engine = Engine()
    signal = {"ageRangeDeclaration": "guardianDeclared", "lowerBound": 13, "upperBound": 15, "subject": "install-42"}
    try:
        record = engine.age_record(signal, "apple")
    except InputError as exc:  # the signal's shape is the reader's; this test is about the ledger
        pytest.fail(f"the sample Apple signal no longer reads: {exc}")
    ages = [e["body"] for e in _entries(url) if e["kind"] == "age_assurance"]
    assert ages == [{"subject": Ledger.pseudonym("install-42", KEY.encode()), "method": record.method,
                     "result": "pass", "age_band": "13-15", "assurance": "parent_declared", "jurisdiction": None}]


def test_a_ledger_that_stops_answering_is_503_and_nothing_is_reported_recorded(
        ledgered: tuple[Estate, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    estate, _ = ledgered
    engine = Engine()
    client = TestClient(create_app(engine, estate=estate.config()))
    assert engine.recorder is not None

    def down(*_a: object, **_k: object) -> None:
        raise OperationalError("connect", None, ConnectionRefusedError("refused"))

    monkeypatch.setattr(engine.recorder.ledger.store, "writing", down)
    monkeypatch.setattr(engine.recorder.ledger.store, "last_seq", down)
    r = client.post("/v1/decisions", json=DENY)
    assert r.status_code == 503 and r.json()["where"] == "TUTELA_LEDGER_URL"
    made = client.post("/v1/requests", headers=auth(ALICE), json={"kind": "access", "subject": "1"})
    assert made.status_code == 503
    assert client.get("/v1/requests", headers=auth(ALICE)).json() == []  # the request was not created unrecorded


def test_the_recorder_on_postgresql(ledgered: tuple[Estate, str]) -> None:
    import uuid

    import sqlalchemy as sa

    from tutela.ledger.recorder import Recorder

    ledger = Ledger("postgresql+psycopg://postgres@127.0.0.1:5432/test", prefix=f"evt_{uuid.uuid4().hex[:8]}_")
    try:
        engine = Engine()
        rec = Recorder(ledger, engine.rulebook, KEY.encode())
        assert rec.rulebook_version() is True and rec.rulebook_version() is False
        rec.stream_batch({("keep", "event", ""): 7, ("drop", "event", "no-basis"): 3}, "run.1")
        kinds = [e["kind"] for e in ledger.entries()]
        assert kinds == ["rulebook_version", "decision"] and ledger.verify(None).ok
    finally:
        with ledger.store.engine.begin() as c:
            for t in (ledger.store.entries, ledger.store.checkpoints):
                c.execute(sa.text(f"DROP TABLE IF EXISTS {t.name}"))
        ledger.close()


def _start_engine(url: str) -> bool:
    import os

    os.environ["TUTELA_LEDGER_URL"] = url
    os.environ["TUTELA_LEDGER_PSEUDONYM_KEY"] = KEY
    return Engine().recorder is not None


def test_engines_starting_together_record_a_new_rulebook_once(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    url = f"sqlite:///{tmp_path / 'together.db'}"
    with ProcessPoolExecutor(4) as pool:
        assert all(pool.map(_start_engine, [url] * 4))
    assert [e["kind"] for e in _entries(url)] == ["rulebook_version"]
