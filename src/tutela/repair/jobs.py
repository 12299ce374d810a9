"""Remediation jobs: plan, dry run, execute with checkpoints, resume, receipts.

A job's plan is frozen when it starts (`$TUTELA_HOME/jobs/<id>/`): the rows to change were
derived from the estate at that moment, so a resumed job changes exactly the rows the
interrupted one would have, and nothing else. Every step is idempotent (a connector's
`apply` changes 0 rows the second time), so a kill between a store's commit and the
checkpoint's commit is repaired by running that batch again.

Each batch is applied, then counted again by its store: what still needs the change is a
failure, as is every item the store could not change (`Applied.failed`) and a batch whose
apply raised. Failures are recorded with the checkpoint and the job goes on; it ends `done`
or `done_with_errors`, and `--resume` of the latter retries only the failed items. Receipts
say per subject what was changed and checked, and what failed, never what was planned.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.exc import SQLAlchemyError

from tutela import settings
from tutela.connectors.base import Connector, ConnectorUnavailable, Target
from tutela.connectors.strategies import Strategy
from tutela.errors import InputError
from tutela.store import state as st

BATCH = 20_000
SID, RULES = "__tutela_sid", "__tutela_rules"  # each key row's subject and rules (for receipts)
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
class JobPlan:
    steps: list[Step]
    keys: list[pa.Table]  # per step: the match columns, each row's subject and rules (repairs.SID, RULES)
    settle: pa.Table  # transfer, sid, recipient, source, rule: past transfers to settle
    skipped: list[str] = field(default_factory=list)  # declared stores not given (their part is not done)

    def summary(self) -> list[dict[str, Any]]:
        return [{"store": s.store, "collection": s.collection, "action": s.action, "rows": s.rows,
                 "rules": s.rules} for s in self.steps]


def job_dir(job_id: str) -> Path:
    return settings.home() / "jobs" / job_id


def new_job_id() -> str:
    return uuid.uuid4().hex[:16]


def _write(path: Path, table: pa.Table) -> None:
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_plan(job_id: str, plan: JobPlan) -> Path:
    d = job_dir(job_id)
    d.mkdir(parents=True, exist_ok=True)
    for i, keys in enumerate(plan.keys):
        _write(d / f"step-{i}.parquet", keys)
    _write(d / "settle.parquet", plan.settle)
    tmp = d / "plan.json.tmp"
    tmp.write_text(json.dumps([asdict(s) for s in plan.steps], indent=1))
    os.replace(tmp, d / "plan.json")
    return d


def load_plan(job_id: str) -> JobPlan:
    d = job_dir(job_id)
    try:
        steps = [Step(**{**s, "match": tuple(s["match"])}) for s in json.loads((d / "plan.json").read_text())]
        keys = [pq.read_table(d / f"step-{i}.parquet") for i in range(len(steps))]
        if any(SID not in k.column_names for k in keys):
            raise KeyError(SID)  # a plan frozen by an older Tutela: its receipts could not say what changed
        return JobPlan(steps, keys, pq.read_table(d / "settle.parquet"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the plan of job `{job_id}` cannot be read ({exc.__class__.__name__})",
                         where=str(d), hint="the job folder under $TUTELA_HOME/jobs/ was removed or damaged") from None


def check(plan: JobPlan, stores: Mapping[str, Connector]) -> None:
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
    """Run (or resume) a job to its end: `done`, or `done_with_errors` naming what failed.

    A lost store pauses the job and raises; any other error stops it as `failed` (never left
    `running`). Resuming a `done_with_errors` job retries only its failed items."""
    job = store.job(job_id)
    if job["status"] == "done":
        return dict(job["spec"])
    plan = load_plan(job_id)
    check(plan, stores)
    spec = dict(job["spec"])
    attempt = int(spec.get("attempts", 0)) + 1
    store.set_status(job_id, "running")
    size = batch or BATCH
    ended = False
    try:
        if attempt == 1:
            _first_pass(store, job_id, plan, stores, size, progress)
        else:
            _retry_failed(store, job_id, plan, stores, size, progress, attempt)
        ended = True
    except ConnectorUnavailable as exc:
        ended = True
        store.set_status(job_id, "paused", note=exc.message)
        raise InputError(f"job {job_id} paused: {exc.message}", where=exc.where,
                         hint=f"when the store is back: tutela remediate --resume {job_id}") from None
    finally:
        if not ended:  # an error that is not the store's: the job stops here, resumable, never `running`
            store.set_status(job_id, "failed", note="stopped by an unexpected error; `tutela remediate --resume` "
                                                    "goes on from the last checkpoint")
    _settle(store, job_id, job["estate_key"], plan.settle)  # idempotent: a resumed job adds what is missing
    done = store.done_batches(job_id)
    open_failures = store.failures(job_id)
    step_rows = [sum(n for (i, _b), n in done.items() if i == k) for k in range(len(plan.steps))]
    for i, s in enumerate(plan.steps):
        if s.action == "settle":  # records kept; each one's route blocked and recipient asked to erase
            step_rows[i] = plan.keys[i].num_rows
    store.add_receipts(job_id, job["estate_key"], receipts(job_id, plan, store.failures(job_id, open_only=False),
                                                           attempt, size))
    spec = {**spec, "changed": step_rows, "settled": plan.settle.num_rows, "attempts": attempt,
            "receipts": len(store.receipts(job_id=job_id)), "failed": _failure_summary(plan, open_failures)}
    store.set_status(job_id, "done_with_errors" if open_failures else "done", spec=spec,
                     note=f"{len(open_failures)} item(s) failed; `tutela remediate --resume {job_id}` retries them"
                     if open_failures else None)
    return spec


def _first_pass(store: st.StateStore, job_id: str, plan: JobPlan, stores: Mapping[str, Connector], size: int,
                progress: Progress | None) -> None:
    done = store.done_batches(job_id)
    todo = [(i, b, start) for i, (s, keys) in enumerate(zip(plan.steps, plan.keys, strict=True))
            if s.action != "settle" for b, start in enumerate(range(0, max(keys.num_rows, 1), size))]
    tick = progress or (lambda _m, _d, _t: None)
    for n, (i, b, start) in enumerate(todo, 1):
        if (i, b) in done:
            continue
        s = plan.steps[i]
        tick(f"{s.action} {s.store}:{s.collection}", n, len(todo))
        keys = plan.keys[i].slice(start, size)
        changed, failed = _apply(stores[s.store], s.target(), keys) if keys.num_rows else (0, [])
        store.checkpoint(job_id, i, b, changed, failed)


def _retry_failed(store: st.StateStore, job_id: str, plan: JobPlan, stores: Mapping[str, Connector], size: int,
                  progress: Progress | None, attempt: int) -> None:
    by_batch: dict[tuple[int, int], set[str]] = {}
    for f in store.failures(job_id):
        by_batch.setdefault((f["step"], f["batch"]), set()).add(f["item"])
    tick = progress or (lambda _m, _d, _t: None)
    for n, ((i, b), items) in enumerate(sorted(by_batch.items()), 1):
        s = plan.steps[i]
        tick(f"retry {s.action} {s.store}:{s.collection}", n, len(by_batch))
        keys = plan.keys[i].slice(b * size, size)
        if "*" not in items:
            keys = _only(keys, s.match, items)
        changed, failed = _apply(stores[s.store], s.target(), keys)
        store.checkpoint(job_id, i, b, changed, failed, attempt=attempt)


def _apply(conn: Connector, target: Target, keys: pa.Table) -> tuple[int, list[tuple[str, str]]]:
    """Apply one batch, then count again what still needs the change: (changed, failed items)."""
    try:
        done = conn.apply(target, keys)
        failed = [(item(f.key), f.reason) for f in done.failed]
        rest = _without(keys, target.match, {i for i, _ in failed})
        left = conn.count(target, rest) if rest.num_rows else 0
    except ConnectorUnavailable:
        raise
    except (InputError, OSError, pa.ArrowException, SQLAlchemyError) as exc:  # this batch only; the job goes on
        reason = exc.message if isinstance(exc, InputError) else exc.__class__.__name__
        return 0, [("*", f"error: {reason}")]
    if left:
        failed.append(("*", f"unverified: {left} item(s) still need the change after it was applied"))
    return done.changed, failed


def item(key: Sequence[object]) -> str:
    """A failed item's key as text (its match-column values as a JSON list)."""
    return json.dumps([v.isoformat() if hasattr(v, "isoformat") else v for v in key], default=str)


