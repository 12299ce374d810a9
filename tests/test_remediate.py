"""Remediation end to end on generated ClipStream estates: dry run, execute, re-audit, evidence kept."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import redis
import sqlalchemy as sa
from PIL import Image

from estate_fixture import server_database
from tutela.clipstream import generate
from tutela.clipstream.cache import write_cache
from tutela.connectors.urls import estate_id
from tutela.engine import Engine
from tutela.errors import InputError
from tutela.query.source import EstateSource
from tutela.store.state import StateStore

AS_OF = dt.date(2026, 11, 1)
TABLES = ("accounts", "profiles", "media", "watch_history", "location_pings", "ad_impressions", "messages",
          "follows", "face_templates", "consents", "processors", "transfers")


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TUTELA_STATE", raising=False)


def make_estate(url: str, media: Path | None, accounts: int = 400) -> None:
    generate(url, accounts, seed=3, media_dir=media, media_files=80 if media else 0)


def findings_file(engine: Engine, url: str, path: Path) -> list[dict[str, Any]]:
    found = [f.to_dict() for f in engine.audit(url, as_of=AS_OF)]
    path.write_text(json.dumps(found))
    return found


def table_digests(url: str) -> dict[str, str]:
    """sha256 of each table's rows in key order, read through Tutela's typed reader (any backend)."""
    src = EstateSource.open(url)
    try:
        out = {}
        for t in TABLES:
            rows = src.read(t, sorted(src._columns[t])).to_pylist()
            lines = sorted("|".join(f"{k}={_norm(r[k])}" for k in sorted(r)) for r in rows)
            out[t] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        return out
    finally:
        src.close()


def _norm(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6f}"
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=None, microsecond=0).isoformat(sep=" ")
    return "" if v is None else str(v)


def folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def test_remediation_end_to_end_sqlite(engine: Engine, tmp_path: Path) -> None:
    db, media = tmp_path / "e.db", tmp_path / "e-media"
    url = f"sqlite:///{db}"
    make_estate(url, media)
    found = findings_file(engine, url, tmp_path / "f.json")
    assert {f["rule"] for f in found} >= {"EU-GDPR.art44-46", "EU-GDPR.art25-2", "EU-GDPR.art5-1-e"}
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    media_before = folder_digest(media)
    transfers_before = table_digests(url)["transfers"]

    dry = engine.remediate(url, tmp_path / "f.json", as_of=AS_OF)
    assert dry["dry_run"] and hashlib.sha256(db.read_bytes()).hexdigest() == before  # nothing written
    assert folder_digest(media) == media_before
    # the rows derived again from the estate are exactly the rows the audit counted, per rule
    assert {r: (v["subjects"], v["rows"]) for r, v in dry["rules"].items()} == {
        f["rule"]: (f["subjects"], f["rows"]) for f in found}
    actions = {(s["store"], s["collection"], s["action"]) for s in dry["steps"]}
    assert ("estate", "profiles", "mask") in actions  # public-by-default profiles made private
    assert ("estate", "media", "mask") in actions  # precise location nulled, the video kept
    assert ("registry", "transfers", "settle") in actions

    done = engine.remediate(url, tmp_path / "f.json", execute=True, as_of=AS_OF)
    assert done["status"] == "done" and done["receipts"] == dry["subjects"]
    assert [s["rows"] for s in done["steps"]] == [s["rows"] for s in dry["steps"]]
    assert engine.audit(url, as_of=AS_OF) == []  # nothing open any more
    fixed = {f.rule: (f.subjects, f.rows) for f in engine.audit(url, as_of=AS_OF, include_remediated=True)
             if f.status == "remediated"}
    assert fixed == {f["rule"]: (f["subjects"], f["rows"]) for f in found}
    assert table_digests(url)["transfers"] == transfers_before  # evidence kept

    state = StateStore()
    checked, bad = state.verify_receipts()
    assert checked == done["receipts"] and bad == []
    routes, asked = state.blocked(estate_id(url)), state.erasure_requests(estate_id(url))
    # one blocked route per (recipient, source collection), one erasure request per recipient
    assert {r["recipient"] for r in routes} == {a["recipient"] for a in asked}
    assert all(json.loads(a["body"])["subjects"] and a["digest"] for a in asked)
    with sqlite3.connect(db) as c:
        paths = [p for (p,) in c.execute("SELECT path FROM media WHERE lat IS NULL")]
    located = [media / p for p in paths if (media / p).suffix == ".jpg" and (media / p).exists()]
    assert located, "the estate should have photos whose location was nulled"
    for f in located:  # files of rows whose location was nulled carry no GPS any more
        assert 34853 not in Image.open(f).getexif(), f  # GPSInfo tag

    # the same findings file again: the rows are derived anew, nothing is left to change
    again = engine.remediate(url, tmp_path / "f.json", as_of=AS_OF)
    assert again["steps"] == [] and again["subjects"] == 0
    state.close()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb", "parquet"])
def test_remediation_same_end_state_on_every_backend(engine: Engine, tmp_path: Path, kind: str) -> None:
    ref = f"sqlite:///{tmp_path / 'ref.db'}"
    make_estate(ref, None, accounts=200)
    findings_file(engine, ref, tmp_path / "f.json")
    engine.remediate(ref, tmp_path / "f.json", execute=True, as_of=AS_OF)
    want = table_digests(ref)

    def run(url: str) -> None:
        make_estate(url, None, accounts=200)
        findings_file(engine, url, tmp_path / "g.json")
        engine.remediate(url, tmp_path / "g.json", execute=True, as_of=AS_OF)
        assert engine.audit(url, as_of=AS_OF) == []
        assert table_digests(url) == want

    if kind == "parquet":
        run(f"parquet://{tmp_path / 'lake'}")
    else:
        with server_database(kind) as url:
            run(url)


def test_remediation_erases_cache_keys_of_deleted_accounts(engine: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    make_estate(url, None, accounts=200)
    prefix = f"tutela-test-{uuid.uuid4().hex[:8]}:"
    with sqlite3.connect(tmp_path / "e.db") as c:
        ids = [r[0] for r in c.execute("SELECT account_id FROM accounts")]
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        write_cache("redis://127.0.0.1:6379/0", pa.table({"account_id": ids}), key_prefix=prefix, seed=1)
        findings_file(engine, url, tmp_path / "f.json")
        out = engine.remediate(url, tmp_path / "f.json", execute=True, as_of=AS_OF, redis="redis://127.0.0.1:6379/0",
                               redis_prefix=prefix)
        with sqlite3.connect(tmp_path / "e.db") as c:
            kept = {r[0] for r in c.execute("SELECT account_id FROM accounts")}
        gone = set(ids) - kept
        assert gone, "the estate should have accounts to erase"
        assert any(s["store"] == "redis" for s in out["steps"])
        for aid in ids:
            exists = r.exists(f"{prefix}clipstream:session:{aid}")
            assert bool(exists) == (aid in kept), aid
    finally:
        for k in r.scan_iter(f"{prefix}*"):
            r.delete(k)
        r.close()


def test_bad_findings_and_missing_columns_fail_before_any_write(engine: Engine, tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    url = f"sqlite:///{db}"
    make_estate(url, None, accounts=100)
    findings_file(engine, url, tmp_path / "f.json")
    for text, where in (("{]", "f.json"), ('{"rule": "x"}', "f.json"), ('[{"rule": "NO-SUCH.rule"}]', "[0].rule"),
                        ('[{"subjects": 3}]', "[0]")):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(InputError) as err:
            engine.remediate(url, bad, execute=True, as_of=AS_OF)
        assert where in (err.value.where or "") or "bad.json" in (err.value.where or ""), err.value.to_dict()
    with sqlite3.connect(db) as c:
        c.execute("ALTER TABLE media DROP COLUMN lat")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(InputError) as err:
        engine.remediate(url, tmp_path / "f.json", execute=True, as_of=AS_OF)
    assert "media.lat" in err.value.message
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    cli = subprocess.run([sys.executable, "-m", "tutela", "remediate", "--estate", url, "--findings",
                          str(tmp_path / "f.json"), "--execute", "--dry-run"], capture_output=True, text=True,
                         timeout=120, env={**os.environ})
    assert cli.returncode == 3 and "exactly one of" in cli.stderr and "Traceback" not in cli.stderr


def test_cli_dry_run_and_execute(tmp_path: Path) -> None:
    db, media = tmp_path / "e.db", tmp_path / "e-media"
    url = f"sqlite:///{db}"
    make_estate(url, media, accounts=150)
    env = {**os.environ, "COLUMNS": "200"}
    audit = subprocess.run([sys.executable, "-m", "tutela", "audit", "--estate", url, "--as-of", "2026-11-01",
                            "--format", "json"], capture_output=True, text=True, timeout=300, env=env)
    (tmp_path / "f.json").write_text(audit.stdout)
    dry = subprocess.run([sys.executable, "-m", "tutela", "remediate", "--estate", url, "--findings",
                          str(tmp_path / "f.json"), "--as-of", "2026-11-01", "--dry-run"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: nothing was written" in dry.stdout and "by country" in dry.stdout
    run = subprocess.run([sys.executable, "-m", "tutela", "remediate", "--estate", url, "--findings",
                          str(tmp_path / "f.json"), "--as-of", "2026-11-01", "--execute", "--format", "json"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)["job"]
    listed = subprocess.run([sys.executable, "-m", "tutela", "remediate", "--list", "--format", "json"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert [j["status"] for j in json.loads(listed.stdout) if j["job_id"] == job] == ["done"]
    again = subprocess.run([sys.executable, "-m", "tutela", "audit", "--estate", url, "--as-of", "2026-11-01",
                            "--format", "json", "--all"], capture_output=True, text=True, timeout=300, env=env)
    statuses = {f["status"] for f in json.loads(again.stdout)}
    assert statuses == {"remediated"}
    shutil.rmtree(media)


def test_lost_connection_pauses_the_job_and_resume_completes_it(engine: Engine, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_REMEDIATE_BATCH", "25")
    ref = f"sqlite:///{tmp_path / 'ref.db'}"
    make_estate(ref, None, accounts=200)
    findings_file(engine, ref, tmp_path / "f.json")
    engine.remediate(ref, tmp_path / "f.json", execute=True, as_of=AS_OF)
    want = table_digests(ref)
    with server_database("postgresql") as url:
        make_estate(url, None, accounts=200)
        findings_file(engine, url, tmp_path / "g.json")
        name = url.rsplit("/", 1)[1]
        admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
        calls = []

        def cut(msg: str, done: int, total: int) -> None:  # the server drops the job's connections mid-run
            calls.append(done)
            if len(calls) == 4:
                with admin.connect() as c:
                    c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": name})

        with pytest.raises(InputError) as err:
            engine.remediate(url, tmp_path / "g.json", execute=True, as_of=AS_OF, progress=cut)
        assert "paused" in err.value.message and "--resume" in (err.value.hint or "")
        job = next(j for j in engine.remediation_jobs() if j["status"] == "paused")
        assert engine.audit(url, as_of=AS_OF) != []  # half done
        with pytest.raises(InputError, match="did not finish"):  # a new plan from a half-repaired estate: refused
            engine.remediate(url, tmp_path / "g.json", execute=True, as_of=AS_OF)
        done = engine.remediation_resume(job["job_id"], estate=url)
        assert done["status"] == "done"
        assert engine.audit(url, as_of=AS_OF) == []
        assert table_digests(url) == want
        admin.dispose()
