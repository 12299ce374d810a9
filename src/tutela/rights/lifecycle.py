"""Rights requests (access, erasure) in Tutela's state store: create, approve or reject, extend, claim a run.

A request's life:

    pending_approval --approve--> approved --run--> done
           |                          |    \\-----> failed --run--> done (a run is idempotent)
           \\--reject--> rejected      \\--reject--> rejected

Who may ask: a staff member creates a request, for the child (`requester.kind = subject`), on
behalf of a parent (`parent`) or of their own motion (`staff`); a staff member approves it
(`approval = staff`, four-eyes). A request the child's guardian raises in the parent portal, once a
consent method verified the guardian for that child, is approved by that verification
(`approval = parent`, tutela.consent.portal): no staff step. The store keeps identifiers and
counts, never the data itself, except the access export, which is what the requester receives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.dialects import mysql

from tutela.errors import InputError, NotAllowed, validation_message
from tutela.rights.deadlines import DeadlineBook, Due, Kind
from tutela.store.state import StateStore, canonical, meta, now

Status = Literal["pending_approval", "approved", "rejected", "done", "failed"]
STATUSES: tuple[str, ...] = ("pending_approval", "approved", "rejected", "done", "failed")
OPEN = ("pending_approval", "approved", "failed")
STALE_RUN = dt.timedelta(minutes=15)  # a claim older than this belongs to a run that died

rights_requests = sa.Table(
    "rights_requests", meta,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # access | erasure
    sa.Column("scope", sa.String(16), nullable=False),  # all (access) | data | account (erasure)
    sa.Column("estate_key", sa.String(64), nullable=False, index=True),
    sa.Column("estate", sa.String(512), nullable=False),  # URL without password
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("jurisdiction", sa.String(16), nullable=False),
    sa.Column("codes", sa.Text, nullable=False),  # JSON: the jurisdiction and the regimes it inherits
    sa.Column("age", sa.Integer),  # the subject's age on `received`, when the estate knows it
    sa.Column("requester_kind", sa.String(16), nullable=False),  # staff | parent | subject
    sa.Column("requester_ref", sa.String(200)),  # a ticket or case number, not a name
    sa.Column("approval", sa.String(16), nullable=False),  # staff (the only kind implemented)
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("received", sa.Date, nullable=False),
    sa.Column("status", sa.String(24), nullable=False, index=True),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("note", sa.Text),  # why rejected / why extended (no personal data)
    sa.Column("extended", sa.Boolean, nullable=False),
    sa.Column("extended_at", sa.DateTime),
    sa.Column("due", sa.Date),
    sa.Column("running_since", sa.DateTime),
    sa.Column("completed_at", sa.DateTime),
    sa.Column("result", sa.Text),  # JSON summary: rows per collection, receipt digest (counts only)
    sa.Column("error", sa.Text),  # why the last run failed (no personal data)
    sa.Column("stores", sa.Text),  # JSON: where each declared store is, without secrets (tutela.connectors.places)
)

rights_exports = sa.Table(  # the access export the requester receives, kept until delivered
    "rights_exports", meta,
    sa.Column("request_id", sa.String(40), primary_key=True),
    # canonical JSON; LONGTEXT on MariaDB/MySQL (TEXT there holds 64 KB), plain TEXT elsewhere (PostgreSQL
    # refuses a length on TEXT, so `Text(length=...)` made the state store fail to open there)
    sa.Column("body", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Requester(_Strict):
    kind: Literal["staff", "parent", "subject"] = "staff"
    ref: str | None = Field(default=None, max_length=200)  # a ticket or case number, not a name


class NewRequest(_Strict):
    kind: Kind
    subject: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")
    scope: Literal["data", "account"] | None = None
    jurisdiction: str | None = Field(default=None, min_length=2, max_length=16)
    received: dt.date | None = None
    requester: Requester = Requester()
    note: str | None = Field(default=None, max_length=500)
    age: int | None = Field(default=None, ge=0, le=130)  # declared, for an estate with no birth dates
    policy: dict[str, Any] | None = None  # an erasure policy by data category (tutela.datamap.erasure)
    allow_unreachable: bool = False  # proceed although the data map has unreachable collections

    @field_validator("subject", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


def parse_request(raw: Any, today: dt.date) -> NewRequest:
    """Validate a new request; errors name the field (`body.subject`, `body.scope` ...)."""
    if not isinstance(raw, dict):
        raise InputError("a request must be a JSON object", where="body")
    try:
        req = NewRequest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(validation_message(err), where=f"body.{loc}" if loc else "body") from None
    if req.kind == "erasure" and req.scope is None:
        raise InputError("an erasure needs a `scope`", where="body.scope",
                         hint="`data` follows the data map's erasure rules (delete or mask per collection); "
                              "`account` deletes every row, file and key")
    if req.kind == "access" and req.scope is not None:
        raise InputError("`scope` is for erasures; an access export covers everything", where="body.scope")
    if req.policy is not None and (req.kind != "erasure" or req.scope != "data"):
        raise InputError("an erasure policy is for an erasure with scope `data`", where="body.policy",
                         hint="`account` deletes every row; an access export covers everything")
    if req.received is not None and req.received > today:
        raise InputError(f"`received` is in the future: {req.received}", where="body.received")
    if req.received is not None and req.received < today - dt.timedelta(days=3 * 366):
        raise InputError(f"`received` is more than three years ago: {req.received}", where="body.received")
    return req


class RequestStore:
    """Rights requests over a StateStore (its SQLite file or `TUTELA_STATE`)."""

    def __init__(self, state: StateStore, deadlines: DeadlineBook):
        self.state = state
        self.deadlines = deadlines

    # -- writing
    def create(self, req: NewRequest, *, estate_key: str, estate: str, jurisdiction: str, codes: list[str],
               age: int | None, by: str, today: dt.date, stores: dict[str, Any] | None = None,
               approval: Literal["staff", "parent"] = "staff") -> dict[str, Any]:
        """Store a new request: awaiting a staff member's approval, or (`approval="parent"`: raised by
        the child's guardian whom a consent method verified) approved by that verification."""
        if approval == "parent" and req.requester.kind != "parent":
            raise InputError("only a parent's own request is approved by the parent's verification",
                             where="body.requester.kind")
        received = req.received or today
        due = self.deadlines.due(codes, req.kind, received, age)
        row = {"request_id": uuid.uuid4().hex[:16], "kind": req.kind, "scope": req.scope or "all",
               "estate_key": estate_key, "estate": estate, "subject": req.subject, "jurisdiction": jurisdiction,
               "codes": json.dumps(codes), "age": age, "requester_kind": req.requester.kind,
               "requester_ref": req.requester.ref, "approval": approval, "created_by": by, "created_at": now(),
               "received": received, "status": "pending_approval" if approval == "staff" else "approved",
               "decided_by": by if approval == "parent" else None,
               "decided_at": now() if approval == "parent" else None, "note": req.note, "extended": False,
               "due": due.due, "stores": canonical(stores) if stores is not None else None}
        with self.state.tx() as c:
            c.execute(rights_requests.insert().values(**row))
        return self.get(str(row["request_id"]))

    def decide(self, request_id: str, by: str, approve: bool, note: str | None = None) -> dict[str, Any]:
        """Approve or reject a request awaiting approval (a rejection may also stop an approved one)."""
        allowed = ("pending_approval",) if approve else ("pending_approval", "approved", "failed")
        if approve:
            four_eyes(self.row(request_id)["created_by"], by, f"request `{request_id}`")
        values: dict[str, Any] = {"status": "approved" if approve else "rejected", "decided_by": by,
                                  "decided_at": now()}
        if not approve:
            values["completed_at"] = now()
        if note:
            values["note"] = _append(self.row(request_id)["note"], note)
        self._transition(request_id, allowed, values, "approve" if approve else "reject")
        return self.get(request_id)

    def extend(self, request_id: str, by: str, reason: str, today: dt.date) -> dict[str, Any]:
        row = self.row(request_id)
        if row["status"] not in OPEN:
            raise InputError(f"request `{request_id}` is {row['status']}; only an open request can be extended",
                             where="request_id")
        if row["extended"]:
            raise InputError(f"request `{request_id}` was already extended; the law allows one extension",
                             where="request_id")
        due = self._due(row)
        if due.extendable_until is None:
            raise InputError("no law that applies to this request allows an extension", where="request_id")
        if today > due.extendable_until:
            raise InputError(f"too late to extend: the requester had to be told by {due.extendable_until}",
                             where="request_id")
        longer = self._due({**row, "extended": True})
        note = _append(row["note"], f"extended by {by}: {reason}")
        self._transition(request_id, OPEN, {"extended": True, "extended_at": now(), "due": longer.due,
                                            "note": note}, "extend")
        return self.get(request_id)

    def claim(self, request_id: str) -> dict[str, Any]:
        """Mark an approved (or failed) request as running; a second concurrent claim fails."""
        row = self.row(request_id)
        if row["status"] == "pending_approval":
            raise InputError(f"request `{request_id}` is not approved yet", where="request_id",
                             hint="a staff member approves it first: `tutela requests approve`")
        if row["status"] not in ("approved", "failed"):
            raise InputError(f"request `{request_id}` is {row['status']}; it cannot run", where="request_id")
        t = now()
        with self.state.tx() as c:
            q = (rights_requests.update()
                 .where(rights_requests.c.request_id == request_id,
                        rights_requests.c.status.in_(("approved", "failed")),
                        sa.or_(rights_requests.c.running_since.is_(None),
                               rights_requests.c.running_since < t - STALE_RUN))
                 .values(running_since=t))
            if c.execute(q).rowcount != 1:
                raise InputError(f"request `{request_id}` is already running", where="request_id")
        return self.get(request_id)

    def finish(self, request_id: str, result: dict[str, Any], export: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.state.tx() as c:
            if export is not None:
                body = canonical(export)
                c.execute(rights_exports.delete().where(rights_exports.c.request_id == request_id))
                c.execute(rights_exports.insert().values(request_id=request_id, body=body,
                                                         digest=hashlib.sha256(body.encode()).hexdigest(), at=now()))
            c.execute(rights_requests.update().where(rights_requests.c.request_id == request_id).values(
                status="done", running_since=None, completed_at=now(), result=canonical(result), error=None))
        return self.get(request_id)

    def fail(self, request_id: str, error: str) -> None:
        with self.state.tx() as c:
            c.execute(rights_requests.update().where(rights_requests.c.request_id == request_id).values(
                status="failed", running_since=None, error=error[:2000]))

    # -- reading
    def get(self, request_id: str, today: dt.date | None = None) -> dict[str, Any]:
        return self.view(self.row(request_id), today)

    def list(self, status: str | None = None, kind: str | None = None, subject: str | None = None,
             limit: int = 100, today: dt.date | None = None) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InputError(f"unknown status `{status}`", where="status", hint=", ".join(STATUSES))
        if kind is not None and kind not in ("access", "erasure"):
            raise InputError(f"unknown kind `{kind}`", where="kind", hint="access or erasure")
        if not 1 <= limit <= 1000:
            raise InputError(f"`limit` must be between 1 and 1000, got {limit}", where="limit")
        q = sa.select(rights_requests).order_by(rights_requests.c.created_at.desc(),
                                                rights_requests.c.request_id).limit(limit)
        if status:
            q = q.where(rights_requests.c.status == status)
        if kind:
            q = q.where(rights_requests.c.kind == kind)
        if subject:
            q = q.where(rights_requests.c.subject == subject)
        with self.state.engine.connect() as c:
            rows = [dict(r) for r in c.execute(q).mappings()]
        return [self.view(r, today) for r in rows]

    def last_completed(self, estate_key: str) -> dt.datetime | None:
        """When a request on this estate was last answered (None: never)."""
        q = sa.select(sa.func.max(rights_requests.c.completed_at)).where(
            rights_requests.c.estate_key == estate_key, rights_requests.c.status == "done")
        with self.state.engine.connect() as c:
            got = c.execute(q).scalar()
        return got if isinstance(got, dt.datetime) else None

    def export(self, request_id: str) -> tuple[dict[str, Any], str]:
        row = self.row(request_id)
        if row["kind"] != "access":
            raise InputError(f"request `{request_id}` is an erasure; its receipt is in `tutela requests show`",
                             where="request_id")
        with self.state.engine.connect() as c:
            hit = c.execute(sa.select(rights_exports.c.body, rights_exports.c.digest)
                            .where(rights_exports.c.request_id == request_id)).first()
        if hit is None:
            raise InputError(f"request `{request_id}` has not run yet ({row['status']})", where="request_id",
                             hint="approve it, then run it: `tutela requests run`")
        return json.loads(hit[0]), str(hit[1])

    def view(self, row: dict[str, Any], today: dt.date | None = None) -> dict[str, Any]:
        day = today or now().date()
        due = self._due(row)
        status = row["status"]
        result = json.loads(row["result"]) if row["result"] else None
        return {
            "id": row["request_id"], "kind": row["kind"], "scope": row["scope"], "subject": row["subject"],
            "jurisdiction": row["jurisdiction"], "estate": row["estate"], "status": status,
            "requester": {"kind": row["requester_kind"], "ref": row["requester_ref"]},
            "approval": row["approval"], "created_by": row["created_by"],
            "created_at": _iso(row["created_at"]), "received": row["received"].isoformat(),
            "decided_by": row["decided_by"], "decided_at": _iso(row["decided_at"]), "note": row["note"],
            "due": due.due.isoformat() if due.due else None, "extended": bool(row["extended"]),
            "overdue": due.overdue(day, status in OPEN), "no_fixed_period": due.no_fixed_period,
            "extendable_until": due.extendable_until.isoformat() if due.extendable_until and not row["extended"]
            and status in OPEN else None,
            "deadline": due.basis, "unverified_deadlines": due.unverified,
            "running": row["running_since"] is not None, "completed_at": _iso(row["completed_at"]),
            "answered_late": (status == "done" and due.due is not None and row["completed_at"] is not None
                              and row["completed_at"].date() > due.due),
            "result": result, "error": row["error"],
            "stores": json.loads(row["stores"]) if row.get("stores") else None,  # recorded at create
            "partial": result is not None and result.get("complete") is False,  # a store was not searched
        }

    def _due(self, row: dict[str, Any]) -> Due:
        return self.deadlines.due(json.loads(row["codes"]), row["kind"], row["received"], row["age"],
                                  bool(row["extended"]))

    def row(self, request_id: str) -> dict[str, Any]:
        with self.state.engine.connect() as c:
            row = c.execute(sa.select(rights_requests)
                            .where(rights_requests.c.request_id == request_id)).mappings().first()
        if row is None:
            raise InputError(f"no rights request `{request_id}`", where="request_id",
                             hint="`tutela requests list` shows them")
        return dict(row)

    def _transition(self, request_id: str, allowed: tuple[str, ...], values: dict[str, Any], verb: str) -> None:
        row = self.row(request_id)
        with self.state.tx() as c:
            n = c.execute(rights_requests.update()
                          .where(rights_requests.c.request_id == request_id,
                                 rights_requests.c.status.in_(allowed),
                                 rights_requests.c.running_since.is_(None))
                          .values(**values)).rowcount
        if n != 1:
            state = "running" if row["running_since"] is not None else row["status"]
            raise InputError(f"cannot {verb} request `{request_id}`: it is {state}", where="request_id")


def four_eyes(creator: str | None, approver: str, what: str) -> None:
    """Whoever created a request (or a job) cannot approve it: NotAllowed when the names match."""
    if creator is not None and creator.casefold() == approver.casefold():
        raise NotAllowed(f"four-eyes: `{approver}` created {what} and cannot approve it", where="approver",
                         hint="another staff member approves it")


def _append(old: str | None, new: str) -> str:
    """Notes accumulate (creation, approval, extension, rejection), oldest first."""
    return f"{old}; {new}" if old else new


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None
