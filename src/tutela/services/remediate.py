"""Remediation jobs: plan, dry run, execute with checkpoints, resume, receipts.

A job's plan is frozen when it starts (`$TUTELA_HOME/jobs/<id>/`): the rows to change were
derived from the estate at that moment, so a resumed job changes exactly the rows the
interrupted one would have, and nothing else. Every step is idempotent (a connector's
`apply` changes 0 rows the second time), so a kill between a store's commit and the
checkpoint's commit is repaired by running that batch again.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tutela.connectors.base import Connector, ConnectorUnavailable, Target
from tutela.connectors.strategies import Strategy
from tutela.errors import InputError
from tutela.services import state as st

BATCH = 20_000
Progress = Callable[[str, int, int], None]  # message, done, total


@dataclass
class Step:
    """One store, one collection, one action, for the keys in `keys` (a Parquet file)."""

    store: str  # name of a connector in the job's stores: estate | files | redis
    collection: str
    match: tuple[str, ...]
    action: str  # delete | mask | settle
    masks: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> Strategy as dict
    rules: list[str] = field(default_factory=list)
    rows: int = 0  # planned rows (keys)

    def target(self) -> Target:
        masks = {f: Strategy.model_validate(s) for f, s in self.masks.items()}
        return Target(self.collection, tuple(self.match), "delete" if self.action == "delete" else "mask", masks)


@dataclass
class Plan:
    steps: list[Step]
    keys: list[pa.Table]  # per step
    subjects: pa.Table  # sid, collection, store, action, rules, rows: what each subject's receipt says
    settle: pa.Table  # transfer, sid, recipient, source, rule: past transfers to settle
    skipped: list[str] = field(default_factory=list)  # declared stores not given (their part is not done)

    def summary(self) -> list[dict[str, Any]]:
        return [{"store": s.store, "collection": s.collection, "action": s.action, "rows": s.rows,
                 "rules": s.rules} for s in self.steps]


def job_dir(job_id: str) -> Path:
    return st.home() / "jobs" / job_id


def new_job_id() -> str:
    return uuid.uuid4().hex[:16]


def _write(path: Path, table: pa.Table) -> None:
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_plan(job_id: str, plan: Plan) -> Path:
    d = job_dir(job_id)
    d.mkdir(parents=True, exist_ok=True)
    for i, keys in enumerate(plan.keys):
        _write(d / f"step-{i}.parquet", keys)
    _write(d / "subjects.parquet", plan.subjects)
    _write(d / "settle.parquet", plan.settle)
    tmp = d / "plan.json.tmp"
    tmp.write_text(json.dumps([asdict(s) for s in plan.steps], indent=1))
    os.replace(tmp, d / "plan.json")
    return d


def load_plan(job_id: str) -> Plan:
    d = job_dir(job_id)
    try:
        steps = [Step(**{**s, "match": tuple(s["match"])}) for s in json.loads((d / "plan.json").read_text())]
        keys = [pq.read_table(d / f"step-{i}.parquet") for i in range(len(steps))]
        return Plan(steps, keys, pq.read_table(d / "subjects.parquet"), pq.read_table(d / "settle.parquet"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the plan of job `{job_id}` cannot be read ({exc.__class__.__name__})",
                         where=str(d), hint="the job folder under $TUTELA_HOME/jobs/ was removed or damaged") from None


def check(plan: Plan, stores: Mapping[str, Connector]) -> None:
    """Every store, table and column the plan touches exists: fails before any write."""
    need: dict[str, dict[str, set[str]]] = {}
    for s in plan.steps:
        if s.action == "settle":
            continue
        if s.store not in stores:
            raise InputError(f"the plan needs the `{s.store}` store, which was not given",
                             where=s.collection, hint="see `tutela remediate --help` for --media and --redis")
        need.setdefault(s.store, {}).setdefault(s.collection, set()).update([*s.match, *s.masks])
    for name, cols in need.items():
        stores[name].check(cols)


def execute(store: st.StateStore, job_id: str, stores: Mapping[str, Connector],
            progress: Progress | None = None, batch: int | None = None) -> dict[str, Any]:
    """Run (or resume) a job to the end. A lost store pauses the job and raises."""
    job = store.job(job_id)
    if job["status"] == "done":
        return dict(job["spec"])
    plan = load_plan(job_id)
    check(plan, stores)
    store.set_status(job_id, "running")
    done = store.done_batches(job_id)
    size = batch or BATCH
    total = sum(max(1, -(-k.num_rows // size)) for s, k in zip(plan.steps, plan.keys, strict=True)
                if s.action != "settle")
    step_rows: list[int] = [0] * len(plan.steps)
    n = 0
    tick = progress or (lambda _m, _d, _t: None)
    try:
        for i, (s, keys) in enumerate(zip(plan.steps, plan.keys, strict=True)):
            if s.action == "settle":
                continue
            target = s.target()
            for b, start in enumerate(range(0, max(keys.num_rows, 1), size)):
                n += 1
                if (i, b) in done:
                    step_rows[i] += done[(i, b)]
                    continue
                tick(f"{s.action} {s.store}:{s.collection}", n, total)
                changed = stores[s.store].apply(target, keys.slice(start, size)).changed if keys.num_rows else 0
                store.checkpoint(job_id, i, b, changed)
                step_rows[i] += changed
    except ConnectorUnavailable as exc:
        store.set_status(job_id, "paused", note=exc.message)
        raise InputError(f"job {job_id} paused: {exc.message}", where=exc.where,
                         hint=f"when the store is back: tutela remediate --resume {job_id}") from None
    _settle(store, job_id, job["estate_key"], plan.settle)  # idempotent: a resumed job adds what is missing
    settled = plan.settle.num_rows
    for i, s in enumerate(plan.steps):
        if s.action == "settle":  # records kept; each one's route blocked and recipient asked to erase
            step_rows[i] = plan.keys[i].num_rows
    store.add_receipts(job_id, job["estate_key"], _receipts(job_id, plan))  # idempotent, per subject
    receipts = len(store.receipts(job_id=job_id))
    spec = {**job["spec"], "changed": step_rows, "settled": settled, "receipts": receipts}
    store.set_status(job_id, "done", spec=spec)
    return spec


def _settle(store: st.StateStore, job_id: str, key: str, settle: pa.Table) -> int:
    """Block each (recipient, source) route and record one erasure request per recipient."""
    if settle.num_rows == 0:
        return 0
    rows = settle.to_pylist()
    return store.settle_transfers(job_id, key, rows)


def _receipts(job_id: str, plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    by: dict[str, list[dict[str, Any]]] = {}
    for r in plan.subjects.to_pylist():
        by.setdefault(str(r["sid"]), []).append(
            {"store": r["store"], "collection": r["collection"], "action": r["action"],
             "rows": int(r["rows"]), "rules": sorted(r["rules"].split(","))})
    at = st.now().isoformat()
    return [(sid, {"job": job_id, "subject": sid, "at": at, "changes": sorted(items, key=lambda x: x["collection"])})
            for sid, items in sorted(by.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)]
