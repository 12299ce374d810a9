"""Remediation end to end: findings file -> rows derived now -> plan -> dry run or job.

The findings file only says which rules to repair. The rows come from the estate at run
time (the audit is run again and read backwards, `tutela.audit.breaches`), so a stale
file can never erase rows that are no longer unlawful.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tutela import settings
from tutela.audit import Finding, breached_rows
from tutela.connectors import ESTATE
from tutela.connectors.base import Connector
from tutela.connectors.estate import EstateConfig, open_stores
from tutela.connectors.redis import placeholders
from tutela.connectors.urls import redact
from tutela.datamap import DataMap, load_datamap
from tutela.datamap.models import FilesStoreDecl, RedisStoreDecl
from tutela.errors import InputError
from tutela.ledger.recorder import Recorder
from tutela.policy import CompiledPolicy
from tutela.query.backends import EngineName
from tutela.query.source import EstateSource
from tutela.repair import actions as repairs
from tutela.repair import jobs as remediate
from tutela.repair.jobs import JobPlan, Step
from tutela.rights import four_eyes
from tutela.rulebook import Rulebook
from tutela.store import state as st


def read_findings(path: Path, book: Rulebook) -> list[str]:
    """The rule ids selected by a findings file (the audit's `--format json` output)."""
    try:
        data: Any = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the findings file: {exc.strerror}", where=str(path)) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a JSON file: {exc}", where=str(path),
                         hint="use the output of `tutela audit --format json`") from None
    if not isinstance(data, list):
        raise InputError("expected a JSON array of findings", where=str(path),
                         hint="use the output of `tutela audit --format json`")
    rules: list[str] = []
    for i, item in enumerate(data):
        rule = item.get("rule") if isinstance(item, dict) else None
        if not isinstance(rule, str):
            raise InputError("each finding needs a string `rule`", where=f"{path}: [{i}]")
        if rule not in book.rule_index:
            raise InputError(f"unknown rule `{rule}`", where=f"{path}: [{i}].rule",
                             hint="was the file written with another rulebook? see `tutela rules list`")
        if item.get("status", "open") != "open":
            continue  # already remediated: nothing to do
        rules.append(rule)
    return sorted(set(rules))


def prepare(policy: CompiledPolicy, book: Rulebook, dm: DataMap, source: EstateSource, rules: list[str],
            as_of: dt.date, settled: frozenset[str], stores: Mapping[str, Connector],
            engine: EngineName = "duckdb") -> tuple[JobPlan, pa.Table]:
    """The plan for the selected rules, derived from the estate now, and the affected rows
    (sid, rules, collection, jurisdiction) for the dry-run summary."""
    assert dm.tutela is not None
    parts: list[tuple[list[Step], list[pa.Table]]] = []
    affected: list[pa.Table] = []
    settle: list[pa.Table] = []
    skipped: set[str] = set()
    files_of: dict[str, tuple[str, str] | None] = {}

    def extra(collection: str) -> tuple[str, ...]:
        files = files_field(dm, collection)
        if files is not None and files[0] not in stores:
            skipped.add(files[0])  # no media folder given: said in the summary, never silent
            files = None
        files_of[collection] = files
        return (files[1],) if files else ()

    found, facts = breached_rows(policy, book, dm, source, as_of, rules, settled=settled, extra=extra, engine=engine)
    for b in found:
        if b.transfer:
            step, keys, todo = repairs.transfer_step(b.collection, b.rows)
            parts.append(([step], [keys]))
            settle.append(todo)
        else:
            pk = dm.primary_key(b.collection)
            parts.append(repairs.steps_for(dm, b.collection, b.rows, pk, files_of[b.collection]))
        affected.append(b.rows.select(["sid", "rules"]).append_column(
            "collection", pa.array([b.collection] * b.rows.num_rows, pa.string())))
    affected[:] = [pa.concat_tables(affected or [_EMPTY_AFFECTED]).join(facts, "sid", join_type="left outer")]
    # rows that refer to a subject go before the subject's own row (safe under foreign keys)
    subjects = dm.tutela.subjects.collection
    parts.sort(key=lambda p: bool(p[0]) and p[0][0].collection == subjects)
    erased = _erased_subjects(dm, parts)
    families = key_families(dm, stores)
    if len(erased) and families:
        rules_of = sorted({r for p in parts for st_ in p[0] if st_.collection == dm.tutela.subjects.collection
                           for r in st_.rules})
        steps, keys = repairs.subject_keys_steps(families, erased, rules_of)
        parts.append((steps, keys))
    plan = repairs.assemble(parts, pa.concat_tables(settle) if settle else None)
    if len(erased):  # erased accounts' cache keys stay where the cache was not given: say so
        skipped |= {n for n, d in (dm.tutela.stores.items()) if isinstance(d, RedisStoreDecl) and n not in stores}
    plan.skipped = sorted(skipped)
    return plan, affected[0] if affected else _EMPTY_AFFECTED.append_column("jurisdiction", pa.array([], pa.string()))


