"""bench/ledger.py: appending to and verifying the tamper-evident ledger, beside the naive ways, in one run.

    python bench/ledger.py [--entries N] [--single M] [--batch B] [--backend sqlite|postgresql] [--quick]
                           [--format json]

One store (a SQLite file on disk in a temporary folder, WAL, synchronous=FULL; or PostgreSQL at
127.0.0.1:5432/test with a table prefix of its own), two ledgers in it (two table prefixes):
- batched: N `erasure_receipt` entries by `Ledger.append_many` on pyarrow tables of B rows, one
  transaction per table, signed every 100,000 entries (the tables are built before the clock starts);
- single (the naive way): the first M of the same bodies by `Ledger.append`, one entry per transaction.
`ratio` = batched entries/s ÷ single entries/s. Both ledgers use one fixed clock, so the same input gives
the same chain: `agree` = both verify (keys pinned), the single ledger's head equals the batched ledger's
hash at seq M, and the naive verifier (below) agrees with `verify` on the batched ledger.
Verify: `Ledger.verify` over the N entries (entries/s), beside a naive verifier over the first
min(N, 200,000): rows through SQLAlchemy, each entry parsed, re-canonicalised and hashed. The
chain check alone (on rows already read) is timed too, to show where the time goes.

Targets: batched >= 100,000 entries/s, ratio >= 20, verify >= 1,000,000 entries/s. Exit code 1 when
the two sides do not agree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select, text

from tutela.ledger import Ledger, canonical_json
from tutela.ledger.chain import GENESIS
from tutela.ledger.checkpoint import key_id, new_key_text, private_key
from tutela.ledger.store import Store

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MOMENT = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return MOMENT


def bodies(start: int, n: int) -> dict[str, list[Any]]:
    """Columns of n erasure receipts (synthetic: pseudonymous subjects, made-up jobs)."""
    idx = range(start, start + n)
    return {"job_id": [f"job-{i // 50_000:04d}" for i in idx], "subject": [f"ps:{i:032x}" for i in idx],
            "store": ["clipstream"] * n, "collection": ["videos" if i % 3 else "location_pings" for i in idx],
            "rows": [i % 97 for i in idx], "fields": ["gps_lat gps_lon" if i % 3 == 0 else None for i in idx],
            "receipt": [hashlib.sha256(i.to_bytes(8, "big")).hexdigest() for i in idx]}


def naive_verify(store: Store, upto: int) -> tuple[bool, bytes]:
    """Row by row through SQLAlchemy: parse, re-canonicalise, hash, compare."""
    prev, expected = GENESIS, 1
    t = store.entries
    with store.engine.connect() as conn:
        for seq, raw, h in conn.execute(select(t.c.seq, t.c.entry, t.c.hash).where(t.c.seq <= upto).order_by(t.c.seq)):
            entry = json.loads(raw)
            if seq != expected or entry["seq"] != seq:
                return False, prev
            prev = hashlib.sha256(prev + canonical_json(entry)).digest()
            if prev != bytes(h):
                return False, prev
            expected += 1
    return True, prev


def chain_only(store: Store, upto: int) -> float:
    """Seconds for the link checks alone, over rows already read."""
    chunks = list(store.chunks(0, upto))
    sha = hashlib.sha256
    started = time.perf_counter()
    prev = GENESIS
    for _, entries, hashes in chunks:
        assert list(map(lambda p, e: sha(p + e).digest(), [prev, *hashes[:-1]], entries)) == hashes
        prev = hashes[-1]
    return time.perf_counter() - started


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    url = f"sqlite:///{folder / 'ledger.db'}" if args.backend == "sqlite" else PG
    tag = uuid.uuid4().hex[:8]
    key = private_key(new_key_text())
    trusted = {key_id(key.public_key()): key.public_key()}
    tables = [pa.table(bodies(s, min(args.batch, args.entries - s))) for s in range(0, args.entries, args.batch)]
    singles = pa.table(bodies(0, args.single)).to_pylist()
    big = Ledger(url, prefix=f"b{tag}_", checkpoint_every=100_000, signing_key=key, clock=clock)
    one = Ledger(url, prefix=f"s{tag}_", clock=clock)
    try:
        started = time.perf_counter()
        for table in tables:
            big.append_many("erasure_receipt", table)
        batched_s = time.perf_counter() - started
        big.checkpoint()
        started = time.perf_counter()
        for b in singles:
            one.append("erasure_receipt", b)
        single_s = time.perf_counter() - started

        report = big.verify(trusted)
        naive_n = min(args.entries, 200_000)
        started = time.perf_counter()
        naive_ok, naive_head = naive_verify(big.store, naive_n)
        naive_s = time.perf_counter() - started
        at_naive = big.store.entry_rows(naive_n - 1, 1)[0][2]
        at_single = big.store.entry_rows(args.single - 1, 1)[0][2]
        single_report = one.verify(trusted)
        chain_s = chain_only(big.store, args.entries)
    finally:
        for ledger in (big, one):
            if args.backend == "postgresql":
                with ledger.store.engine.begin() as conn:
                    p = ledger.store.prefix
                    conn.execute(text(f"DROP TABLE IF EXISTS {p}ledger_entries, {p}ledger_checkpoints"))
            ledger.close()
    batched_rate, single_rate = args.entries / batched_s, args.single / single_s
    agree = (report.ok and report.entries == args.entries and single_report.ok and naive_ok
             and single_report.head == at_single and naive_head == at_naive)
    return {"backend": args.backend, "entries": args.entries, "batch": args.batch, "single_entries": args.single,
            "batched_s": round(batched_s, 3), "batched_per_s": round(batched_rate),
            "single_s": round(single_s, 3), "single_per_s": round(single_rate, 1),
            "ratio": round(batched_rate / single_rate, 1),
            "verify_s": round(report.seconds, 3), "verify_per_s": round(args.entries / report.seconds),
            "verify_chain_only_per_s": round(args.entries / chain_s),
            "naive_verify_entries": naive_n, "naive_verify_per_s": round(naive_n / naive_s),
            "verify_speedup_over_naive": round((args.entries / report.seconds) / (naive_n / naive_s), 1),
            "checkpoints": report.checkpoints, "agree": agree,
            "targets": {"batched_100k_per_s": batched_rate >= 100_000, "ratio_20": batched_rate / single_rate >= 20,
                        "verify_1m_per_s": args.entries / report.seconds >= 1_000_000},
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "load_average": [round(x, 2) for x in os.getloadavg()], "platform": platform.platform()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="200,000 batched, 500 single (well under 60 s)")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args()
    if args.quick:
        args.entries, args.single = 200_000, 500
    args.single = min(args.single, args.entries)
    with tempfile.TemporaryDirectory(prefix="tutela-bench-ledger-", dir=os.environ.get("TMPDIR", "/var/tmp")) as d:
        result = run(args, Path(d))
    if args.format == "json":
        print(json.dumps(result))
    else:
        print(f"ledger on {result['backend']}: batched {result['entries']:,} in {result['batched_s']} s "
              f"({result['batched_per_s']:,}/s, batches of {result['batch']:,}); one per transaction "
              f"{result['single_entries']:,} in {result['single_s']} s ({result['single_per_s']:,}/s); "
              f"ratio {result['ratio']}x")
        print(f"verify {result['entries']:,} in {result['verify_s']} s ({result['verify_per_s']:,}/s; "
              f"chain check alone {result['verify_chain_only_per_s']:,}/s); naive verify "
              f"{result['naive_verify_per_s']:,}/s ({result['verify_speedup_over_naive']}x slower)")
        print(f"targets {result['targets']}; agree {result['agree']}; load {result['machine']['load_average']}")
    sys.exit(0 if result["agree"] else 1)


if __name__ == "__main__":
    main()
