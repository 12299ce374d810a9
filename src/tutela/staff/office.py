"""The privacy team's office: what the console's pages call, for one estate.

    office = engine.office(EstateConfig(url))
    account, sid = office.sign_in("alice", password)     # or None
    office.current()                                     # the latest audit, re-run when the estate changed
    job = office.plan(alice, ["EU-GDPR-8-..."]); office.approve_job(bob, job["job_id"]); office.start_job(bob, ...)

Every action checks the staff member's role (tutela.staff.roles); four-eyes (the creator of a
request or a job cannot approve it) is enforced below, by the rights desk and the remediator,
so the API and the CLI get it too. Pages show the latest stored audit; it is run again when a
remediation job or an erasure finished after it (in the console or anywhere else).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from tutela.audit import Findings
from tutela.connectors.estate import EstateConfig
from tutela.connectors.urls import estate_id, redact
from tutela.errors import InputError, TutelaError
from tutela.repair import Remediator
from tutela.rights import RightsDesk
from tutela.rulebook import Rulebook
from tutela.staff import views
from tutela.staff.accounts import Account, Accounts
from tutela.staff.audits import Audits
from tutela.staff.roles import require
from tutela.staff.sessions import Sessions
from tutela.store.state import StateStore, jobs

SYSTEM = "system"


class Office:
    def __init__(self, book: Rulebook, estate: EstateConfig, audit: Callable[[StateStore], Findings],
                 remediator: Callable[[StateStore], Remediator], desk: Callable[[StateStore], RightsDesk],
                 state: StateStore | None = None, as_of: dt.date | None = None):
        self.book, self.estate, self.as_of = book, estate, as_of
        self._audit, self._remediator, self._desk_factory = audit, remediator, desk
        self._own_state = state is None
        self.state = state or StateStore()
        self.accounts = Accounts(self.state)
        self.sessions = Sessions(self.state, self.accounts)
        self.audits = Audits(self.state)
        self.key = estate_id(estate.url)
        self.progress: dict[str, dict[str, Any]] = {}  # job id -> live progress of a job run here
        self._lock = threading.Lock()
        self._audit_lock = threading.RLock()
        self._desk: RightsDesk | None = None

    # -- who ---------------------------------------------------------------------------------
    def sign_in(self, name: str, password: str) -> tuple[Account, str] | None:
        account = self.accounts.check(name, password)
        return None if account is None else (account, self.sessions.open(account))

    def account(self, session_id: str | None) -> Account | None:
        return self.sessions.account(session_id)

    def sign_out(self, session_id: str | None) -> None:
        self.sessions.close(session_id)

    # -- audits ------------------------------------------------------------------------------
    def day(self) -> dt.date:
        return self.as_of or dt.datetime.now(dt.UTC).date()

    def run_audit(self, who: Account | None) -> dict[str, Any]:
        """Audit the estate now and keep it (who: a DPO, or None for the console itself)."""
        if who is not None:
            require(who.name, who.role, "audit.run")
        with self._audit_lock:
            return self._audit_now(who.name if who else SYSTEM)

    def _audit_now(self, by: str) -> dict[str, Any]:
        return self.audits.save(self.key, self.day(), by, self._audit(self.state))

    def current(self) -> dict[str, Any]:
        """The latest audit; a new one when there is none or the estate changed since."""
        with self._audit_lock:  # two pages asking at once run one audit, not two
            latest = self.audits.latest(self.key)
            changed = self._changed_at()
            if latest is None or (changed is not None and changed >= latest["at_time"]):
                return self._audit_now(SYSTEM)
            return latest

    def report_findings(self) -> tuple[Findings, dt.date]:
        """The current audit as Findings for the HTML report, and its day."""
        view = self.current()
        return Audits.as_findings(view), dt.date.fromisoformat(view["as_of"])

    @property
    def estate_name(self) -> str:
        return redact(self.estate.url)

    def trend(self) -> list[dict[str, Any]]:
        return self.audits.history(self.key)

    def finding(self, rule: str) -> dict[str, Any]:
        hit = next((f for f in self.current()["findings"] if f["rule"] == rule), None)
        if hit is None:
            raise InputError(f"no open finding for rule `{rule}` in the latest audit", where="rule")
        return views.finding_detail(self.book, hit)

    def _changed_at(self) -> dt.datetime | None:
        """When a remediation job or a rights request of this estate last finished."""
        with self.state.engine.connect() as c:
            job = c.execute(sa.select(sa.func.max(jobs.c.updated_at)).where(
                jobs.c.estate_key == self.key, jobs.c.status.in_(("done", "done_with_errors")))).scalar()
        done = [r["completed_at"] for r in self.desk().list(status="done", limit=1) if r["completed_at"]]
        times = [t for t in (job, dt.datetime.fromisoformat(done[0]) if done else None) if t is not None]
        return max(times) if times else None

    # -- remediation (four-eyes: plan, approve by another, then execute) ----------------------
    def plan(self, who: Account, rules: list[str]) -> dict[str, Any]:
        require(who.name, who.role, "remediation.plan")
        open_rules = {f["rule"] for f in self.current()["findings"] if f["status"] == "open"}
        bad = [r for r in rules if r not in open_rules]
        if not rules or bad:
            raise InputError(f"not an open finding: `{bad[0]}`" if bad else "choose at least one finding",
                             where="rules")
        return views.job(self._remediator(self.state).propose(sorted(set(rules)), self.day(), who.name))

    def approve_job(self, who: Account, job_id: str) -> dict[str, Any]:
        require(who.name, who.role, "remediation.approve")
        return views.job(self._remediator(self.state).approve(job_id, who.name))

    def start_job(self, who: Account, job_id: str) -> dict[str, Any]:
        """Start an approved job in the background; its progress is in `job(job_id)`."""
        require(who.name, who.role, "remediation.execute")
        job = self.job(job_id)
        if job["status"] != "approved":
            raise InputError(f"job {job_id} is {job['status']}; only an approved job can start", where="job",
                             hint="a second staff member approves it first" if job["status"] == "pending_approval"
                             else None)
        with self._lock:
            if self.progress.get(job_id, {}).get("status") == "running":
                raise InputError(f"job {job_id} is running already", where="job")
            self.progress[job_id] = {"status": "running", "message": "starting", "done": 0, "total": 0}
        threading.Thread(target=self._run_job, args=(job_id, who.name), daemon=True,
                         name=f"tutela-job-{job_id}").start()
        return self.job(job_id)

    def _run_job(self, job_id: str, by: str) -> None:
        live = self.progress[job_id]

        def step(message: str, done: int, total: int) -> None:
            live.update(message=message, done=done, total=total)

        try:
            out = self._remediator(self.state).start(job_id, by, step)
            live.update(status=out["status"], message="done; auditing again")
            self.run_audit(None)  # every page shows the estate as it is now
            live.update(message="done")
        except TutelaError as exc:
            live.update(status="failed", message=exc.message)

    def jobs(self) -> list[dict[str, Any]]:
        return [self._with_progress(views.job(j)) for j in self.state.jobs() if j["estate_key"] == self.key]

    def job(self, job_id: str) -> dict[str, Any]:
        job = self.state.job(job_id)
        if job["estate_key"] != self.key:
            raise InputError(f"job {job_id} belongs to another estate", where="job")
        return self._with_progress(views.job(job))

    def _with_progress(self, job: dict[str, Any]) -> dict[str, Any]:
        live = self.progress.get(job["job_id"])
        return {**job, "live": dict(live) if live else None}

    # -- rights requests ---------------------------------------------------------------------
    def desk(self) -> RightsDesk:
        with self._lock:
            if self._desk is None:
                self._desk = self._desk_factory(self.state)
            return self._desk

    def create_request(self, who: Account, data: dict[str, Any]) -> dict[str, Any]:
        require(who.name, who.role, "requests.create")
        return self.desk().create(data, by=who.name)

    def decide_request(self, who: Account, request_id: str, action: str, text: str = "") -> dict[str, Any]:
        require(who.name, who.role, "requests.decide")
        d = self.desk()
        if action == "approve":
            return d.approve(request_id, by=who.name, note=text or None)
        if action == "reject":
            return d.reject(request_id, by=who.name, reason=text)
        if action == "extend":
            return d.extend(request_id, by=who.name, reason=text)
        raise InputError(f"unknown action `{action}`", where="action", hint="approve, reject or extend")

    def run_request(self, who: Account, request_id: str) -> dict[str, Any]:
        require(who.name, who.role, "requests.run")
        return self.desk().run(request_id)

    def requests(self, status: str | None = None) -> list[dict[str, Any]]:
        return views.queue(self.desk().list(status=status, limit=1000), dt.datetime.now(dt.UTC).date())

    def request(self, request_id: str) -> dict[str, Any]:
        return self.desk().show(request_id)

    # -- the rulebook and the data map -------------------------------------------------------
    def rulebook(self) -> list[dict[str, Any]]:
        return views.rulebook(self.book, self.day())

    def jurisdiction(self, code: str) -> dict[str, Any]:
        return views.jurisdiction(self.book, code, self.day())

    def datamap(self) -> dict[str, Any]:
        return views.datamap(self.estate.datamap)

    def close(self) -> None:
        if self._desk is not None:
            self._desk.close()
        if self._own_state:
            self.state.close()
