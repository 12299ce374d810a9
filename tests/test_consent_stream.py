"""The stream guard decides on the stored consents: the consent store's accounts and grants
become the guard's subject-state table (Engine.subject_state, `tutela consent state`), with a
real SMTP sink, the packaged rulebook and the real guard. A parent's grant of precise location
keeps a child's exact position in the stream; the revocation coarsens it again, as the decision
for the same act flips."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_inprocess import run_cli
from smtp_sink import Sink, smtp_sink
from tutela.consent import ConsentDesk, SmtpMailer
from tutela.engine import Engine
from tutela.guard.stream_config import Keyring
from tutela.guard.stream_subjects import SubjectGrants, state_from_grants
from tutela.policy.model import Grant
from tutela.store import StateStore

PARENT = "parent@example.org"
KEYS = Keyring.parse("k1:" + "33" * 16)
DAY = dt.date(2026, 12, 3)
AMSTERDAM = (52.3731, 4.8922)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as s:
        yield s


def _desk(url: str, sink: Sink) -> tuple[Engine, ConsentDesk]:
    eng = Engine()
    desk = ConsentDesk(eng.rulebook, StateStore(url), mailer=SmtpMailer(sink.host, sink.port),
                       clock=lambda: dt.datetime(2026, 12, 3, 12, 0))
    eng.consent = desk
    return eng, desk


def _ping(subject: str) -> pa.Table:
    return pa.table({"event_id": pa.array([1], pa.int64()), "subject_id": [subject],
                     "ts": pa.array([dt.datetime(2026, 12, 3, 13, tzinfo=dt.UTC)], pa.timestamp("ms", tz="UTC")),
                     "kind": ["location_ping"], "recipient": ["first_party"],
                     "lat": pa.array([AMSTERDAM[0]]), "lon": pa.array([AMSTERDAM[1]])})


def _position(eng: Engine, state: pa.Table, subject: str) -> tuple[float, float] | None:
    out = eng.stream_guard(state, keys=KEYS).guard(_ping(subject)).table.to_pylist()
    return (out[0]["lat"], out[0]["lon"]) if out else None


def _decision(eng: Engine, subject: str) -> str:
    return eng.decide({"subject": {"id": subject, "jurisdiction": "NL", "age": 12},
                       "act": {"category": "user.location.precise", "use": "essential.service",
                               "at": str(DAY)}}).effect


def test_a_parents_grant_reaches_the_stream_and_its_revocation_takes_it_back(tmp_path: Path, sink: Sink) -> None:
    eng, desk = _desk(f"sqlite:///{tmp_path / 'state.db'}", sink)
    desk.sign_up("child-1", "NL", 12, parent_email=PARENT, scopes=["precise_location"])
    desk.sign_up("teen-1", "GB", 15)  # at the age of consent: no parent asked, no grants yet

    before = eng.subject_state(DAY)
    rows = {r["subject_id"]: r for r in before.table.to_pylist()}
    assert set(rows) == {"child-1", "teen-1"} and rows["child-1"]["grants"] == 0
    assert rows["child-1"]["age"] == 12 and rows["child-1"]["jurisdiction"] == "NL"
    coarse = _position(eng, before.table, "child-1")
    assert coarse is not None and coarse != AMSTERDAM  # coarsened to the grid without a grant
    assert _decision(eng, "child-1") == "deny"

    desk.confirm(sink.token(PARENT))
    granted = eng.subject_state(DAY, out=tmp_path / "state.parquet")
    row = next(r for r in granted.table.to_pylist() if r["subject_id"] == "child-1")
    assert row["grant_by"] == "parent" and row["assurance"] == "verified" and row["grants"] != 0
    assert granted.dropped == {}
    assert pq.read_table(tmp_path / "state.parquet").equals(granted.table)  # what the guard re-reads
    assert _position(eng, granted.table, "child-1") == AMSTERDAM
    assert _decision(eng, "child-1") != "deny"

    desk.revoke("child-1", by="guardian:test", scope="precise_location")
    after = eng.subject_state(DAY)
    assert _position(eng, after.table, "child-1") == coarse
    assert _decision(eng, "child-1") == "deny"
    desk.close()


def test_the_cli_writes_the_state_file_whole(tmp_path: Path, sink: Sink, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    _, desk = _desk(url, sink)
    desk.sign_up("child-1", "NL", 12, parent_email=PARENT, scopes=["precise_location"])
    desk.confirm(sink.token(PARENT))
    desk.close()
    monkeypatch.setenv("TUTELA_STATE", url)
    out = tmp_path / "state.arrow"
    code, stdout, stderr = run_cli(capsys, monkeypatch, "consent", "state", "--out", str(out), "--on", str(DAY),
                                   "--format", "json")
    assert code == 0, stderr
    assert json.loads(stdout)["subjects"] == 1 and json.loads(stdout)["granted_scopes"] >= 1
    with pa.OSFile(str(out), "rb") as fh:
        assert pa.ipc.open_file(fh).read_all().column("subject_id").to_pylist() == ["child-1"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    code, _, stderr = run_cli(capsys, monkeypatch, "consent", "state", "--out", str(tmp_path / "state.csv"))
    assert code == 3 and "must end in .parquet or .arrow" in stderr
    code, _, stderr = run_cli(capsys, monkeypatch, "consent", "state", "--out", str(out), "--on", "03/12/2026")
    assert code == 3 and "YYYY-MM-DD" in stderr


def test_mixed_holders_keep_only_the_holders_grants_and_the_lowest_assurance() -> None:
    bits = ("location", "profiling", "publish")
    grants = [Grant(scopes=("location",), by="parent", assurance="verified", granted_at=DAY),
              Grant(scopes=("profiling", "publish"), by="parent", assurance="confirmed", granted_at=DAY),
              Grant(scopes=("publish",), by="self", assurance="verified", granted_at=DAY),
              Grant(scopes=("location",), by="parent", assurance="verified", granted_at=DAY,
                    revoked_at=DAY),  # revoked that day: not live
              Grant(scopes=("marketing",), by="parent", assurance="verified", granted_at=DAY)]
    build = state_from_grants([SubjectGrants("c", "NL", 12, "parent", grants)], bits, DAY)
    [row] = build.table.to_pylist()
    assert row["grants"] == 0b111 and row["separate"] == 0b001 and row["assurance"] == "confirmed"
    assert build.dropped == {"given by the subject, not by the holder": 1,
                             "a scope the stream guard does not carry": 1}


def test_grants_and_revocations_reach_the_ledger_once_and_pseudonymous(tmp_path: Path, sink: Sink) -> None:
    from tutela.errors import StoreUnavailable
    from tutela.ledger import Ledger
    from tutela.ledger.recorder import Recorder

    eng, desk = _desk(f"sqlite:///{tmp_path / 'state.db'}", sink)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    desk.recorder = Recorder(ledger, eng.rulebook, b"k" * 32)
    desk.sign_up("child-1", "NL", 12, parent_email=PARENT, scopes=["precise_location"])
    desk.confirm(sink.token(PARENT))
    events = [e["body"] for e in ledger.entries("consent_event")]
    assert sorted((e["scope"], e["action"], e["granted_by"]) for e in events) == [
        ("account", "grant", "parent"), ("precise_location", "grant", "parent")]
    assert {e["method"] for e in events} == {"email_plus"} and {e["assurance"] for e in events} == {"verified"}
    desk.revoke("child-1", by="guardian:test", scope="precise_location")
    actions = [(e["body"]["scope"], e["body"]["action"]) for e in ledger.entries("consent_event")]
    assert actions[-1] == ("precise_location", "revoke") and len(actions) == 3
    assert desk.flush_ledger() == 0  # each event once
    raw = (tmp_path / "ledger.db").read_bytes()
    assert b"child-1" not in raw and PARENT.encode() not in raw  # subjects as keyed pseudonyms only
    assert ledger.verify(None).ok

    ledger.close()  # the ledger goes away: a change of grants is refused before anything changes
    (tmp_path / "ledger.db").unlink()
    (tmp_path / "ledger.db").mkdir()
    with pytest.raises(StoreUnavailable):
        desk.revoke("child-1", by="guardian:test", scope="account")
    assert [g.scope for g in desk.grants("child-1", include_history=False)] == ["account"]
    desk.close()


def test_the_evidence_packs_consent_statistics_count_the_stores_requests_and_grants(tmp_path: Path,
                                                                                    sink: Sink) -> None:
    from tutela.consent.stats import consent_stats

    _, desk = _desk(f"sqlite:///{tmp_path / 'state.db'}", sink)
    desk.sign_up("child-1", "NL", 12, parent_email=PARENT, scopes=["precise_location"])
    desk.sign_up("child-2", "NL", 11, parent_email="other@example.org")
    desk.confirm(sink.token(PARENT))
    desk.revoke("child-1", by="guardian:test", scope="precise_location")
    stats = consent_stats(desk.state, DAY, DAY)
    assert stats["funnel"] == {"asked": 2, "link_opened": 1, "granted": 1}
    assert stats["requests"]["by_status"] == {"granted": 1, "pending": 1}
    assert {(g["scope"], g["method"], g["by"], g["grants"]) for g in stats["grants_given"]} == {
        ("account", "email_plus", "parent", 1), ("precise_location", "email_plus", "parent", 1)}
    assert stats["grants_ended"] == [{"scope": "precise_location", "how": "revoked", "grants": 1}]
    assert stats["live_at_end"] == {"account": 1}
    assert consent_stats(desk.state, DAY - dt.timedelta(days=10), DAY - dt.timedelta(days=1))["funnel"]["asked"] == 0
    assert PARENT not in str(stats) and "child-1" not in str(stats)  # counts only
    desk.close()
