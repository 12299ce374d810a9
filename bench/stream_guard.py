"""Events/s per core of the stream guard (filter + coarsen + keyed pseudonym) beside a per-event loop.

    python bench/stream_guard.py [--n N] [--batches B] [--sub S] [--quick] [--format json]

Workload: synthetic events (tutela.guard.stream_synth) of `--subjects` subjects over one day:
subject_id, ts, kind, recipient, lat, lon, device_id, content_id, string columns dictionary-encoded
as an Arrow producer writes them; no IP column (the target names filter, coarsen and pseudonym).
The state has realistic consent configurations (GRANT_MENU).

1. tutela   `StreamGuard.guard(batch)` on B batches of N events, Arrow limited to one thread
            (events/s/core); after one warm-up batch (JIT and the plan cache: steady streaming).
            The batches share their Arrow dictionaries, as batches of one IPC stream do, so the
            guard's per-dictionary work (pseudonyms, state rows) is reused; a second pass
            forgets it before every batch (`tutela_fresh_dictionaries_...`).
2. loop     a straightforward per-event Python loop over the same events (already Python dicts):
            state dict lookup, age, a decision per distinct act memoised in a dict (compiled
            engine, one request at a time), drop / coarsen / HMAC pseudonym memoised per value.
Agreement: the loop's output rows equal the guard's on the first S events. Exit 1 if not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import sys
import time
from typing import Any

import pyarrow as pa

from tutela.engine import Engine
from tutela.guard.stream_config import Keyring
from tutela.guard.stream_synth import synthetic_events, synthetic_state
from tutela.policy.model import Facts, GrantFact

KEYS = Keyring.parse("bench:" + "42" * 32)
LEVEL = {"declared": 0, "confirmed": 1, "verified": 2}


def loop_guard(engine: Engine, guard: Any, state: pa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-event baseline (same semantics as the guard for these columns)."""
    cfg = guard.cfg
    people = {r["subject_id"]: r for r in state.to_pylist()}
    decided: dict[tuple[Any, ...], bool] = {}
    obligations: dict[tuple[Any, ...], tuple[str, ...]] = {}
    names: dict[str, str] = {}
    g = cfg.grid_degrees

    def allowed(p: dict[str, Any], age: int, day: dt.date, category: str, use: str, recipient: str) -> bool:
        key = (p["jurisdiction"], age, p["grants"], p["grant_by"], p["assurance"], day, category, use, recipient)
        if key not in decided:
            grants = frozenset(GrantFact(scope, p["grant_by"], LEVEL[p["assurance"]], False)
                               for i, scope in enumerate(cfg.grant_bits) if p["grants"] >> i & 1)
            v = engine.compiled.verdict(Facts(p["jurisdiction"], age, day, category, use, recipient, "none",
                                              grants, frozenset()))
            decided[key], obligations[key] = v.effect != "deny", v.obligations
        return decided[key]

    out = []
    for ev in rows:
        p = people.get(ev["subject_id"])
        if p is None:
            continue
        day = ev["ts"].date()
        b = p["birth_date"]
        age = day.year - b.year - ((day.month, day.day) < (b.month, b.day))
        spec = cfg.kinds[ev["kind"]]
        if not allowed(p, age, day, spec.category, spec.use, ev["recipient"]):
            continue
        row = dict(ev)
        pseudo = False
        for f in ("lat_lon", "device_id", "subject_id"):
            fs = cfg.fields[f]
            if allowed(p, age, day, fs.category, spec.use, ev["recipient"]):
                continue
            if allowed(p, age, day, fs.fallback_category, spec.use, ev["recipient"]):
                if f == "lat_lon":
                    row["lat"] = max(-90.0, min(90.0, math.floor(row["lat"] / g) * g + g / 2))
                    row["lon"] = max(-180.0, min(180.0, math.floor(row["lon"] / g) * g + g / 2))
                else:
                    value = row[f]
                    key = f + "\x00" + value
                    if key not in names:
                        names[key] = hmac.new(KEYS.secret, key.encode(), hashlib.sha256).hexdigest()[:32]
                    row[f] = names[key]
                    pseudo = True
            elif f == "lat_lon":
                row["lat"] = row["lon"] = None
            else:
                row[f] = None
        row["retain_until"] = ev["ts"] + dt.timedelta(days=spec.retain_days)
        row["key_id"] = KEYS.current if pseudo else None
        out.append(row)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000, help="events per batch")
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--sub", type=int, default=200_000, help="events the loop runs on")
    ap.add_argument("--subjects", type=int, default=20_000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    a = ap.parse_args()
    if a.quick:
        a.n, a.batches, a.sub = 250_000, 3, 30_000
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    engine = Engine()
    state = synthetic_state(a.subjects, seed=7)
    guard = engine.stream_guard(state, keys=KEYS)
    batches = [synthetic_events(a.subjects, a.n, seed=10 + i, with_ip=False) for i in range(a.batches + 1)]
    guard.guard(batches[0])  # warm-up: numba JIT and the plan cache
    t0, w0 = time.process_time(), time.perf_counter()
    kept = 0
    for b in batches[1:]:
        kept += guard.guard(b).table.num_rows
    fast_s, fast_wall = time.process_time() - t0, time.perf_counter() - w0
    fast_rate = a.n * a.batches / fast_s
    t0 = time.process_time()
    for b in batches[1:]:  # as if every batch brought new Arrow dictionaries (no reuse across batches)
        guard.pseudonyms.forget()
        guard.forget_ids()
        guard.guard(b)
    fresh_rate = a.n * a.batches / (time.process_time() - t0)
    sample = batches[1].slice(0, a.sub)
    expected = guard.guard(sample).table.to_pylist()
    rows = sample.to_pylist()
    t0 = time.process_time()
    got = loop_guard(engine, guard, state, rows)
    loop_s = time.process_time() - t0
    loop_rate = len(rows) / loop_s
    agree = got == expected
    result = {
        "bench": "stream_guard", "events_per_batch": a.n, "batches": a.batches, "loop_events": len(rows),
        "kept_share": round(kept / (a.n * a.batches), 4),
        "tutela_events_per_s_per_core": round(fast_rate), "tutela_wall_s": round(fast_wall, 3),
        "tutela_fresh_dictionaries_events_per_s_per_core": round(fresh_rate),
        "loop_events_per_s_per_core": round(loop_rate),
        "ratio": round(fast_rate / loop_rate, 1), "agree": agree, "cpu_count": os.cpu_count(),
        "timer": "process CPU time, Arrow on one thread",
    }
    if a.format == "json":
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>30}: {v}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
