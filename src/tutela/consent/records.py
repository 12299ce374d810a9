"""What the consent desk answers: grants (with their state on a day) and their policy form."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, get_args

from tutela.consent.config import ConsentBook
from tutela.policy.model import Grant
from tutela.rulebook.models import Assurance

GrantState = Literal["active", "revoked", "expired", "needs_renewal"]


@dataclass(frozen=True)
class GrantRecord:
    """One scope granted by a parent (or by the subject), with its notice version, method,
    assurance, time, expiry, revocation and renewal mark."""

    grant_id: str
    subject: str
    scope: str
    by: str
    guardian_id: str | None
    method: str
    assurance: str
    notice_version: str
    request_id: str | None
    granted_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    renewal_needed_at: dt.datetime | None

    def state(self, now: dt.datetime) -> GrantState:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.renewal_needed_at is not None and self.renewal_needed_at <= now:
            return "needs_renewal"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_dict(self, now: dt.datetime) -> dict[str, Any]:
        out = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in self.__dict__.items()}
        out["state"] = self.state(now)
        return out

    def to_policy(self, book: ConsentBook) -> Grant | None:
        """The decision's view of this grant: the rulebook scopes it satisfies, by whom, at what
        assurance, on which days. The method and notice version stay in the consent store (the
        policy reads neither); a method limit or a renewal mark ends the grant's validity."""
        scope = book.scopes.get(self.scope)
        if scope is None or not scope.rulebook:
            return None
        if self.by == "parent" and self.scope in book.method(self.method).excluded():
            return None  # e.g. email plus cannot stand for a third-party disclosure consent
        ends = [t for t in (self.revoked_at, self.renewal_needed_at) if t is not None]
        assurance: Assurance = next((a for a in get_args(Assurance) if a == self.assurance), "declared")
        return Grant(scopes=scope.rulebook, by="self" if self.by == "self" else "parent", assurance=assurance,
                     granted_at=self.granted_at.date(),
                     expires_at=None if self.expires_at is None else self.expires_at.date(),
                     revoked_at=min(ends).date() if ends else None)
