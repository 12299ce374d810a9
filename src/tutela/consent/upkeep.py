"""Upkeep of consent: a notice change that asks for renewal, and the erasure of contact details of
requests nobody answered (COPPA §312.5(c)(1): delete them if consent is not obtained after a
reasonable time; consent.yaml `data_lite.delete_after_days`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tutela.consent import tables as t
from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.consent.desk import ConsentDesk


def publish_notice(desk: ConsentDesk, version: str, scopes: Iterable[str]) -> int:
    """A new privacy notice; a material change to `scopes` marks their live grants given under
    an earlier notice as needing renewal (they stop counting). How many were marked."""
    changed = list(scopes)
    for i, s in enumerate(changed):
        desk.book.scope(s, where=f"scopes[{i}]")
    when = desk.clock()
    with desk.state.tx() as c:
        if c.execute(sa.select(t.notices.c.version).where(t.notices.c.version == version)).first():
            raise InputError(f"notice version `{version}` exists already", where="version")
        c.execute(t.notices.insert().values(version=version, published_at=when, scopes=json.dumps(changed)))
        if not changed:
            return 0
        q = (t.grants.c.scope.in_(changed) & t.grants.c.revoked_at.is_(None)
             & t.grants.c.renewal_needed_at.is_(None) & (t.grants.c.notice_version != version))
        marked: int = c.execute(t.grants.update().where(q).values(renewal_needed_at=when)).rowcount
        return marked


def purge(desk: ConsentDesk) -> int:
    """Erase the email of guardians whose only requests expired unconfirmed more than
    `data_lite.delete_after_days` ago (COPPA §312.5(c)(1)); how many were erased."""
    cutoff = desk.clock() - dt.timedelta(days=desk.book.data_lite.delete_after_days)
    with desk.state.tx() as c:
        stale = {r for (r,) in c.execute(sa.select(t.requests.c.guardian_id).where(
            t.requests.c.status.in_(("pending", "link_confirmed")) & (t.requests.c.expires_at < cutoff)))}
        keep = {r for (r,) in c.execute(sa.select(t.guardians.c.guardian_id).where(
            t.guardians.c.verified_at.is_not(None)))}
        keep |= {r for (r,) in c.execute(sa.select(t.requests.c.guardian_id).where(
            t.requests.c.expires_at >= cutoff))}
        gone = sorted(stale - keep)
        if gone:
            c.execute(t.guardians.update().where(t.guardians.c.guardian_id.in_(gone)).values(email=None))
            c.execute(t.requests.update().where(t.requests.c.guardian_id.in_(gone)
                                                & t.requests.c.status.in_(("pending", "link_confirmed")))
                      .values(status="expired"))
    return len(gone)
