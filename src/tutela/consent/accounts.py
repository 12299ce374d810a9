"""A minor's account settings and who may loosen them (privacy by default).

Raising privacy is always allowed to the subject and to a linked guardian. Lowering it (a move
towards the end of a setting's list in consent.yaml) needs the right person with the right grant:

- below the age of digital consent, or where a guardian must be linked (BR under 16): a linked
  guardian whom a method verified, holding a live parental grant of the scope that unlocks the
  setting (`public_profile` for `profile_visibility`, ...);
- otherwise (a minor at or above that age): the subject, or such a guardian. The subject's own
  choice is recorded as the subject's grant of the scope (`by: self`, method `self`, assurance
  `declared`), and switching the setting back to its most private value revokes it;
- never while the account is in data-lite mode (consent pending).

An unverified or unlinked adult is refused (ConsentRefused), and nothing changes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tutela.consent import tables as t
from tutela.consent.errors import ConsentRefused
from tutela.consent.results import add_grant
from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.consent.desk import ConsentDesk


def account(desk: ConsentDesk, subject: str) -> dict[str, Any]:
    with desk.state.engine.connect() as c:
        row = c.execute(sa.select(t.accounts).where(t.accounts.c.subject == subject)).mappings().first()
        links = c.execute(sa.select(t.links).where((t.links.c.subject == subject) & t.links.c.unlinked_at.is_(None))
                          ).mappings().all()
    if row is None:
        raise InputError(f"no account `{subject}`", where="subject")
    return {"subject": subject, "jurisdiction": row["jurisdiction"], "mode": row["mode"],
            "data_lite": desk.data_lite() if row["mode"] == "data_lite" else None,
            "settings": json.loads(row["settings"]),
            "guardians": [{"guardian_id": r["guardian_id"], "verified": r["verified_at"] is not None} for r in links]}


def grant_self(desk: ConsentDesk, subject: str, scopes: list[str]) -> list[str]:
    """The subject's own consent to `scopes` (`by: self`): at or above the age of digital consent,
    or below it where the child consents together with the parent (FR: `below: parent_and_child`,
    whose decisions ask for both). Below it elsewhere, only a parent consents (refused)."""
    for i, s in enumerate(scopes):
        desk.book.scope(s, where=f"scopes[{i}]")
    if not scopes:
        raise InputError("give at least one scope", where="scopes")
    when = desk.clock()
    with desk.state.tx() as c:
        row = c.execute(sa.select(t.accounts).where(t.accounts.c.subject == subject)).mappings().first()
        if row is None:
            raise InputError(f"no account `{subject}`", where="subject")
        entry = desk.rulebook.digital_consent(row["jurisdiction"], when.date())
        if entry is not None and desk._age(row, when.date()) < entry.age and entry.below == "parent":
            raise ConsentRefused(f"below the age of digital consent in `{row['jurisdiction']}` ({entry.age}) "
                                 "a parent consents", where="subject", hint="send the parent a consent request")
        notice = desk._notice(c)
        return [add_grant(c, subject, s, "self", None, "self", "declared", notice, None, when) for s in scopes]


def children(desk: ConsentDesk, guardian_id: str) -> list[dict[str, Any]]:
    """The accounts a guardian is linked to, each with whether the link is verified: what a parent
    portal shows a signed-in parent (and the only children it may show them)."""
    with desk.state.engine.connect() as c:
        rows = c.execute(sa.select(t.links.c.subject, t.links.c.verified_at, t.accounts.c.jurisdiction,
                                   t.accounts.c.mode)
                         .join(t.accounts, t.accounts.c.subject == t.links.c.subject)
                         .where((t.links.c.guardian_id == guardian_id) & t.links.c.unlinked_at.is_(None))
                         .order_by(t.links.c.created_at)).all()
    return [{"subject": r[0], "verified": r[1] is not None, "jurisdiction": r[2], "mode": r[3]} for r in rows]


def guardian_by_email(desk: ConsentDesk, email: str) -> str | None:
    """The guardian id registered for `email` (looked up by its digest), or None."""
    from tutela.consent.desk import email_digest

    with desk.state.engine.connect() as c:
        gid = c.execute(sa.select(t.guardians.c.guardian_id)
                        .where(t.guardians.c.email_digest == email_digest(email))).scalar()
    return None if gid is None else str(gid)


def link_guardian(desk: ConsentDesk, subject: str, email: str) -> str:
    """An adult asks to be linked to a child's account: linked, but unverified until a method
    verifies them through a consent request. Returns the guardian id."""
    when = desk.clock()
    with desk.state.tx() as c:
        if not c.execute(sa.select(t.accounts.c.subject).where(t.accounts.c.subject == subject)).first():
            raise InputError(f"no account `{subject}`", where="subject")
        gid = desk._guardian(c, email, when)
        have = c.execute(sa.select(t.links.c.subject).where((t.links.c.subject == subject)
                                                            & (t.links.c.guardian_id == gid))).first()
        if have is None:
            c.execute(t.links.insert().values(subject=subject, guardian_id=gid, created_at=when))
    return gid


def change_setting(desk: ConsentDesk, subject: str, setting: str, value: str, actor: str) -> dict[str, Any]:
    """Set one setting as `actor` (`self` or `guardian:<id>`); the account afterwards."""
    book = desk.book
    if setting not in book.settings:
        raise InputError(f"unknown setting `{setting}`", where="setting", hint="one of " + ", ".join(book.settings))
    if value not in book.settings[setting]:
        raise InputError(f"`{value}` is no value of `{setting}`", where="value",
                         hint="one of " + ", ".join(book.settings[setting]))
    when = desk.clock()
    with desk.state.tx() as c:
        row = c.execute(sa.select(t.accounts).where(t.accounts.c.subject == subject)).mappings().first()
        if row is None:
            raise InputError(f"no account `{subject}`", where="subject")
        values = json.loads(row["settings"])
        guardian = _guardian_standing(c, subject, actor)
        if actor != "self" and guardian is None:
            raise ConsentRefused("only the account holder or a linked guardian may change its settings",
                                 where="actor")
        old = values.get(setting, book.settings[setting][0])
        scope = book.scope_for_setting(setting)
        if book.lowers(setting, old, value):
            if _may_lower(desk, c, row, setting, actor, guardian) and scope is not None:
                # the subject switched it on: that is the subject's own consent (e.g. AADC std 10)
                add_grant(c, subject, scope, "self", None, "self", "declared", desk._notice(c), None, when)
        elif scope is not None and actor == "self" and value == book.settings[setting][0]:
            # switched back to the most private value: the subject's own consent ends with it
            c.execute(t.grants.update().where((t.grants.c.subject == subject) & (t.grants.c.scope == scope)
                                              & (t.grants.c.by == "self") & t.grants.c.revoked_at.is_(None))
                      .values(revoked_at=when, revoked_by="self"))
        values[setting] = value
        c.execute(t.accounts.update().where(t.accounts.c.subject == subject)
                  .values(settings=json.dumps(values), updated_at=when))
    return account(desk, subject)


def _guardian_standing(c: sa.Connection, subject: str, actor: str) -> bool | None:
    """None: not a linked guardian; else whether the link is verified."""
    if not actor.startswith("guardian:"):
        return None
    gid = actor.removeprefix("guardian:")
    link = c.execute(sa.select(t.links.c.verified_at).where(
        (t.links.c.subject == subject) & (t.links.c.guardian_id == gid) & t.links.c.unlinked_at.is_(None))).first()
    if link is None:
        return None
    verified = c.execute(sa.select(t.guardians.c.verified_at).where(t.guardians.c.guardian_id == gid)).scalar()
    return link[0] is not None and verified is not None


def _may_lower(desk: ConsentDesk, c: sa.Connection, row: Any, setting: str, actor: str,
               guardian: bool | None) -> bool:
    """Refuse, or allow: True when it is the subject's own choice (a self grant follows)."""
    if row["mode"] == "data_lite":
        raise ConsentRefused("the account waits for a parent's consent (data-lite): no setting can be loosened",
                             where="value")
    day = desk.clock().date()
    j = desk.rulebook.jurisdiction(row["jurisdiction"])
    age = desk._age(row, day)
    consent_age = desk.consent_age(j.code, day)
    needs_guardian = (consent_age is not None and age < consent_age) or \
        desk.book.guardian_link(j.code, j.inherits, age, day) is not None
    if not needs_guardian and actor == "self":
        return True
    if guardian is not True:
        raise ConsentRefused("only a linked guardian whose identity a consent method verified may loosen this "
                             "child's settings", where="actor", hint="verify the guardian through a consent request")
    scope = desk.book.scope_for_setting(setting)
    gid = actor.removeprefix("guardian:")
    when = desk.clock()
    live = scope is not None and c.execute(sa.select(t.grants.c.grant_id).where(
        (t.grants.c.subject == row["subject"]) & (t.grants.c.scope == scope) & (t.grants.c.by == "parent")
        & (t.grants.c.guardian_id == gid) & t.grants.c.revoked_at.is_(None) & t.grants.c.renewal_needed_at.is_(None)
        & (t.grants.c.expires_at.is_(None) | (t.grants.c.expires_at > when)))).first() is not None
    if not live:
        raise ConsentRefused(f"loosening `{setting}` needs this guardian's live grant of scope `{scope}`",
                             where="value")
    return False