_EMPTY_AFFECTED = pa.table({"sid": pa.array([], pa.int64()), "rules": pa.array([], pa.string()),
                            "collection": pa.array([], pa.string())})


def _erased_subjects(dm: DataMap, parts: list[tuple[list[Step], list[pa.Table]]]) -> pa.Array:
    """Subjects whose row in the subjects collection is deleted: their cache keys go too."""
    assert dm.tutela is not None
    subj = dm.tutela.subjects
    for steps, keys in parts:
        for st_, k in zip(steps, keys, strict=True):
            if st_.store == ESTATE and st_.collection == subj.collection and st_.action == "delete":
                return pc.unique(k[subj.key].cast(pa.int64()))
    return pa.array([], pa.int64())


def dry_run(plan: JobPlan, affected: pa.Table, stores: Mapping[str, Connector] | None) -> dict[str, Any]:
    """What would change, counted by the stores themselves now (`stores`), or as planned (None:
    a job about to run reports what it changed instead); writes nothing."""
    steps = []
    for s, keys in zip(plan.steps, plan.keys, strict=True):
        counted = stores is not None and s.action != "settle" and keys.num_rows
        n = stores[s.store].count(s.target(), keys) if stores is not None and counted else keys.num_rows
        steps.append({"store": s.store, "collection": s.collection, "action": s.action, "rows": n,
                      "masks": [f"{f}: {m['strategy']}" for f, m in sorted(s.masks.items())],
                      "rules": s.rules})
    by_rule: dict[str, dict[str, int]] = {}
    by_country: dict[str, int] = {}
    rows = affected.to_pylist()
    subj_rule: dict[str, set[int]] = {}
    for r in rows:
        for rule in r["rules"].split(","):
            by_rule.setdefault(rule, {"rows": 0, "subjects": 0})["rows"] += 1
            subj_rule.setdefault(rule, set()).add(r["sid"])
    for rule, sids in subj_rule.items():
        by_rule[rule]["subjects"] = len(sids)
    seen: set[int] = set()
    for r in rows:
        if r["sid"] not in seen:
            seen.add(r["sid"])
            by_country[r["jurisdiction"] or "?"] = by_country.get(r["jurisdiction"] or "?", 0) + 1
    return {"steps": steps, "skipped_stores": plan.skipped, "rules": dict(sorted(by_rule.items())),
            "countries": dict(sorted(by_country.items(), key=lambda kv: -kv[1])), "subjects": len(seen)}


def files_field(dm: DataMap, collection: str) -> tuple[str, str] | None:
    """(files store name, field with the paths) when the collection's files are in a media folder."""
    if dm.tutela is None:
        return None
    for name, decl in dm.tutela.stores.items():
        if isinstance(decl, FilesStoreDecl) and collection in decl.collections:
            return name, decl.collections[collection].field
    return None