def _keys_text(keys: pa.Table, match: Sequence[str]) -> list[str]:
    cols = [keys[m].to_pylist() for m in match]
    return [item(vals) for vals in zip(*cols, strict=True)]


def _only(keys: pa.Table, match: Sequence[str], items: set[str]) -> pa.Table:
    return keys.filter(pa.array([k in items for k in _keys_text(keys, match)], pa.bool_()))


def _without(keys: pa.Table, match: Sequence[str], items: set[str]) -> pa.Table:
    return keys if not items else keys.filter(pa.array([k not in items for k in _keys_text(keys, match)]))


def _failure_summary(plan: JobPlan, failures: Sequence[Mapping[str, Any]], limit: int = 50) -> list[dict[str, Any]]:
    out = []
    for f in failures[:limit]:
        s = plan.steps[f["step"]]
        out.append({"store": s.store, "collection": s.collection, "action": s.action,
                    "item": "the whole batch" if f["item"] == "*" else json.loads(f["item"]), "reason": f["reason"]})
    return out


def _settle(store: st.StateStore, job_id: str, key: str, settle: pa.Table) -> int:
    """Block each (recipient, source) route and record one erasure request per recipient."""
    if settle.num_rows == 0:
        return 0
    rows = settle.to_pylist()
    return store.settle_transfers(job_id, key, rows)


