"""The Engine: the one core object the CLI, the API and the web pages call.

    engine = Engine()                       # the packaged rulebook
    decision = engine.decide({"subject": {...}, "act": {...}})
    result = engine.decide_arrow(table)     # columnar batch, see tutela.policy.batch
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutela import warmstart
from tutela.engine.flow import FlowMixin
from tutela.engine.maps import DatamapCheck as DatamapCheck  # the public name (tutela.models)
from tutela.engine.maps import MapsMixin
from tutela.engine.people import PeopleMixin
from tutela.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

    from tutela.audit import Findings, Progress
    from tutela.connectors.estate import EstateConfig as RightsEstate
    from tutela.datamap.check import Problem
    from tutela.ledger.recorder import Recorder
    from tutela.media import MediaResult, OnRefuse
    from tutela.policy import CompiledPolicy, Facts
    from tutela.policy.batch import BatchResult
    from tutela.policy.model import Decision, DecisionRequest
    from tutela.query import EngineName
    from tutela.repair import Progress as RemediationProgress
    from tutela.repair import Remediator
    from tutela.rights import RightsDesk
    from tutela.rulebook import Rulebook
    from tutela.staff import Accounts as StaffAccounts
    from tutela.staff import Office
    from tutela.staff.watch import Watch
    from tutela.store import StateStore


class Engine(MapsMixin, PeopleMixin, FlowMixin):
    """The one core object: decisions, audits, repair and rights here; data maps (`maps`), age and
    consent (`people`), guards, transfers, the ledger and evidence (`flow`) in its parts."""

    def __init__(self, rulebook: Rulebook | None = None, rulebook_path: Path | None = None):
        from tutela.rulebook import load_rulebook
        from tutela.taxonomy import load_taxonomy

        self._packaged = rulebook is None and rulebook_path is None
        warm = warmstart.load() if self._packaged else None
        if warm is not None:  # the packaged rulebook, validated and compiled by an earlier call
            self.rulebook, self.taxonomy, self.__dict__["compiled"] = warm
            return
        self.rulebook = rulebook or load_rulebook(rulebook_path)
        self.taxonomy = load_taxonomy()

    @cached_property
    def compiled(self) -> CompiledPolicy:
        from tutela.policy.compiled import CompiledPolicy

        policy = CompiledPolicy(self.rulebook, self.taxonomy)
        if self._packaged:
            warmstart.save(self.rulebook, self.taxonomy, policy)
        return policy

    @property
    def version(self) -> str:
        return self.rulebook.version

    def check_data(self, deadlines: Path | None = None, repairs: Path | None = None,
                   age: Path | None = None) -> list[Problem]:
        """What the rulebook, the deadlines, the repairs and the age requirements say about each other
        that does not hold."""
        from tutela.datacheck import check_data

        return check_data(self.rulebook, self.taxonomy, deadlines, repairs, age)

    def facts(self, request: DecisionRequest | dict[str, Any], where: str = "", reference: bool = False) -> Facts:
        """Validate and derive the facts (`reference=True`: by the specification's own reading)."""
        from tutela.policy import reference_facts
        from tutela.policy.compiled import today
        from tutela.policy.facts import derive
        from tutela.policy.model import DecisionRequest
        from tutela.policy.parse import parse_request

        req = request if isinstance(request, DecisionRequest) else parse_request(request, where)
        if req.subject.id is not None and not req.subject.grants:  # the consent store's grants (docs/consent.md)
            req = req.model_copy(update={"subject": req.subject.model_copy(
                update={"grants": self.consent.policy_grants(req.subject.id)})})
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
            from tutela.policy import reference as spec

            return spec.evaluate(self.rulebook, self.facts(request, where, reference=True))
        return self.compiled.decide(self.facts(request, where))

    def decide_reference(self, request: DecisionRequest | dict[str, Any]) -> Decision:
        return self.decide(request, reference=True)

    def decide_many(self, requests: Iterable[DecisionRequest | dict[str, Any]],
                    reference: bool = False) -> list[Decision]:
        """Validate every request first, then decide: a bad request fails the batch whole."""
        facts = [self.facts(r, where=f"[{i}]", reference=reference) for i, r in enumerate(requests)]
        if reference:
            from tutela.policy import reference as spec

            return [spec.evaluate(self.rulebook, f) for f in facts]
        return [self.compiled.decide(f) for f in facts]

    def decide_arrow(self, table: pa.Table) -> BatchResult:
        from tutela.policy.batch import decide_table

        return decide_table(self.compiled, table, strict=True)

    def audit(self, estate: str, datamap: Path | None = None, as_of: dt.date | None = None,
              progress: Progress | None = None, engine: EngineName = "duckdb",
              include_remediated: bool = False, state: StateStore | None = None,
              declarations: Path | None = None) -> Findings:
        """Every unlawful processing in the estate at `estate` (a URL), per rule: open findings
        (past transfers a remediation settled are not open), and with `include_remediated`
        what remediation jobs repaired, from their receipts."""
        from tutela.audit import run_audit
        from tutela.connectors.urls import estate_id
        from tutela.datamap import load_datamap
        from tutela.policy.compiled import today
        from tutela.query import EstateSource
        from tutela.repair import remediated_findings
        from tutela.store import StateStore

        dm = load_datamap(datamap, declarations)
        source = EstateSource.open(estate)
        store = state or StateStore.existing()  # an audit only reads: no state store, nothing settled
        key = estate_id(estate)
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
        from tutela.repair import Remediator
        from tutela.store import StateStore

        return Remediator(self.compiled, self.rulebook, estate, state or StateStore(), engine, self.recorder)

    def remediate(self, estate: str, findings: Path, execute: bool = False, datamap: Path | None = None,
                  as_of: dt.date | None = None, media: Path | None = None, redis: str | None = None,
                  progress: RemediationProgress | None = None, redis_prefix: str = "") -> dict[str, Any]:
        """Repair the findings selected by `findings` (rows derived again from the estate now). A dry
        run writes nothing, not even an empty state store: it reads the one there is, if any."""
        from tutela.connectors.estate import EstateConfig as RightsEstate
        from tutela.policy.compiled import today
        from tutela.repair import read_findings
        from tutela.store import StateStore

        rules = read_findings(findings, self.rulebook)
        state = None if execute else (StateStore.existing() or StateStore("sqlite://"))
        r = self.remediator(RightsEstate(estate, media=media, redis=redis, datamap=datamap, redis_prefix=redis_prefix),
                            state=state)
        try:
            day = as_of or today()
            return r.execute(rules, day, progress) if execute else r.dry_run(rules, day)
        finally:
            r.state.close()

    def remediation_resume(self, job_id: str, estate: str | None = None, media: Path | None = None,
                           redis: str | None = None, progress: RemediationProgress | None = None,
                           redis_prefix: str = "") -> dict[str, Any]:
        """Resume a paused or failed remediation job from its last checkpoint (docs/repair.md)."""
        from tutela.repair import resume_job

        return resume_job(self.compiled, self.rulebook, job_id, estate, media=media, redis=redis,
                          progress=progress, redis_prefix=redis_prefix, recorder=self.recorder)

    def remediation_jobs(self) -> list[dict[str, Any]]:
        from tutela.store import StateStore

        state = StateStore()
        try:
            return state.jobs()
        finally:
            state.close()

    @staticmethod
    def clean_media(paths: Iterable[Path], strict: bool = False, on_refuse: OnRefuse = "keep",
                    progress: Callable[[MediaResult], None] | None = None) -> list[MediaResult]:
        """The media sanitizer (`tutela.media`) over files, each on its own (docs/repair.md)."""
        from tutela.media import clean_many

        return clean_many(paths, strict=strict, on_refuse=on_refuse, progress=progress)

    def requests(self, estate: RightsEstate | None = None, state: StateStore | None = None) -> RightsDesk:
        """Rights requests (access, erasure) against `estate`; close the desk when done."""
        from tutela.rights import RightsDesk

        return RightsDesk(self.rulebook, self.taxonomy, estate, state, recorder=self.recorder)

    def office(self, estate: RightsEstate, state: StateStore | None = None, as_of: dt.date | None = None) -> Office:
        """The privacy team's console for `estate`: staff, audits kept, four-eyes jobs, requests (docs/console.md)."""
        from tutela.staff import Office

        return Office(self.rulebook, estate, lambda st: self.audit(estate.url, estate.datamap, as_of, state=st),
                      lambda st: self.remediator(estate, st), lambda st: self.requests(estate, st), state, as_of)

    def watch(self, estate: RightsEstate, state: StateStore | None = None, as_of: dt.date | None = None,
              deadline_days: int | None = None) -> Watch:
        """Scheduled audits of `estate` with notifications by e-mail and webhook (the notification settings;
        docs/console.md, "Scheduled audits"); `tick()` once, or `run(every, stop)`."""
        from tutela import settings
        from tutela.staff.watch import Watch, notifiers_from_env

        days = deadline_days if deadline_days is not None else settings.positive_int("TUTELA_NOTIFY_DEADLINE_DAYS", 3)
        return Watch(self.office(estate, state, as_of), notifiers_from_env(), days)

    @staticmethod
    def staff_accounts(state: StateStore | None = None) -> StaffAccounts:
        """Staff accounts of the console in the state store (`tutela staff add`)."""
        from tutela.staff import Accounts
        from tutela.store import StateStore

        return Accounts(state or StateStore())

    def demo(self, out: Path, accounts: int = 20_000, seed: int = 7, redis: str | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
        """`make demo`'s job: ClipStream into SQLite under `out`, audited, the report and the
        findings written beside it, a remediation dry run (writes nothing) and the example
        decisions. Returns what was made; the caller shows it and may serve the API."""
        from tutela.clipstream import AS_OF, generate, write_estate_cache
        from tutela.clipstream.examples import CASES

        say = progress or (lambda _msg: None)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the output folder: {exc.strerror}", where=str(out)) from None
        url = f"sqlite:///{out.resolve() / 'clipstream.db'}"
        say(f"generating ClipStream ({accounts:,} accounts)")
        # no media_dir: the generator writes where every reader of this estate looks (clipstream-media
        # beside clipstream.db, tutela.connectors.locations.media_folder), so nobody passes --media
        estate = generate(url, accounts, seed, progress=lambda table, done, total: say(f"writing {table}"))
        if redis:
            say("writing the session cache to Redis")
            write_estate_cache(url, redis, seed=seed)
        findings = self.audit(url, as_of=AS_OF, progress=lambda msg: say(f"audit: {msg}"))
        report, found = out.resolve() / "report.html", out.resolve() / "findings.json"
        report.write_text(self.report_html(findings, url, AS_OF), "utf-8")
        found.write_text(json.dumps([f.to_dict() for f in findings], indent=1, default=str), "utf-8")
        return {"estate": url, "tables": estate["tables"], "summary": estate, "report": report, "findings_file": found,
                "findings": findings, "remediation_dry_run": self.remediate(url, found, as_of=AS_OF),
                "decisions": [(title, self.decide(req)) for title, req in CASES]}

    # -- the ledger's recorder, which the capabilities write through (docs/ledger.md) ------

    @cached_property
    def recorder(self) -> Recorder | None:
        """What writes Tutela's acts into the ledger when TUTELA_LEDGER_URL is set (None otherwise;
        `record_to` picks another); the rulebook version is recorded when it changed (docs/ledger.md)."""
        from tutela.ledger.recorder import Recorder

        rec = Recorder.from_env(self.rulebook)
        if rec is not None:
            rec.rulebook_version()
        return rec

    def record_to(self, url: str) -> None:
        """Record into the ledger at `url` from now on (the pseudonym key still comes from the environment)."""
        from tutela.ledger.recorder import Recorder

        self.__dict__["recorder"] = rec = Recorder.from_env(self.rulebook, url)
        assert rec is not None
        rec.rulebook_version()