def key_families(dm: DataMap, stores: Mapping[str, Connector]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """{family: (store, placeholders)} of the key-value stores that were given."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, decl in (dm.tutela.stores.items() if dm.tutela else ()):
        if isinstance(decl, RedisStoreDecl) and name in stores:
            for fam, spec in decl.collections.items():
                out[fam] = (name, placeholders(spec.key, f"tutela.stores.{name}.collections.{fam}.key"))
    return out


def batch_size() -> int:
    """Keys per apply (TUTELA_REMEDIATE_BATCH; small values make more checkpoints, for tests)."""
    return settings.positive_int("TUTELA_REMEDIATE_BATCH", remediate.BATCH)


class Remediator:
    """Dry runs, jobs and resumes for one estate (what `Engine.remediate` drives)."""

    def __init__(self, policy: CompiledPolicy, book: Rulebook, cfg: EstateConfig, state: st.StateStore,
                 engine: EngineName = "duckdb", recorder: Recorder | None = None):
        self.policy, self.book, self.cfg, self.state, self.engine = policy, book, cfg, state, engine
        self.recorder = recorder  # the ledger: each finished attempt's steps and erasure receipts
        self.dm = load_datamap(cfg.datamap)

    def _stores(self) -> dict[str, Connector]:
        return open_stores(self.cfg, self.dm)

    def plan(self, rules: list[str], as_of: dt.date, stores: Mapping[str, Connector]) -> tuple[JobPlan, pa.Table]:
        source = EstateSource.open(self.cfg.url)
        try:
            settled = frozenset(self.state.settled_transfers(self.cfg.key))
            plan, affected = prepare(self.policy, self.book, self.dm, source, rules, as_of, settled,
                                     stores, self.engine)
        finally:
            source.close()
        remediate.check(plan, stores)
        return plan, affected

    def dry_run(self, rules: list[str], as_of: dt.date) -> dict[str, Any]:
        stores = self._stores()
        try:
            plan, affected = self.plan(rules, as_of, stores)
            return {"dry_run": True, **dry_run(plan, affected, stores)}
        finally:
            _close(stores)

    def execute(self, rules: list[str], as_of: dt.date, progress: remediate.Progress | None = None) -> dict[str, Any]:
        unfinished = [j["job_id"] for j in self.jobs() if j["status"] in ("planning", "running", "paused", "failed")]
        if unfinished:  # a new plan derived from a half-repaired estate would differ from the frozen one
            raise InputError(f"job {unfinished[0]} on this estate did not finish", where="--execute",
                             hint=f"finish it first: tutela remediate --resume {unfinished[0]}")
        job_id = remediate.new_job_id()
        spec = {"rules": rules, "as_of": as_of.isoformat(), "datamap": str(self.cfg.datamap or ""),
                "engine": self.engine, "batch": batch_size()}
        self.state.create_job(job_id, "remediation", redact(self.cfg.url), self.cfg.key, spec)
        return self._run(job_id, spec, progress)

    # -- four-eyes: a job one staff member plans, another approves, then it may run ------------
    def propose(self, rules: list[str], as_of: dt.date, by: str) -> dict[str, Any]:
        """A job awaiting approval: its dry run now (nothing is written to the estate); `by` created it."""
        dry = self.dry_run(rules, as_of)
        job_id = remediate.new_job_id()
        spec = {"rules": rules, "as_of": as_of.isoformat(), "datamap": str(self.cfg.datamap or ""),
                "engine": self.engine, "batch": batch_size(), "created_by": by, "dry_run": dry}
        self.state.create_job(job_id, "remediation", redact(self.cfg.url), self.cfg.key, spec,
                              status="pending_approval")
        return self.state.job(job_id)

    def approve(self, job_id: str, by: str) -> dict[str, Any]:
        """Approve a proposed job; NotAllowed when `by` created it (four-eyes)."""
        job = self._own(job_id)
        if job["status"] != "pending_approval":
            raise InputError(f"job {job_id} is {job['status']}; only a job awaiting approval can be approved",
                             where="job")
        four_eyes(job["spec"].get("created_by"), by, f"job {job_id}")
        spec = {**job["spec"], "approved_by": by, "approved_at": st.now().isoformat()}
        if not self.state.move_job(job_id, "pending_approval", "approved", spec):
            raise InputError(f"job {job_id} was approved or changed meanwhile", where="job")
        return self.state.job(job_id)

    def start(self, job_id: str, by: str, progress: remediate.Progress | None = None) -> dict[str, Any]:
        """Run an approved job (the plan is derived from the estate now, as `execute` does)."""
        job = self._own(job_id)
        if job["status"] == "pending_approval":
            raise InputError(f"job {job_id} is not approved yet", where="job",
                             hint="a second staff member approves it first")
        if job["status"] != "approved":
            raise InputError(f"job {job_id} is {job['status']}; it cannot start", where="job")
        others = [j["job_id"] for j in self.jobs() if j["status"] in ("planning", "running", "paused", "failed")]
        if others:
            raise InputError(f"job {others[0]} on this estate did not finish", where="job",
                             hint=f"finish it first: tutela remediate --resume {others[0]}")
        spec = {**job["spec"], "executed_by": by}
        if not self.state.move_job(job_id, "approved", "planning", spec):
            raise InputError(f"job {job_id} was started meanwhile", where="job")
        return self._run(job_id, spec, progress)

    def _own(self, job_id: str) -> dict[str, Any]:
        job = self.state.job(job_id)
        if job["estate_key"] != self.cfg.key:
            raise InputError(f"job {job_id} belongs to another estate ({job['estate']})", where="job")
        return job

    def resume(self, job_id: str, progress: remediate.Progress | None = None) -> dict[str, Any]:
        job = self.state.job(job_id)
        if job["estate_key"] != self.cfg.key:
            raise InputError(f"job {job_id} belongs to another estate ({job['estate']})", where="--estate")
        if job["status"] in ("pending_approval", "approved"):  # four-eyes: only an approved job starts, by `start`
            raise InputError(f"job {job_id} is {job['status']}; it has not started, so there is nothing to resume",
                             where="--resume", hint="approve and execute it in the console (docs/console.md)")
        return self._run(job_id, job["spec"], progress)

    def _run(self, job_id: str, spec: dict[str, Any], progress: remediate.Progress | None) -> dict[str, Any]:
        if self.recorder is not None:
            self.recorder.check()  # a ledger that is down stops the job before it changes anything
        stores = self._stores()
        try:
            job = self.state.job(job_id)
            already = job["status"] == "done"
            if job["status"] == "planning":  # nothing was written yet: derive (again) and freeze the plan
                plan, affected = self.plan(spec["rules"], dt.date.fromisoformat(spec["as_of"]), stores)
                summary = dry_run(plan, affected, None)  # the rows changed replace the planned ones
                remediate.save_plan(job_id, plan)
                spec = {**spec, "summary": summary}
                self.state.set_status(job_id, "running", spec=spec)
            done = remediate.execute(self.state, job_id, stores, progress, batch=int(spec.get("batch", 0)) or None)
        finally:
            _close(stores)
        summary = done.get("summary", {})
        steps = [{**s, "rows": n} for s, n in zip(summary.get("steps", []), done.get("changed", []), strict=False)]
        failed = done.get("failed", [])
        if self.recorder is not None and not already:
            self._record(job_id, steps, int(done.get("attempts", 1)))
        return {"dry_run": False, "job": job_id, "status": "done_with_errors" if failed else "done", **summary,
                "steps": steps, "failed": failed, "attempts": done.get("attempts", 1),
                "receipts": done.get("receipts", 0), "settled": done.get("settled", 0)}

    def jobs(self) -> list[dict[str, Any]]:
        return [j for j in self.state.jobs() if j["estate_key"] == self.cfg.key]

    def _record(self, job_id: str, steps: list[dict[str, Any]], attempt: int) -> None:
        """This attempt into the ledger: per step and rule what changed, per subject its receipt."""
        assert self.recorder is not None
        self.recorder.remediation(job_id, steps, dry_run=False)
        self.recorder.receipts(job_id, [r for r in self.state.receipts(job_id=job_id) if r["attempt"] == attempt])


def _close(stores: Mapping[str, Connector]) -> None:
    for s in stores.values():
        s.close()


def remediated_findings(book: Rulebook, state: st.StateStore, key: str) -> list[Finding]:
    """Per rule, what remediation jobs repaired in this estate, from their receipts."""
    subjects: dict[str, set[str]] = {}
    rows: dict[str, int] = {}
    for r in state.receipts(key=key):
        body = json.loads(r["body"])
        for change in body.get("changes", ()):
            if change.get("store") not in (ESTATE, "registry"):
                continue  # files and cache keys go with their rows: counted once, there
            if int(change.get("rows", 0)) == 0:
                continue  # nothing of it was changed (it failed): not remediated
            for rule in change.get("rules", ()):
                subjects.setdefault(rule, set()).add(r["subject"])
                rows[rule] = rows.get(rule, 0) + int(change["rows"])
    out = []
    for rule_id in sorted(subjects):
        scoped = book.rule_index.get(rule_id)
        if scoped is None:
            continue  # a rule no longer in this rulebook: its receipts stay, it is not listed
        rule = scoped.rule
        out.append(Finding(rule=rule.id, title=rule.title, effect=rule.effect, severity="resolved",
                           instrument=rule.citation.instrument, section=rule.citation.section,
                           url=rule.citation.url, subjects=len(subjects[rule_id]), rows=rows[rule_id],
                           age_from_signal=0, status="remediated"))
    return out


def resume_job(policy: CompiledPolicy, book: Rulebook, job_id: str, estate: str | None = None, *,
               media: Path | None = None, redis: str | None = None, progress: remediate.Progress | None = None,
               redis_prefix: str = "", recorder: Recorder | None = None) -> dict[str, Any]:
    """Resume job `job_id` against its estate (or `estate`, which must be given again when the
    job's URL had a password: Tutela does not keep passwords) from its last checkpoint."""
    state = st.StateStore()
    try:
        job = state.job(job_id)
        url = estate or job["estate"]
        if "***" in url:
            raise InputError(f"job {job_id}'s estate URL had a password, which Tutela does not keep",
                             where="--estate", hint="give --estate URL again")
        spec = job["spec"]
        dm = Path(spec["datamap"]) if spec["datamap"] else None
        cfg = EstateConfig(url, media=media, redis=redis, datamap=dm, redis_prefix=redis_prefix)
        return Remediator(policy, book, cfg, state, spec.get("engine", "duckdb"), recorder).resume(job_id, progress)
    finally:
        state.close()
