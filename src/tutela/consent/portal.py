"""The parent portal's facade: magic-link sign-in for a guardian, the children linked to them,
what is held about each child and who receives it, grants and revocations as a verified
guardian, and the child's data downloaded or deleted through the rights desk (docs/portal.md).

    portal = engine.portal(EstateConfig(url))
    portal.send_sign_in("parent@example.org", "https://app.example/portal/link")   # emailed, or nothing
    sid = portal.redeem(token)                 # single use, expiring: a session id for the cookie
    gid = portal.guardian(sid)                 # who is signed in (None: nobody)
    portal.child(gid, "42")                    # NotAllowed unless the guardian is linked to the child
    portal.grant(gid, "42", "precise_location"); portal.revoke(gid, "42", "precise_location")
    portal.download(gid, "42"); portal.delete(gid, "42")

Secrets (links, sessions) are `secrets.token_urlsafe`; only their SHA-256 is stored and compared
in constant time. Nothing here logs an address, a token or a child's data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, Literal, Protocol

import sqlalchemy as sa

from tutela import settings
from tutela.consent import portal_tables as pt
from tutela.consent import tables as t
from tutela.consent.desk import ConsentDesk
from tutela.consent.errors import ConsentRefused
from tutela.consent.results import add_grant, parental_end
from tutela.datamap import load_datamap
from tutela.errors import InputError, NotAllowed
from tutela.transfers.sources import open_registry

BAD_SIGNIN = "unknown, used or expired sign-in link"
NOT_YOURS = "no child of yours has this account"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Rights(Protocol):
    """What the portal needs of the rights desk (tutela.rights.RightsDesk)."""

    def create(self, raw: Any, by: str, approval: Literal["staff", "parent"] = "staff") -> dict[str, Any]: ...
    def run(self, request_id: str, allow_unreachable: bool = False,
            allow_partial: bool = False) -> dict[str, Any]: ...
    def export(self, request_id: str) -> tuple[dict[str, Any], str]: ...
    def close(self) -> None: ...


class Estate(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def datamap(self) -> Any: ...


class ParentPortal:
    def __init__(self, desk: ConsentDesk, rights: Callable[[], Rights] | None = None, estate: Estate | None = None):
        self.desk = desk
        self._make_rights = rights
        self._desk_rights: Rights | None = None
        self.estate = estate
        self._datamap: Any = None

    def close(self) -> None:
        if self._desk_rights is not None:
            self._desk_rights.close()
            self._desk_rights = None

    def _rights(self) -> Rights:
        if self._make_rights is None:
            raise InputError("no estate to find the child's data in", where="estate",
                             hint="serve the portal with --estate URL")
        if self._desk_rights is None:
            self._desk_rights = self._make_rights()
        return self._desk_rights

    @property
    def clock(self) -> Callable[[], dt.datetime]:
        return self.desk.clock

    # -- sign-in ---------------------------------------------------------------------------
    def send_sign_in(self, email: str, link_base: str) -> bool:
        """Email a single-use sign-in link to `email` when it is a guardian's address the consent
        store knows; whether one was sent (the page says the same either way)."""
        if "@" not in email or len(email) > 254:
            raise InputError("not an email address", where="email")
        gid = self.desk.guardian_by_email(email)
        if gid is None:
            return False
        with self.desk.state.engine.connect() as c:
            known = c.execute(sa.select(t.guardians.c.email).where(t.guardians.c.guardian_id == gid)).scalar()
        if not known:  # contact details purged: nobody to write to
            return False
        minutes = settings.positive_int("TUTELA_PORTAL_LINK_MINUTES", 30)
        token = secrets.token_urlsafe(32)
        when = self.clock()
        with self.desk.state.tx() as c:
            c.execute(pt.signins.insert().values(token_hash=_digest(token), guardian_id=gid, created_at=when,
                                                 expires_at=when + dt.timedelta(minutes=minutes)))
            # the token rides in the fragment: browsers never send it, so no server log holds it
            self.desk.mailer.send(str(known), "Your sign-in link to the parent portal",
                                  f"Sign in to the parent portal here (single use, valid {minutes} minutes):\n"
                                  f"{link_base}#{token}\n\nIf you did not ask for this, ignore this email.\n")
        return True

    def redeem(self, token: str) -> str:
        """Use a sign-in link: a new session id (the cookie's value), or an InputError."""
        if not 20 <= len(token) <= 128:
            raise InputError(BAD_SIGNIN, where="token", hint="ask for a new link")
        key = _digest(token)
        when = self.clock()
        with self.desk.state.tx() as c:
            row = c.execute(sa.select(pt.signins).where(pt.signins.c.token_hash == key)).mappings().first()
            if row is None or not hmac.compare_digest(row["token_hash"].encode(), key.encode()) \
                    or row["used_at"] is not None or row["expires_at"] <= when:
                raise InputError(BAD_SIGNIN, where="token", hint="ask for a new link")
            used = c.execute(pt.signins.update().where((pt.signins.c.token_hash == key)
                                                       & pt.signins.c.used_at.is_(None)).values(used_at=when))
            if used.rowcount != 1:  # a concurrent use won
                raise InputError(BAD_SIGNIN, where="token", hint="ask for a new link")
            # what can never be used again goes: links used or expired a day ago, sessions ended
            c.execute(pt.signins.delete().where(pt.signins.c.expires_at < when - dt.timedelta(days=1)))
            c.execute(pt.sessions.delete().where(pt.sessions.c.expires_at <= when))
            sid = secrets.token_urlsafe(32)
            hours = settings.positive_int("TUTELA_PORTAL_SESSION_HOURS", 12)
            c.execute(pt.sessions.insert().values(id_hash=_digest(sid), guardian_id=row["guardian_id"],
                                                  created_at=when, expires_at=when + dt.timedelta(hours=hours)))
        return sid

    def guardian(self, session_id: str | None) -> str | None:
        """The guardian a live session belongs to, or None."""
        if not session_id or len(session_id) > 128:
            return None
        key = _digest(session_id)
        with self.desk.state.engine.connect() as c:
            row = c.execute(sa.select(pt.sessions).where(pt.sessions.c.id_hash == key)).mappings().first()
        if row is None or not hmac.compare_digest(row["id_hash"].encode(), key.encode()) \
                or row["expires_at"] <= self.clock():
            return None
        return str(row["guardian_id"])

    def sign_out(self, session_id: str) -> None:
        with self.desk.state.tx() as c:
            c.execute(pt.sessions.delete().where(pt.sessions.c.id_hash == _digest(session_id)))

    # -- the children ----------------------------------------------------------------------
    def children(self, gid: str) -> list[dict[str, Any]]:
        return self.desk.children(gid)

    def _linked(self, gid: str, subject: str) -> bool:
        """NotAllowed unless `gid` is linked to `subject`; whether the link is verified."""
        for ch in self.desk.children(gid):
            if ch["subject"] == subject:
                return bool(ch["verified"])
        raise NotAllowed(NOT_YOURS, where="subject")

    def _verified(self, gid: str, subject: str) -> None:
        if not self._linked(gid, subject):
            raise ConsentRefused("a consent method has not verified you for this child yet", where="subject",
                                 hint="open the consent link we emailed you first")

    def child(self, gid: str, subject: str) -> dict[str, Any]:
        """What the portal shows a guardian about one of their children."""
        verified = self._linked(gid, subject)
        acct = self.desk.account(subject)
        when = self.clock()
        grants = [{"grant_id": g.grant_id, "scope": g.scope, "title": self.desk.book.scopes[g.scope].title,
                   "by": g.by, "method": g.method, "state": g.state(when), "granted_at": g.granted_at,
                   "revoked_at": g.revoked_at, "expires_at": g.expires_at}
                  for g in reversed(self.desk.grants(subject))]
        live = {g["scope"] for g in grants if g["state"] == "active"}
        method = self._method(gid)
        excluded = self.desk.book.method(method).excluded() if method else {}
        scopes = [{"scope": s, "title": sc.title, "live": s in live, "grantable": s not in excluded}
                  for s, sc in self.desk.book.scopes.items() if s != "account"]
        return {"subject": subject, "verified": verified, "jurisdiction": acct["jurisdiction"], "mode": acct["mode"],
                "settings": acct["settings"], "grants": grants, "scopes": scopes,
                "categories": self.categories(), "recipients": self.recipients()}

    def recipients(self) -> list[dict[str, Any]] | None:
        """Who receives the service's data: the estate's recipient registry (its processors), or
        None when the estate keeps none."""
        if self.estate is None:
            return None
        try:
            reg = open_registry(None, self.estate.url, self.estate.datamap)
        except InputError:
            return None
        return [{"name": r.name, "kind": r.kind, "country": r.country, "purpose": r.purpose} for r in reg]

    def categories(self) -> list[dict[str, Any]]:
        """The data categories the service's data map says it holds, with the collections holding them."""
        if self.estate is None:
            return []
        if self._datamap is None:
            self._datamap = load_datamap(self.estate.datamap)
        where: dict[str, set[str]] = {}

        def walk(coll: str, fields: Any) -> None:
            for f in fields:
                for cat in f.data_categories:
                    where.setdefault(cat, set()).add(coll)
                walk(coll, f.fields)

        for coll in self._datamap.dataset.collections:
            for cat in coll.data_categories:
                where.setdefault(cat, set()).add(coll.name)
            walk(coll.name, coll.fields)
        return [{"category": k, "collections": sorted(v)} for k, v in sorted(where.items())
                if k.startswith("user.")]

    def _method(self, gid: str) -> str | None:
        with self.desk.state.engine.connect() as c:
            m = c.execute(sa.select(t.guardians.c.method).where(t.guardians.c.guardian_id == gid)).scalar()
        return None if m is None else str(m)

    # -- grants ----------------------------------------------------------------------------
    def grant(self, gid: str, subject: str, scope: str) -> str:
        """The verified guardian's consent to `scope`, by the method that verified them (its limits
        apply); a confirmation email follows (the "plus"). The new grant id."""
        self.desk.book.scope(scope, where="scope")
        self._verified(gid, subject)
        method = self._method(gid)
        if method is None:
            raise ConsentRefused("no consent method has verified you", where="subject")
        m = self.desk.book.method(method)
        limit = m.excluded().get(scope)
        if limit is not None:
            raise ConsentRefused(f"`{method}` cannot give consent to `{scope}` ({limit.id})", where="scope",
                                 hint="a stronger verification method is needed for this scope")
        when = self.clock()
        with self.desk.state.tx() as c:
            acct = c.execute(sa.select(t.accounts.c.jurisdiction).where(t.accounts.c.subject == subject)).scalar()
            ends = parental_end(self.desk, c, subject, str(acct), when)
            gid_new = add_grant(c, subject, scope, "parent", gid, m.id, m.assurance, self.desk._notice(c), None,
                                when, ends)
            email = c.execute(sa.select(t.guardians.c.email).where(t.guardians.c.guardian_id == gid)).scalar()
            if email:
                self.desk.mailer.send(str(email), "You gave your consent",
                                      f"You consented to: {self.desk.book.scopes[scope].title}.\nYou can revoke it "
                                      "at any time from the parent portal; it stops at once.\n")
        return gid_new

    def revoke(self, gid: str, subject: str, scope: str) -> list[str]:
        """Revoke the child's live grants of `scope` (a linked guardian may always withdraw consent)."""
        self.desk.book.scope(scope, where="scope")
        self._linked(gid, subject)
        return self.desk.revoke(subject, by=f"guardian:{gid}", scope=scope)

    # -- the child's data (the rights desk) ------------------------------------------------
    def _rights_request(self, gid: str, subject: str, raw: dict[str, Any]) -> tuple[Rights, dict[str, Any]]:
        """Raise and run a request as the child's verified guardian: a verified parent's own request
        needs no staff step (`approval="parent"`, docs/portal.md), so it runs at once."""
        self._verified(gid, subject)
        rights = self._rights()
        made = rights.create({**raw, "subject": subject, "requester": {"kind": "parent", "ref": f"guardian:{gid}"}},
                             by=f"guardian:{gid}"[:64], approval="parent")
        return rights, rights.run(made["id"])

    def download(self, gid: str, subject: str) -> dict[str, Any]:
        """An access request run at once: the export (every store searched, or it says which not)."""
        rights, done = self._rights_request(gid, subject, {"kind": "access"})
        return rights.export(done["id"])[0]

    def delete(self, gid: str, subject: str) -> dict[str, Any]:
        """An erasure of the child's account, run at once; its result and receipt."""
        _rights, done = self._rights_request(gid, subject, {"kind": "erasure", "scope": "account"})
        return done
