"""Kill `tutela remediate --execute` with SIGKILL at random points, resume, compare end states.

    python bench/kill_resume.py [--kills 100] [--accounts 400] [--quick] [--format json]

Each round copies the same generated ClipStream estate (SQLite + media folder), starts a real
`tutela remediate --execute` process, waits until its job is running, kills it after a random
delay, then resumes the job (`--resume JOB`, or a fresh `--execute` when the kill came before
the job existed). The final state of every table and of the media folder must equal an
uninterrupted run's, byte for byte (checksums). tests/test_kill_resume.py runs 20 rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

AS_OF = "2026-11-01"
BATCH = "10"  # keys per apply: many checkpoints to land between


def digests(db: Path, media: Path) -> dict[str, str]:
    """sha256 per table (rows in key order) and of the media folder (paths and bytes)."""
    out = {}
    with sqlite3.connect(db) as c:
        for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
            h = hashlib.sha256()
            for row in c.execute(f"SELECT * FROM {t} ORDER BY 1, 2"):
                h.update(repr(row).encode())
            out[t] = h.hexdigest()
    h = hashlib.sha256()
    for f in sorted(p for p in media.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(media)).encode() + b"\0" + f.read_bytes())
    out["media/"] = h.hexdigest()
    return out


@contextmanager
def home(path: Path) -> Any:
    old = os.environ.get("TUTELA_HOME")
    os.environ["TUTELA_HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TUTELA_HOME", None)
        else:
            os.environ["TUTELA_HOME"] = old


def prepare(work: Path, accounts: int) -> tuple[Path, Path, Path]:
    """The base estate (never changed), its media folder and the audit's findings file."""
    from tutela.clipstream import generate
    from tutela.engine import Engine

    work.mkdir(parents=True, exist_ok=True)
    db, media = work / "base.db", work / "base-media"
    with home(work / "home-base"):
        generate(f"sqlite:///{db}", accounts, seed=3, media_dir=media, media_files=120)
        found = [f.to_dict() for f in Engine().audit(f"sqlite:///{db}", as_of=_date(AS_OF))]
    findings = work / "findings.json"
    findings.write_text(json.dumps(found))
    return db, media, findings


