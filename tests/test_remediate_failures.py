"""Remediation jobs say only what happened: failed items are recorded, the job goes on, ends
`done_with_errors` naming them, `--resume` retries only those, and receipts match the files."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tutela.clipstream import generate
from tutela.connectors.estate import EstateConfig
from tutela.connectors.sql import SqlConnector
from tutela.engine import Engine
from tutela.repair.jobs import JobPlan, load_plan
from tutela.repair.workflow import read_findings
from tutela.store.state import StateStore

AS_OF = dt.date(2026, 11, 1)
GPS_TAGS = ("GPSLatitude", "GPSLongitude", "GPSPosition", "GPSCoordinates", "Location", "LocationInformation")


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TUTELA_STATE", raising=False)


def estate(engine: Engine, tmp_path: Path, accounts: int = 300, media_files: int = 120) -> tuple[str, Path, Path]:
    db, media = tmp_path / "e.db", tmp_path / "e-media"
    url = f"sqlite:///{db}"
    generate(url, accounts, seed=5, media_dir=media, media_files=media_files)
    found = tmp_path / "f.json"
    found.write_text(json.dumps([f.to_dict() for f in engine.audit(url, as_of=AS_OF)]))
    return url, media, found


def exiftool_located(files: list[Path]) -> set[str]:
    """The files in which exiftool (an independent reader) still finds a location."""
    out = subprocess.run(["exiftool", "-j", "-n", "-G", "-a", *map(str, files)], capture_output=True, text=True,
                         timeout=120, check=False)
    located = set()
    for entry in json.loads(out.stdout or "[]"):
        if any(k.split(":")[-1] in GPS_TAGS for k in entry):
            located.add(entry["SourceFile"])
    return located


def receipt_changes(state: StateStore, job: str) -> list[tuple[str, dict[str, Any], int]]:
    return [(r["subject"], c, json.loads(r["body"])["attempt"]) for r in state.receipts(job_id=job)
            for c in json.loads(r["body"])["changes"]]


def test_receipts_match_exiftool_on_cleanable_uncleanable_and_malformed_files(engine: Engine, tmp_path: Path) -> None:
    url, media, found = estate(engine, tmp_path, accounts=1500, media_files=1500)
    # the photos whose location the plan strips (their rows stay, the location is nulled)
    jpegs = [media / p for p in _strip_plan(engine, url, found) if p.endswith(".jpg") and (media / p).exists()]
    assert len(jpegs) >= 6, "the estate should have located photos to spoil"
    # spoil some: truncated in the middle of the EXIF block, random bytes under a .jpg name, an empty file
    spoilt = {jpegs[0]: jpegs[0].read_bytes()[:60], jpegs[1]: b"\x00not a jpeg at all" * 40, jpegs[2]: b""}
    for path, data in spoilt.items():
        path.write_bytes(data)

    done = engine.remediate(url, found, execute=True, as_of=AS_OF)
    state = StateStore()
    job = state.jobs()[0]
    assert job["status"] == done["status"]
    changes = receipt_changes(state, done["job"])
    failed_files = {str(media / f["item"][0]) for _s, c, _a in changes if c["store"] == "files"
                    for f in c.get("failures", [])}
    cleaned_files = [media / p for p in _file_paths(state, done["job"]) if (media / p).exists()]
    # every file whose receipt says it was cleaned has no location in exiftool's view; every file
    # exiftool still finds located is named as failed
    assert exiftool_located(cleaned_files) <= failed_files
    # files that are not pictures are failed items with a reason, never "changed"; the truncated
    # one is either failed or, if it was cleaned, exiftool finds no location in it
    assert {str(jpegs[1]), str(jpegs[2])} <= failed_files
    assert str(jpegs[0]) in failed_files or not exiftool_located([jpegs[0]])
    assert done["status"] == "done_with_errors" and all(f["reason"] for f in done["failed"])
    assert {media / f["item"][0] for f in done["failed"] if f["store"] == "files"} >= {jpegs[1], jpegs[2]}
    # the other files of the batch were cleaned all the same
    assert len(cleaned_files) > len(failed_files) and not exiftool_located(
        [p for p in cleaned_files if str(p) not in failed_files])
    # the rows of the database were all repaired regardless of the files
    assert engine.audit(url, as_of=AS_OF) == []
    state.close()


def _strip_plan(engine: Engine, url: str, found: Path) -> list[str]:
    """The files a remediation of `found` would strip, from the plan it would freeze."""
    r = engine.remediator(EstateConfig(url))
    stores = r._stores()
    try:
        plan, _ = r.plan(read_findings(found, engine.rulebook), AS_OF, stores)
    finally:
        for c in stores.values():
            c.close()
        r.state.close()
    return _mask_paths(plan)


def _mask_paths(plan: JobPlan) -> list[str]:
    return [p for s, k in zip(plan.steps, plan.keys, strict=True) if s.store == "files" and s.action == "mask"
            for p in k.column(0).to_pylist()]


def _file_paths(state: StateStore, job: str) -> list[str]:
    return _mask_paths(load_plan(job))


def test_an_error_on_one_batch_is_recorded_the_job_goes_on_and_resume_retries_only_it(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _media, found = estate(engine, tmp_path, accounts=250)
    shutil.rmtree(_media)  # this test is about the database: no files store
    monkeypatch.setenv("TUTELA_REMEDIATE_BATCH", "50")
    before = {f.rule: (f.subjects, f.rows) for f in engine.audit(url, as_of=AS_OF)}
    real_apply = SqlConnector.apply
    calls: list[tuple[str, int]] = []

    def flaky(self: SqlConnector, target: Any, keys: Any) -> Any:
        calls.append((target.collection, keys.num_rows))
        if target.collection == "watch_history" and sum(c == "watch_history" for c, _ in calls) == 2:
            from tutela.errors import InputError
            raise InputError("the statement failed: deadlock detected", where="watch_history")
        return real_apply(self, target, keys)

    with mock.patch.object(SqlConnector, "apply", flaky):
        done = engine.remediate(url, found, execute=True, as_of=AS_OF)
    assert done["status"] == "done_with_errors"
    assert [(f["collection"], f["item"], f["reason"]) for f in done["failed"]] == [
        ("watch_history", "the whole batch", "error: the statement failed: deadlock detected")]
    steps = {(c, n) for c, n in calls}
    assert len(calls) > 3 and any(c != "watch_history" for c, _ in steps)  # the job went on after the error
    state = StateStore()
    assert state.job(done["job"])["status"] == "done_with_errors" and "resume" in state.job(done["job"])["note"]
    first = receipt_changes(state, done["job"])
    failed_subjects = {s for s, c, _a in first if c.get("failed")}
    assert failed_subjects and all(c["collection"] == "watch_history" for _s, c, _a in first if c.get("failed"))
    # the failed rows are still open in the estate; everything else was repaired
    left = engine.audit(url, as_of=AS_OF)
    assert left and sum(f.rows for f in left) > 0
    assert all(f.rows <= before[f.rule][1] for f in left)

    calls.clear()
    with mock.patch.object(SqlConnector, "apply", flaky):
        again = engine.remediation_resume(done["job"])
    assert again["status"] == "done" and again["attempts"] == 2
    assert {c for c, _ in calls} == {"watch_history"} and len(calls) == 1  # only the failed batch was retried
    assert engine.audit(url, as_of=AS_OF) == []
    second = [(s, c) for s, c, a in receipt_changes(state, done["job"]) if a == 2]
    assert {s for s, _c in second} == failed_subjects and all(not c.get("failed") and c["rows"] > 0
                                                              for _s, c in second)
    fixed = {f.rule: (f.subjects, f.rows) for f in engine.audit(url, as_of=AS_OF, include_remediated=True)}
    assert fixed == before  # the receipts of both attempts add up to what the audit had found
    assert state.verify_receipts()[1] == []
    state.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_a_state_store_of_the_earlier_schema_is_upgraded_with_its_receipt_chain(tmp_path: Path, kind: str) -> None:
    import sqlalchemy as sa

    from estate_fixture import server_database
    from tutela.store.state import GENESIS, canonical, chain

    old = sa.MetaData()
    v1 = sa.Table("receipts", old, sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
                  sa.Column("job_id", sa.String(40), nullable=False),
                  sa.Column("estate_key", sa.String(64), nullable=False, index=True),
                  sa.Column("subject", sa.String(64), nullable=False), sa.Column("body", sa.Text, nullable=False),
                  sa.Column("digest", sa.String(64), nullable=False), sa.Column("prev", sa.String(64), nullable=False),
                  sa.UniqueConstraint("job_id", "subject", name="one_receipt_per_subject"))

    def run(url: str) -> None:
        eng = sa.create_engine(url)
        old.create_all(eng)
        prev, rows = GENESIS, []
        for sid in ("1", "2"):
            body = canonical({"job": "j1", "subject": sid, "changes": []})
            rows.append({"job_id": "j1", "estate_key": "k", "subject": sid, "body": body,
                         "digest": chain(prev, body), "prev": prev})
            prev = rows[-1]["digest"]
        with eng.begin() as c:
            c.execute(v1.insert(), rows)
        eng.dispose()
        state = StateStore(url)
        assert state.verify_receipts() == (2, [])
        assert [r["attempt"] for r in state.receipts(job_id="j1")] == [1, 1]
        assert state.add_receipts("j1", "k", [("1", {"job": "j1", "subject": "1", "attempt": 2, "changes": []})]) == 1
        assert state.add_receipts("j1", "k", [("1", {"job": "j1", "subject": "1", "attempt": 2, "changes": []})]) == 0
        assert state.verify_receipts() == (3, []) and [r["seq"] for r in state.receipts()] == [1, 2, 3]
        state.close()
        StateStore(url).close()  # upgrading twice changes nothing

    if kind == "sqlite":
        run(f"sqlite:///{tmp_path / 'old-state.db'}")
    else:
        with server_database(kind) as url:
            run(url)
