"""bench/erasure.py: erasing a batch of subjects set-based (Tutela) beside row by row (Fides), in one run.

    python bench/erasure.py [--accounts N] [--subjects N] [--single N] [--quick] [--format json]

Generates a ClipStream estate into a fresh PostgreSQL database on 127.0.0.1:5432 (user
postgres; not timed), VACUUM ANALYZEs it and copies it (`CREATE DATABASE ... TEMPLATE`) once
per side. On one copy Tutela erases N subjects: the planner's targets for the data map's
erasure (`erasure_targets`, Fides semantics: a collection-level `delete` removes the rows,
`messages.body` is rewritten), keys resolved set-based, one `SqlConnector.apply` per target
for the whole batch. On the other the baseline (bench/erasure_naive.py) does the same targets
as Fides does: one SELECT per collection, then a new connection, one UPDATE/DELETE by primary
key and a commit per row. Both copies must end identical: every table's row count and md5
over its rows' md5s (`agree`; exit code 1 otherwise). A third copy times single-subject
requests through the rights desk (what the CLI and API call): access, then an `account`
erasure, of random subjects, p50/p90. Every database it creates is dropped at the end.

Target: ratio (naive seconds / Tutela seconds) >= 100 for 10k subjects; single p50 <= 200 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
import pyarrow as pa
import sqlalchemy as sa
from psycopg import sql

from erasure_naive import naive_erase
from tutela.connectors import ESTATE, Erasure, Plan, SqlConnector, erasure_targets, needs, plan, resolve
from tutela.datamap import DataMap, load_datamap

SERVER = "host=127.0.0.1 port=5432 user=postgres"
Keys = dict[tuple[str, tuple[str, ...]], pa.Table]


def dsn(db: str) -> str:
    return f"{SERVER} dbname={db}"


def url(db: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"


@contextmanager
def database(template: str | None = None) -> Iterator[str]:
    """A new database (a copy of `template` when given), dropped on exit, also on error."""
    name = f"tutela_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn("postgres"), autocommit=True) as c:
        if template is not None:  # a template must have no other sessions
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [template])
            c.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        else:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(dsn("postgres"), autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def vacuum(db: str) -> None:
    with psycopg.connect(dsn(db), autocommit=True) as c:
        c.execute("VACUUM ANALYZE")


def checksums(db: str) -> dict[str, list[Any]]:
    """Per table: [row count, md5 of its rows' md5s in sorted order] (independent of row order)."""
    out: dict[str, list[Any]] = {}
    with psycopg.connect(dsn(db)) as c:
        tables = [r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        for t in tables:
            q = sql.SQL("SELECT count(*), coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') "
                        "FROM {} x").format(sql.Identifier(t))
            row = c.execute(q).fetchone()
            assert row is not None
            out[t] = [int(row[0]), row[1]]
    return out


# -- the two sides ------------------------------------------------------------------------

def erasure_plan(dm: DataMap) -> tuple[Plan, list[Erasure]]:
    """The estate's plan from the subjects' identity and the data map's erasure targets,
    transfer records left out as the rights desk leaves them out (kept as evidence)."""
    assert dm.tutela is not None
    p = plan(dm, ["account_id"], stores=[ESTATE])
    kept = dm.tutela.transfers.collection if dm.tutela.transfers else None
    return p, [e for e in erasure_targets(p, dm, delete_rows=False)
               if e.store == ESTATE and e.target.collection != kept]


def identity(ids: Sequence[int]) -> pa.Table:
    """The batch's identity table (built before the clock starts: pyarrow imports pandas on first use)."""
    return pa.table({"account_id": pa.array(list(ids), pa.int64())})


def tutela_erase(db_url: str, p: Plan, targets: Sequence[Erasure], ids: pa.Table) -> dict[str, Any]:
    """Tutela's batch erasure: check, resolve every node's keys, one apply per target (all ids at once)."""
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    sa.event.listen(sa.Engine, "before_cursor_execute", count)
    phases: dict[str, float] = {}
    last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        phases[name] = round(phases.get(name, 0.0) + now - last, 4)
        last = now

    conn = SqlConnector(db_url)
    try:
        conn.check(needs(p, targets).get(ESTATE, {}))
        lap("check")
        keys = resolve(p, ids, {ESTATE: conn})
        lap("resolve")
        per: dict[str, int] = {}
        for er in targets:
            k = keys.get((er.node, er.target.match))
            n = conn.apply(er.target, k).changed if k is not None and k.num_rows else 0
            per[er.target.collection] = per.get(er.target.collection, 0) + n
            lap(f"{er.target.action} {er.target.collection}")
    finally:
        conn.close()
        sa.event.remove(sa.Engine, "before_cursor_execute", count)
    return {"rows": sum(per.values()), "per_collection": per, "statements": statements, "keys": keys,
            "phases_s": phases}


def residue(db_url: str, targets: Sequence[Erasure], keys: Keys) -> int:
    """Rows an erasure of the same keys would still change (0 when the erasure is complete)."""
    conn = SqlConnector(db_url)
    try:
        return sum(conn.count(er.target, keys[(er.node, er.target.match)]) for er in targets
                   if (er.node, er.target.match) in keys)
    finally:
        conn.close()


# -- single subjects through the rights desk ----------------------------------------------

def single_subjects(db: str, subjects: Sequence[int], warmup: int = 3) -> dict[str, Any]:
    """Access, then an account erasure, of each subject through the rights desk (one desk kept
    open, as the API keeps it). Create + approve are not timed; `run` is. The first `warmup`
    subjects are left out."""
    from tutela.connectors.estate import EstateConfig
    from tutela.engine import Engine

    desk = Engine().requests(EstateConfig(url(db)))
    times: dict[str, list[float]] = {"access": [], "erasure": [], "both": []}
    rows = {"read": 0, "erased": 0}
    try:
        for i, s in enumerate(subjects):
            a = desk.create({"kind": "access", "subject": str(s)}, by="bench")
            desk.approve(a["id"], by="bench")
            e = desk.create({"kind": "erasure", "subject": str(s), "scope": "account"}, by="bench")
            desk.approve(e["id"], by="bench")
            t0 = time.perf_counter()
            got = desk.run(a["id"])
            t1 = time.perf_counter()
            gone = desk.run(e["id"])
            t2 = time.perf_counter()
            if i < warmup:
                continue
            times["access"].append(t1 - t0)
            times["erasure"].append(t2 - t1)
            times["both"].append(t2 - t0)
            rows["read"] += got["result"]["rows"]
            rows["erased"] += gone["result"]["rows"]
    finally:
        desk.close()
    out: dict[str, Any] = {"subjects": len(times["access"]), "warmup": warmup, "scope": "account",
                           "rows_read_mean": rows["read"] / max(1, len(times["access"])),
                           "rows_erased_mean": rows["erased"] / max(1, len(times["access"]))}
    for kind, xs in times.items():
        out[f"{kind}_p50_ms"] = round(1000 * statistics.median(xs), 1)
        out[f"{kind}_p90_ms"] = round(1000 * statistics.quantiles(xs, n=10)[8], 1) if len(xs) > 1 else None
    return out


# -- the run ------------------------------------------------------------------------------

def run(accounts: int, subjects: int, single: int, seed: int, log: Any) -> dict[str, Any]:
    from tutela.clipstream.generate import generate

    dm = load_datamap()
    p, targets = erasure_plan(dm)
    rng = random.Random(seed)
    ids = sorted(rng.sample(range(1, accounts + 1), subjects))
    with ExitStack() as stack:
        base = stack.enter_context(database())
        log(f"generating {accounts:,} accounts into {base}")
        t0 = time.perf_counter()
        summary = generate(url(base), accounts=accounts, seed=seed, media_files=0)
        vacuum(base)
        gen_s = time.perf_counter() - t0
        ours, theirs, desk_db = (stack.enter_context(database(base)) for _ in range(3))
        before = checksums(base)

        log(f"tutela: erasing {subjects:,} subjects set-based")
        batch = identity(ids)
        t0 = time.perf_counter()
        tut = tutela_erase(url(ours), p, targets, batch)
        tutela_s = time.perf_counter() - t0

        log(f"naive: the same, one connection per row ({tut['rows']:,} rows)")
        t0 = time.perf_counter()
        nai = naive_erase(dsn(theirs), p, targets, ids,
                          progress=lambda i, n: log(f"naive: {i:,}/{n:,} rows, {time.perf_counter() - t0:.0f} s"))
        naive_s = time.perf_counter() - t0

        log("checksums")
        sums_t, sums_n = checksums(ours), checksums(theirs)
        left = {"tutela": residue(url(ours), targets, tut["keys"]), "naive": residue(url(theirs), targets, tut["keys"])}
        same = sums_t == sums_n
        agree = same and tut["rows"] == nai["rows"] > 0 and left == {"tutela": 0, "naive": 0}

        singles: dict[str, Any] = {}
        if single:
            log(f"single subjects: {single} (+3 warm-up) through the rights desk")
            singles = single_subjects(desk_db, rng.sample(range(1, accounts + 1), single + 3))
    return {
        "ratio": round(naive_s / tutela_s, 1), "agree": agree, "subjects": subjects, "accounts": accounts,
        "estate_rows": sum(summary["tables"].values()), "rows": tut["rows"], "naive_rows": nai["rows"],
        "tutela_s": round(tutela_s, 3), "naive_s": round(naive_s, 2),
        "naive_access_s": round(nai["access_s"], 2), "naive_write_s": round(nai["write_s"], 2),
        "naive_ms_per_row": round(1000 * nai["write_s"] / max(1, nai["statements"]), 2),
        "tutela_statements": tut["statements"], "naive_statements": nai["statements"],
        "naive_connections": nai["statements"] + 1,
        "per_collection": tut["per_collection"], "tutela_phases_s": tut["phases_s"],
        "targets": [f"{e.target.action} {e.target.collection}" + (f" ({', '.join(e.target.masks)})"
                                                                  if e.target.masks else "") for e in targets],
        "checksums_equal": same, "residue": left,
        "tables_changed": sorted(t for t in before if before[t] != sums_t.get(t)),
        "single": singles, "generate_s": round(gen_s, 1),
    }


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    with psycopg.connect(dsn("postgres")) as c:
        row = c.execute("SHOW server_version").fetchone()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu": model, "mem_gib": round(mem, 1), "python": platform.python_version(),
            "postgresql": row[0] if row else None, "psycopg": version("psycopg"),
            "sqlalchemy": version("sqlalchemy"), "pyarrow": version("pyarrow"),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=50_000, help="accounts in the generated estate")
    ap.add_argument("--subjects", type=int, default=10_000, help="subjects erased in one batch")
    ap.add_argument("--single", type=int, default=50, help="subjects timed one at a time (0: skip)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="1,000 accounts, 200 subjects, 30 single (under 60 s)")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    a = ap.parse_args()
    accounts, subjects, single = (1_000, 200, 30) if a.quick else (a.accounts, a.subjects, a.single)
    if not 0 < subjects <= accounts:
        ap.error("--subjects must be between 1 and --accounts")
    home = tempfile.mkdtemp(prefix="tutela-bench-erasure-")
    os.environ["TUTELA_HOME"] = home  # the generator's ground truth and the desk's state store
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the databases are dropped

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    started = dt.datetime.now(dt.UTC)
    info = machine()
    try:
        result = run(accounts, subjects, single, a.seed, log)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    result = {**result, "mode": "quick" if a.quick else "full", "machine": {**info, "load_avg_1m_end":
              round(os.getloadavg()[0], 2)}, "date": started.isoformat(timespec="seconds"),
              "seconds": round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)}
    if a.format == "json":
        print(json.dumps(result))
    else:
        s = result["single"]
        print(f"erasure of {subjects:,} of {accounts:,} accounts ({result['rows']:,} rows) on PostgreSQL")
        print(f"  tutela (set-based, {result['tutela_statements']} statements): {result['tutela_s']:.3f} s")
        print(f"  naive (a connection per row, {result['naive_statements']:,} statements): {result['naive_s']:.1f} s "
              f"(access {result['naive_access_s']} s, {result['naive_ms_per_row']} ms per row)")
        print(f"  ratio {result['ratio']}x, agree {result['agree']} (checksums equal {result['checksums_equal']}, "
              f"residue {result['residue']}, tables changed {result['tables_changed']})")
        if s:
            print(f"  single ({s['subjects']} subjects, ms p50/p90): access {s['access_p50_ms']}/{s['access_p90_ms']}, "
                  f"erasure {s['erasure_p50_ms']}/{s['erasure_p90_ms']}, both {s['both_p50_ms']}/{s['both_p90_ms']}")
    return 0 if result["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