def receipts(job_id: str, plan: JobPlan, failures: Sequence[Mapping[str, Any]], attempt: int,
             size: int) -> list[tuple[str, dict[str, Any]]]:
    """One receipt per subject for this attempt: per step, the rows changed and checked, and
    the failed items with their reasons. The first attempt covers every planned row; a retry
    covers the items it retried (the previous attempt's failures)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for i, (s, keys) in enumerate(zip(plan.steps, plan.keys, strict=True)):
        mine = [f for f in failures if f["step"] == i]
        tried = (np.ones(keys.num_rows, bool) if attempt == 1
                 else _marks(keys, s.match, [f for f in mine if f["attempt"] == attempt - 1], size))
        if not tried.any():
            continue
        now_failed = [f for f in mine if f["attempt"] == attempt]
        failed = _marks(keys, s.match, now_failed, size)
        why = {(f["batch"], f["item"]): f["reason"] for f in now_failed}
        t = keys.select([SID, RULES]).append_column("failed", pa.array(failed)).filter(pa.array(tried))
        g = t.group_by([SID, RULES]).aggregate([("failed", "count"), ("failed", "sum")])
        items = _failed_items(keys, s.match, failed, why, size) if failed.any() else {}
        for r in g.to_pylist():
            sid, n, bad = str(r[SID]), int(r["failed_count"]), int(r["failed_sum"] or 0)
            change: dict[str, Any] = {"store": s.store, "collection": s.collection, "action": s.action,
                                      "rows": n - bad, "rules": sorted(r[RULES].split(","))}
            if bad:
                change["failed"] = bad
                change["failures"] = items.get(sid, [])
            by.setdefault(sid, []).append(change)
    at = st.now().isoformat()
    return [(sid, {"job": job_id, "subject": sid, "attempt": attempt, "at": at,
                   "changes": sorted(changes, key=lambda x: (x["collection"], x["store"], x["action"]))})
            for sid, changes in sorted(by.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)]


def _marks(keys: pa.Table, match: Sequence[str], failures: Sequence[Mapping[str, Any]], size: int) -> np.ndarray:
    """Which key rows the failure records name (an item, or "*": every row of its batch)."""
    out = np.zeros(keys.num_rows, bool)
    per: dict[int, set[str]] = {}
    for f in failures:
        per.setdefault(int(f["batch"]), set()).add(f["item"])
    for b, items in per.items():
        lo, hi = b * size, min((b + 1) * size, keys.num_rows)
        if hi <= lo:
            continue
        out[lo:hi] = True if "*" in items else [k in items for k in _keys_text(keys.slice(lo, hi - lo), match)]
    return out


def _failed_items(keys: pa.Table, match: Sequence[str], failed: np.ndarray, why: Mapping[tuple[int, str], str],
                  size: int) -> dict[str, list[dict[str, Any]]]:
    """Subject -> the failed items of one step, each with its key and reason."""
    rows = np.flatnonzero(failed)
    sub = keys.take(pa.array(rows))
    out: dict[str, list[dict[str, Any]]] = {}
    for row, text, sid in zip(rows.tolist(), _keys_text(sub, match), sub[SID].to_pylist(), strict=True):
        b = row // size
        reason = why.get((b, text)) or why.get((b, "*"), "")
        out.setdefault(str(sid), []).append({"item": json.loads(text), "reason": reason})
    return out
