"""The Engine: the one core object the CLI, the API and the web pages call.

    engine = Engine()                       # the packaged rulebook
    decision = engine.decide({"subject": {...}, "act": {...}})
    result = engine.decide_arrow(table)     # columnar batch, see tutela.policy.batch
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa

from tutela.datamap import load_datamap
from tutela.datamap.check import Problem
from tutela.errors import InputError
from tutela.guard.stream import StreamGuard
from tutela.guard.stream_config import Keyring
from tutela.media import MediaResult, OnRefuse, clean_many
from tutela.policy import CompiledPolicy, Decision, DecisionRequest, Facts, derive, reference_facts
from tutela.policy import reference as spec
from tutela.policy.batch import BatchResult, decide_table
from tutela.policy.compiled import today
from tutela.policy.parse import parse_request
from tutela.rulebook import Rulebook, load_rulebook
from tutela.services.audit import Finding, Progress, run_audit
from tutela.services.backends import EngineName
from tutela.services.datacheck import check_data
from tutela.services.remediate import Progress as RemediationProgress
from tutela.services.remediation import Remediator, read_findings, remediated_findings
from tutela.services.rights import EstateConfig as RightsEstate
from tutela.services.rights import RightsDesk
from tutela.services.source import EstateSource
from tutela.services.state import StateStore, estate_key
from tutela.taxonomy import Taxonomy, load_taxonomy


class Engine:
    def __init__(self, rulebook: Rulebook | None = None, rulebook_path: Path | None = None):
        self.rulebook = rulebook or load_rulebook(rulebook_path)
        self.taxonomy: Taxonomy = load_taxonomy()

    @cached_property
    def compiled(self) -> CompiledPolicy:
        return CompiledPolicy(self.rulebook, self.taxonomy)

    @property
    def version(self) -> str:
        return self.rulebook.version

    def check_data(self, deadlines: Path | None = None, repairs: Path | None = None) -> list[Problem]:
        """What the rulebook, the deadlines and the repairs say about each other that does not hold."""
        return check_data(self.rulebook, self.taxonomy, deadlines, repairs)

    def facts(self, request: DecisionRequest | dict[str, Any], where: str = "", reference: bool = False) -> Facts:
        """Validate and derive the facts (`reference=True`: by the specification's own reading)."""
        req = request if isinstance(request, DecisionRequest) else parse_request(request, where)
        try:
            return (reference_facts.derive if reference else derive)(self.rulebook, self.taxonomy, req, today())
        except InputError as exc:
            if where:  # name the request within a batch, e.g. `[2].act.category`
                exc.where = f"{where}.{exc.where}" if exc.where else where
            raise

    def decide(self, request: DecisionRequest | dict[str, Any], where: str = "",
               reference: bool = False) -> Decision:
        """Decide one request (compiled evaluator; `reference=True` for the specification)."""
        if reference:
            return spec.evaluate(self.rulebook, self.facts(request, where, reference=True))
        return self.compiled.decide(self.facts(request, where))

    def decide_reference(self, request: DecisionRequest | dict[str, Any]) -> Decision:
        return self.decide(request, reference=True)

    def decide_many(self, requests: Iterable[DecisionRequest | dict[str, Any]],
                    reference: bool = False) -> list[Decision]:
        """Validate every request first, then decide: a bad request fails the batch whole."""
        facts = [self.facts(r, where=f"[{i}]", reference=reference) for i, r in enumerate(requests)]
        if reference:
            return [spec.evaluate(self.rulebook, f) for f in facts]
        return [self.compiled.decide(f) for f in facts]

    def decide_arrow(self, table: pa.Table) -> BatchResult:
        return decide_table(self.compiled, table)

    def audit(self, estate: str, datamap: Path | None = None, as_of: dt.date | None = None,
              progress: Progress | None = None, engine: EngineName = "duckdb",
              include_remediated: bool = False, state: StateStore | None = None) -> list[Finding]:
        """Every unlawful processing in the estate at `estate` (a URL), per rule: open findings
        (past transfers a remediation settled are not open), and with `include_remediated`
        what remediation jobs repaired, from their receipts."""
        dm = load_datamap(datamap)
        source = EstateSource.open(estate)
        store = state or StateStore.existing()  # an audit only reads: no state store, nothing settled
        key = estate_key(estate)
        try:
            settled = frozenset(store.settled_transfers(key)) if store else frozenset()
            found = run_audit(self.compiled, self.rulebook, dm, source, as_of or today(), progress, engine,
                              settled=settled)
            if include_remediated and store is not None:
                found += remediated_findings(self.rulebook, store, key)
            return found
        finally:
            source.close()
            if state is None and store is not None:
                store.close()

    def remediator(self, estate: RightsEstate, state: StateStore | None = None,
                   engine: EngineName = "duckdb") -> Remediator:
        """Dry runs, remediation jobs and resumes for one estate (see docs/repair.md)."""
        return Remediator(self.compiled, self.rulebook, estate, state or StateStore(), engine)

    def remediate(self, estate: str, findings: Path, execute: bool = False, datamap: Path | None = None,
                  as_of: dt.date | None = None, media: Path | None = None, redis: str | None = None,
                  progress: RemediationProgress | None = None, redis_prefix: str = "") -> dict[str, Any]:
        """Repair the findings selected by `findings` (rows derived again from the estate now)."""
        rules = read_findings(findings, self.rulebook)
        r = self.remediator(RightsEstate(estate, media=media, redis=redis, datamap=datamap, redis_prefix=redis_prefix))
        try:
            day = as_of or today()
            return r.execute(rules, day, progress) if execute else r.dry_run(rules, day)
        finally:
            r.state.close()

    def remediation_resume(self, job_id: str, estate: str | None = None, media: Path | None = None,
                           redis: str | None = None, progress: RemediationProgress | None = None,
                           redis_prefix: str = "") -> dict[str, Any]:
        state = StateStore()
        try:
            job = state.job(job_id)
            url = estate or job["estate"]
            if "***" in url:
                raise InputError(f"job {job_id}'s estate URL had a password, which Tutela does not keep",
                                 where="--estate", hint="give --estate URL again")
            spec = job["spec"]
            dm = Path(spec["datamap"]) if spec["datamap"] else None
            cfg = RightsEstate(url, media=media, redis=redis, datamap=dm, redis_prefix=redis_prefix)
            return Remediator(self.compiled, self.rulebook, cfg, state, spec.get("engine", "duckdb")).resume(
                job_id, progress)
        finally:
            state.close()

    def remediation_jobs(self) -> list[dict[str, Any]]:
        state = StateStore()
        try:
            return state.jobs()
        finally:
            state.close()

    @staticmethod
    def clean_media(paths: Iterable[Path], strict: bool = False, on_refuse: OnRefuse = "keep",
                    progress: Callable[[MediaResult], None] | None = None) -> list[MediaResult]:
        """The media sanitizer (`tutela.media`) over files, each on its own (docs/repair.md)."""
        return clean_many(paths, strict=strict, on_refuse=on_refuse, progress=progress)

    def requests(self, estate: RightsEstate | None = None, state: StateStore | None = None) -> RightsDesk:
        """Rights requests (access, erasure) against `estate`; close the desk when done."""
        return RightsDesk(self.rulebook, self.taxonomy, estate, state)


    def stream_guard(self, state: pa.Table | Path | str, keys: Keyring | None = None, config: Path | None = None,
                     refresh_ms: int = 1000) -> StreamGuard:
        """The stream guard over platform events (docs/guard.md): `state` a subject-state table or a
        Parquet/Arrow file re-read when it changes (checked every `refresh_ms`); keys from
        TUTELA_STREAM_KEYS unless given."""
        return StreamGuard.build(self.compiled, state, keys=keys, config=config, refresh_ms=refresh_ms)
