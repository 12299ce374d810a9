"""Events/s per core of the transfer gate in the stream guard, beside a per-event Python loop.

    python bench/transfer_gate.py [--n N] [--batches B] [--sub S] [--quick] [--format json]

Workload: the stream guard's synthetic events (tutela.guard.stream_synth, one day, `--subjects`
subjects in the EU, UK, US, ...) with a dictionary-encoded `recipient_id` column: eight recipients
covering every mechanism (free flow, adequacy, DPF, SCC + TIA, a stale TIA, BCR, none, remote
staff), 20 % null (first-party events).

1. gate     `stream_transfers.gate_events` alone on B batches of N events (events/s/core), after a
            warm-up batch (the gate's answers are remembered, as in steady streaming).
2. guard    the whole `StreamGuard.guard` with the gate, and without it on the same events minus
            `recipient_id`: what the gate adds to the guard.
3. loop     a straightforward per-event Python loop over the same events (Python dicts): state
            lookup, age on the day, the gate's answer memoised per (jurisdiction, child, day,
            recipient) with `tutela.transfers.check`.
Agreement: the loop keeps exactly the events the gate keeps on the first S events. Exit 1 if not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np
import pyarrow as pa

from tutela.engine import Engine
from tutela.guard.stream_config import Keyring
from tutela.guard.stream_events import read_events
from tutela.guard.stream_synth import synthetic_events, synthetic_state
from tutela.guard.stream_transfers import StreamGate, gate_events
from tutela.transfers import Registry, Subject, TransferGate, check
from tutela.transfers.models import Recipient

KEYS = Keyring.parse("bench:" + "42" * 32)
RECIPIENTS = (
    {"id": "eirvault", "name": "Eirvault Storage", "kind": "processor", "country": "IE"},
    {"id": "shibuya", "name": "Shibuya Render Farm", "kind": "processor", "country": "JP"},
    {"id": "bayline", "name": "Bayline Analytics", "kind": "processor", "country": "US", "dpf_certified": True},
    {"id": "bengaluru", "name": "Bengaluru T&S", "kind": "processor", "country": "IN", "scc_module": "C2P",
     "tia_date": "2026-06-01"},
    {"id": "stale", "name": "Old TIA", "kind": "processor", "country": "IN", "scc_module": "C2P",
     "tia_date": "2024-09-16"},
    {"id": "group-sg", "name": "Group SG", "kind": "processor", "country": "SG", "bcr_approved": "2022-03-01",
     "tia_date": "2026-02-01"},
    {"id": "mumbai", "name": "Mumbai Moderation", "kind": "processor", "country": "IN"},
    {"id": "staff-cn", "name": "Support (Shanghai)", "kind": "remote_staff", "country": "CN"},
)


def with_recipients(events: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    codes = pa.array(rng.integers(0, len(RECIPIENTS), events.num_rows).astype(np.int32),
                     mask=rng.random(events.num_rows) < 0.2)
    ids = pa.array([r["id"] for r in RECIPIENTS])
    return events.append_column("recipient_id", pa.DictionaryArray.from_arrays(codes, ids))


def loop_gate(engine: Engine, registry: Registry, state: pa.Table, rows: list[dict[str, Any]]) -> list[Any]:
    """The per-event baseline: the event ids the gate lets through (subjects it knows only)."""
    people = {r["subject_id"]: r for r in state.to_pylist()}
    answers: dict[tuple[str, bool, Any, str], bool] = {}
    book = engine.rulebook
    kept = []
    for ev in rows:
        p = people.get(ev["subject_id"])
        if p is None or ev["recipient_id"] is None:
            kept.append(ev["event_id"])
            continue
        day = ev["ts"].date()
        b = p["birth_date"]
        age = day.year - b.year - ((day.month, day.day) < (b.month, b.day))
        child = age < book.jurisdictions[p["jurisdiction"]].majority_age
        key = (p["jurisdiction"], child, day, ev["recipient_id"])
        if key not in answers:
            answers[key] = check(book, registry, ev["recipient_id"], Subject(p["jurisdiction"], age), day).allowed
        if answers[key]:
            kept.append(ev["event_id"])
    return kept


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
    registry = Registry(tuple(Recipient.model_validate(r) for r in RECIPIENTS), "bench")
    gate = TransferGate(engine.rulebook, registry)
    state = synthetic_state(a.subjects, seed=7)
    gated = engine.stream_guard(state, keys=KEYS, transfers=gate)
    plain = engine.stream_guard(state, keys=KEYS)
    batches = [with_recipients(synthetic_events(a.subjects, a.n, seed=10 + i, with_ip=False), i)
               for i in range(a.batches + 1)]
    current = gated.source.current()
    sg = StreamGate(gate)
    majority = {c: j.majority_age for c, j in engine.rulebook.jurisdictions.items()}.__getitem__
    read = [read_events(b, gated._rows_of(current)) for b in batches]  # the guard's own first step
    gate_events(sg, current, read[0], majority)  # warm-up: the gate's answers
    t0 = time.process_time()
    denied = sum(gate_events(sg, current, ev, majority)[1] for ev in read[1:])
    gate_rate = a.n * a.batches / (time.process_time() - t0)
    gated.guard(batches[0])
    plain.guard(batches[0].drop_columns(["recipient_id"]))
    t0 = time.process_time()
    for b in batches[1:]:
        gated.guard(b)
    guard_gated = a.n * a.batches / (time.process_time() - t0)
    bare = [b.drop_columns(["recipient_id"]) for b in batches[1:]]
    t0 = time.process_time()
    for b in bare:
        plain.guard(b)
    guard_plain = a.n * a.batches / (time.process_time() - t0)
    sample = batches[1].slice(0, a.sub)
    fast_kept = gate_events(sg, current, read_events(sample, gated._rows_of(current)), majority)[0]
    expected = fast_kept.table.column("event_id").to_pylist()
    rows = sample.to_pylist()
    t0 = time.process_time()
    got = loop_gate(engine, registry, state, rows)
    loop_rate = len(rows) / (time.process_time() - t0)
    agree = got == expected
    result = {
        "bench": "transfer_gate", "events_per_batch": a.n, "batches": a.batches, "loop_events": len(rows),
        "denied_share": round(denied / (a.n * a.batches), 4),
        "gate_events_per_s_per_core": round(gate_rate), "loop_events_per_s_per_core": round(loop_rate),
        "guard_with_gate_events_per_s_per_core": round(guard_gated),
        "guard_without_gate_events_per_s_per_core": round(guard_plain),
        "ratio": round(gate_rate / loop_rate, 1), "agree": agree, "cpu_count": os.cpu_count(),
        "timer": "process CPU time, Arrow on one thread",
    }
    if a.format == "json":
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:45} {v}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