def _date(s: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(s)


def copy(base: Path, media: Path, dest: Path) -> tuple[Path, Path]:
    dest.mkdir(parents=True, exist_ok=True)
    db, m = dest / "e.db", dest / "e-media"
    shutil.copy(base, db)
    shutil.copytree(media, m)
    return db, m


def command(db: Path, media: Path, findings: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tutela", "remediate", "--estate", f"sqlite:///{db}", "--media", str(media),
            "--as-of", AS_OF, "--format", "json", *extra] + (["--findings", str(findings)] if "--resume" not in extra
                                                              else [])


def run(cmd: list[str], home_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TUTELA_HOME": str(home_dir), "TUTELA_REMEDIATE_BATCH": BATCH}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def job_status(home_dir: Path, settled: bool = False) -> tuple[str, str] | None:
    """The latest job and its status. While the process runs: a read-only peek (None when busy);
    once it is dead (`settled`): a normal open, which rolls back a killed transaction's journal."""
    state = home_dir / "state.db"
    if not state.exists():
        return None
    try:
        uri = f"file:{state}" if settled else f"file:{state}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=5 if settled else 0.2) as c:
            row = c.execute("SELECT job_id, status FROM jobs ORDER BY created_at DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        if settled:
            raise
        return None
    return (row[0], row[1]) if row else None


def reference(work: Path, base: Path, media: Path, findings: Path) -> tuple[dict[str, str], float]:
    """The uninterrupted run's end state, and how long its execution (after planning) took."""
    db, m = copy(base, media, work / "ref")
    h = work / "ref" / "home"
    p = run(command(db, m, findings, "--execute"), h)
    started = None
    while p.poll() is None:
        st = job_status(h)
        if started is None and st and st[1] == "running":
            started = time.perf_counter()
        time.sleep(0.01)
    if p.returncode != 0:
        raise SystemExit(f"reference run failed: {p.stderr.read().decode() if p.stderr else ''}")
    return digests(db, m), time.perf_counter() - (started or time.perf_counter())


def resume(db: Path, media: Path, findings: Path, home_dir: Path, job: str | None) -> None:
    """Resume the killed job in this process (or start again when no job was recorded)."""
    from tutela.engine import Engine

    old = os.environ.get("TUTELA_REMEDIATE_BATCH")
    os.environ["TUTELA_REMEDIATE_BATCH"] = BATCH
    try:
        with home(home_dir):
            if job is None:
                Engine().remediate(f"sqlite:///{db}", findings, execute=True, as_of=_date(AS_OF), media=media)
            else:
                Engine().remediation_resume(job, estate=f"sqlite:///{db}", media=media)
    finally:
        if old is None:
            os.environ.pop("TUTELA_REMEDIATE_BATCH", None)
        else:
            os.environ["TUTELA_REMEDIATE_BATCH"] = old


def one_round(i: int, work: Path, base: Path, media: Path, findings: Path, rng: random.Random,
              span: float) -> dict[str, Any]:
    db, m = copy(base, media, work / f"k{i}")
    h = work / f"k{i}" / "home"
    p = run(command(db, m, findings, "--execute"), h)
    early = rng.random() < 0.2  # a fifth of the rounds are killed while the job plans
    deadline = time.perf_counter() + 120
    while p.poll() is None and time.perf_counter() < deadline:  # until the job exists (early) or runs
        st = job_status(h)
        if st and (early or st[1] == "running"):
            break
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 1.0) if early else rng.uniform(0, 0.7 * span))
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    p.wait()
    st = job_status(h, settled=True)
    phase = st[1] if st else "before the job"
    resume(db, m, findings, h, st[0] if st else None)
    final = job_status(h, settled=True)
    return {"round": i, "killed": killed, "phase": phase, "status": final[1] if final else None,
            "digests": digests(db, m)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--accounts", type=int, default=400)
    ap.add_argument("--quick", action="store_true", help="8 rounds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--format", choices=["table", "json"], default="table")
    a = ap.parse_args(argv)
    kills = 8 if a.quick else a.kills
    work = a.work or Path(os.environ.get("TMPDIR", "/tmp")) / f"tutela-kill-{os.getpid()}"
    try:
        result = kill_and_resume(work, kills, a.accounts, a.seed)
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if a.format == "json":
        print(json.dumps(result))
    else:
        print(f"{result['rounds']} rounds, {result['killed']} killed mid-run "
              f"({', '.join(f'{k}: {v}' for k, v in result['phases'].items())}); identical end state: "
              f"{result['agree']}")
    return 0 if result["agree"] else 1


def kill_and_resume(work: Path, kills: int, accounts: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    base, media, findings = prepare(work, accounts)
    want, span = reference(work, base, media, findings)
    rounds = []
    for i in range(kills):
        rounds.append(one_round(i, work, base, media, findings, rng, span))
        if rounds[-1]["phase"] == "done":  # the job outran the kill: aim earlier from now on
            span *= 0.75
    bad = [r["round"] for r in rounds if r["digests"] != want or r["status"] != "done"]
    mid = sum(r["killed"] and r["phase"] in ("planning", "running") for r in rounds)
    phases: dict[str, int] = {}
    for r in rounds:
        if r["killed"]:
            phases[r["phase"]] = phases.get(r["phase"], 0) + 1
    return {"rounds": len(rounds), "killed": sum(r["killed"] for r in rounds), "mid_job": mid, "phases": phases,
            "agree": not bad, "mismatched_rounds": bad, "execute_seconds": round(span, 2)}


if __name__ == "__main__":
    raise SystemExit(main())
