"""A verification method's result for a consent request, and the grants it makes: the guardian
verified and linked, one grant per scope asked for less those the method's limits exclude, each
expiring on the first day the child may consent alone. Runs inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tutela.consent import tables as t
from tutela.consent.errors import ConsentRefused
from tutela.consent.methods import REGISTRY
from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.consent.desk import ConsentDesk


def _id() -> str:
    return uuid.uuid4().hex


def complete(desk: ConsentDesk, c: sa.Connection, request_id: str, method: str, outcome: str, reported_by: str,
             channel: str, reference: str | None, scopes: Iterable[str] | None) -> dict[str, Any]:
    """Record a method's result for `request_id` on the connection `c` (the caller's transaction)."""
    m = desk.book.method(method)
    plugin = REGISTRY.get(m.id)
    if plugin is None:
        raise InputError(f"method `{method}` has no plug-in", where="method")
    plugin.check_report(channel, reported_by, reference)
    if outcome not in ("passed", "failed"):
        raise InputError(f"unknown outcome `{outcome}`", where="outcome", hint="passed or failed")
    when = desk.clock()
    if m.effective_from > when.date():
        raise ConsentRefused(f"method `{method}` is not a recognised method before {m.effective_from}",
                             where="method")
    req = desk._request_row(c, request_id)
    if req["status"] not in ("pending", "link_confirmed"):
        raise InputError(f"consent request `{request_id}` is {req['status']}", where="request_id")
    j = desk.rulebook.jurisdiction(req["jurisdiction"])
    basis = desk.book.basis(m.id, j.code, j.inherits)
    if basis is None:
        raise ConsentRefused(f"no cited basis accepts method `{m.id}` in `{j.code}`", where="method",
                             hint="consent.yaml method_basis lists where each method counts")
    asked = list(req["scopes"])
    chosen = asked if scopes is None else list(scopes)
    for i, s in enumerate(chosen):
        if s not in asked:
            raise InputError(f"scope `{s}` was not asked for in this request", where=f"scopes[{i}]")
    excluded = m.excluded()
    granted = [s for s in chosen if s not in excluded]
    refused = [{"scope": s, "limit": excluded[s].id, "citation": excluded[s].citation.model_dump()}
               for s in chosen if s in excluded]
    c.execute(t.evidence.insert().values(evidence_id=_id(), request_id=request_id, method=m.id, outcome=outcome,
                                         reported_by=reported_by[:64], reference=reference, at=when))
    status = "granted" if outcome == "passed" else "refused"
    c.execute(t.requests.update().where(t.requests.c.request_id == request_id)
              .values(status=status, completed_at=when, method=m.id))
    if outcome == "passed":
        gid, subject = req["guardian_id"], req["subject"]
        c.execute(t.guardians.update().where(t.guardians.c.guardian_id == gid)
                  .values(verified_at=when, method=m.id, assurance=m.assurance))
        c.execute(t.links.update().where((t.links.c.subject == subject) & (t.links.c.guardian_id == gid))
                  .values(verified_at=when))
        ends = parental_end(desk, c, subject, req["jurisdiction"], when)
        for s in granted:
            add_grant(c, subject, s, "parent", gid, m.id, m.assurance, req["notice_version"], request_id,
                      when, ends)
        if "account" in granted:
            c.execute(t.accounts.update().where(t.accounts.c.subject == subject)
                      .values(mode="full", updated_at=when))
        if plugin.confirmation_email:
            email = c.execute(sa.select(t.guardians.c.email).where(t.guardians.c.guardian_id == gid)).scalar()
            if email:
                desk.mailer.send(str(email), "You gave your consent",
                                 "You consented to: " + ", ".join(granted) + ".\nYou can revoke any of it "
                                 "at any time from the parent portal; it stops at once.\n")
    return {"request_id": request_id, "status": "granted" if outcome == "passed" else "refused",
            "method": m.id, "assurance": m.assurance, "basis": basis.id,
            "granted": granted if outcome == "passed" else [], "refused": refused}


def parental_end(desk: ConsentDesk, c: sa.Connection, subject: str, code: str, when: dt.datetime) -> dt.datetime | None:
    """When a parent's grant expires: the day by which the child has surely reached the age of
    digital consent (age A seen on day D: born on or before D minus A years), when the child
    consents alone. Before then the decision itself reads the age it is given (`by: holder`)."""
    acct = c.execute(sa.select(t.accounts.c.age, t.accounts.c.age_on).where(t.accounts.c.subject == subject)
                     ).first()
    consent_age = desk.consent_age(code, when.date())
    if acct is None or consent_age is None or acct[0] >= consent_age:
        return None
    seen: dt.date = acct[1]
    years = consent_age - int(acct[0])
    try:
        last = seen.replace(year=seen.year + years)
    except ValueError:  # seen on 29 February
        last = seen.replace(year=seen.year + years, day=28) + dt.timedelta(days=1)
    return dt.datetime.combine(last, dt.time())


def add_grant(c: sa.Connection, subject: str, scope: str, by: str, gid: str | None, method: str,
              assurance: str, notice: str, request_id: str | None, when: dt.datetime,
              expires: dt.datetime | None = None) -> str:
    # a new grant of a scope replaces the live one by the same party (kept as history, revoked now);
    # a parent's and the child's own consent stand side by side (FR asks for both)
    c.execute(t.grants.update().where((t.grants.c.subject == subject) & (t.grants.c.scope == scope)
                                      & (t.grants.c.by == by) & t.grants.c.revoked_at.is_(None))
              .values(revoked_at=when, revoked_by="superseded"))
    grant_id = _id()
    c.execute(t.grants.insert().values(grant_id=grant_id, subject=subject, scope=scope, by=by, guardian_id=gid,
                                       method=method, assurance=assurance, notice_version=notice,
                                       request_id=request_id, granted_at=when, expires_at=expires))
    return grant_id
