"""The consent desk: sign-up, consent requests and links, method results, per-scope grants,
revocation, renewal on a notice change, and the privacy settings a minor's account starts from.

    desk = ConsentDesk(rulebook, StateStore(url))
    up = desk.sign_up("child-1", "NL", age=12, parent_email="parent@example.org")   # link emailed
    desk.confirm(token)                                # the parent opens the link (email plus)
    desk.grants("child-1"); desk.revoke("child-1", scope="precise_location", by="guardian:...")
    desk.policy_grants("child-1")                      # what Engine.decide reads

Every write is one transaction; a link email that cannot be sent rolls the request back.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tutela import settings
from tutela.consent import tables as t
from tutela.consent.config import ConsentBook, load_consent
from tutela.consent.errors import ConsentRefused
from tutela.consent.mailer import Mailer, SmtpMailer
from tutela.consent.records import GrantRecord
from tutela.consent.results import complete
from tutela.consent.tokens import digest, new_token, same
from tutela.errors import InputError
from tutela.policy.model import Grant
from tutela.rulebook import Rulebook
from tutela.store.state import StateStore, now

if TYPE_CHECKING:
    from tutela.ledger.recorder import Recorder

BAD_LINK = "unknown, used or expired consent link"
FIRST_NOTICE = "1"


def _id() -> str:
    return uuid.uuid4().hex


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _ledgered(method: _Method) -> _Method:
    """A change of grants: refused up front when the ledger is down, flushed to it after commit."""
    @functools.wraps(method)
    def wrapper(self: ConsentDesk, *args: Any, **kwargs: Any) -> Any:
        if self.recorder is not None:
            self.recorder.check()
        result = method(self, *args, **kwargs)
        self.flush_ledger()
        return result
    return cast(_Method, wrapper)


class ConsentDesk:
    def __init__(self, rulebook: Rulebook, state: StateStore, book: ConsentBook | None = None,
                 mailer: Mailer | None = None, clock: Callable[[], dt.datetime] = now,
                 recorder: Recorder | None = None):
        self.rulebook, self.state = rulebook, state
        self.recorder = recorder  # the ledger: every grant and revocation, through the outbox (consent.outbox)
        self.book = book or load_consent()
        self.mailer = mailer or SmtpMailer()
        self.clock = clock

    def close(self) -> None:
        self.state.close()

    def flush_ledger(self) -> int:
        """Write the grants and revocations the ledger does not hold yet (tutela.consent.outbox)."""
        from tutela.consent.outbox import flush

        return flush(self)

    # -- the law on a day -------------------------------------------------------------------
    def consent_age(self, jurisdiction: str, day: dt.date) -> int | None:
        entry = self.rulebook.digital_consent(jurisdiction, day)
        return None if entry is None else entry.age

    def defaults(self, jurisdiction: str, age: int, day: dt.date | None = None) -> dict[str, Any]:
        """The settings a new account of this age starts from here, each entry cited."""
        day = day or self.clock().date()
        j = self.rulebook.jurisdiction(jurisdiction)
        values, hits = self.book.defaults_for(j.code, j.inherits, age, day)
        link = self.book.guardian_link(j.code, j.inherits, age, day)
        return {"jurisdiction": j.code, "age": age, "settings": values, "consent_age": self.consent_age(j.code, day),
                "guardian_link_required": link is not None,
                "citations": [{"id": d.id, **d.citation.model_dump()} for d in hits]
                + ([{"id": link.id, **link.citation.model_dump()}] if link else [])}

    def data_lite(self) -> dict[str, Any]:
        """What an account may collect and do while its consent request is pending, cited."""
        lite = self.book.data_lite
        return {"collect": list(lite.collect), "allowed_uses": list(lite.allowed_uses), "scopes_on": [],
                "delete_contact_after_days": lite.delete_after_days,
                "citations": [c.model_dump() for c in lite.citations]}

    # -- sign-up and requests ---------------------------------------------------------------
    def sign_up(self, subject: str, jurisdiction: str, age: int, parent_email: str | None = None,
                scopes: Iterable[str] = (), link_base: str | None = None) -> dict[str, Any]:
        """Open a minor's account from the defaults; below the age of digital consent (or where a
        guardian must be linked) also a consent request, whose single-use link is emailed."""
        if not subject or len(subject) > 64:
            raise InputError("a subject id of 1 to 64 characters is required", where="subject")
        if not 0 <= age <= 130:
            raise InputError(f"not an age: `{age}`", where="age")
        when = self.clock()
        d = self.defaults(jurisdiction, age, when.date())
        below = d["consent_age"] is not None and age < d["consent_age"]
        asked = ["account", *[s for s in scopes if s != "account"]]
        for i, s in enumerate(asked):
            self.book.scope(s, where=f"scopes[{i}]")
        needs = below or d["guardian_link_required"]
        if needs and not parent_email:
            raise InputError("a parent's email is needed: this account needs a parent's consent",
                             where="parent_email")
        if parent_email is not None and ("@" not in parent_email or len(parent_email) > 254):
            raise InputError("not an email address", where="parent_email")
        out: dict[str, Any] = {"subject": subject, "jurisdiction": d["jurisdiction"], "consent_age": d["consent_age"],
                               "mode": "data_lite" if needs else "full", "settings": d["settings"],
                               "data_lite": self.data_lite() if needs else None,
                               "guardian_link_required": d["guardian_link_required"], "request": None}
        with self.state.tx() as c:
            if c.execute(sa.select(t.accounts.c.subject).where(t.accounts.c.subject == subject)).first():
                raise InputError(f"account `{subject}` exists already", where="subject")
            c.execute(t.accounts.insert().values(subject=subject, jurisdiction=d["jurisdiction"], age=age,
                                                 age_on=when.date(), settings=json.dumps(d["settings"]),
                                                 mode=out["mode"], created_at=when, updated_at=when))
            if needs:
                assert parent_email is not None
                out["request"] = self._request(c, subject, d["jurisdiction"], asked, parent_email, when, link_base)
        return out

    def ask(self, subject: str, scopes: Iterable[str], link_base: str | None = None) -> dict[str, Any]:
        """A new consent request to the child's linked guardian (the verified one first): for more
        scopes, a stronger method, or renewal after a notice change. The link is emailed."""
        asked = list(scopes)
        for i, s in enumerate(asked):
            self.book.scope(s, where=f"scopes[{i}]")
        if not asked:
            raise InputError("ask for at least one scope", where="scopes")
        when = self.clock()
        with self.state.tx() as c:
            acct = c.execute(sa.select(t.accounts.c.jurisdiction).where(t.accounts.c.subject == subject)).first()
            linked = t.links.c.guardian_id == t.guardians.c.guardian_id
            row = c.execute(sa.select(t.guardians.c.email).join(t.links, linked)
                            .where((t.links.c.subject == subject) & t.links.c.unlinked_at.is_(None)
                                   & t.guardians.c.email.is_not(None))
                            .order_by(t.links.c.verified_at.is_(None), t.links.c.created_at.desc())).first()
            if acct is None or row is None:
                raise InputError(f"no account `{subject}` with a linked guardian to ask", where="subject")
            return self._request(c, subject, str(acct[0]), asked, str(row[0]), when, link_base)

    def _request(self, c: sa.Connection, subject: str, code: str, scopes: list[str], email: str,
                 when: dt.datetime, link_base: str | None) -> dict[str, Any]:
        gid = self._guardian(c, email, when)
        if c.execute(sa.select(t.links.c.subject).where((t.links.c.subject == subject)
                                                        & (t.links.c.guardian_id == gid))).first() is None:
            c.execute(t.links.insert().values(subject=subject, guardian_id=gid, created_at=when))
        token, hashed = new_token()
        rid = _id()
        hours = settings.positive_int("TUTELA_CONSENT_LINK_HOURS", 48)
        expires = when + dt.timedelta(hours=hours)
        c.execute(t.requests.insert().values(request_id=rid, subject=subject, guardian_id=gid, jurisdiction=code,
                                             scopes=json.dumps(scopes), notice_version=self._notice(c),
                                             status="pending", token_hash=hashed, created_at=when, expires_at=expires))
        # the token rides in the URL fragment: browsers never send it to a server, so no server or
        # proxy log holds it; the portal's page reads it and posts it (POST /v1/consent/links/...)
        base = link_base or settings.text("TUTELA_CONSENT_LINK_BASE") or "http://127.0.0.1:8000/consent"
        titles = "\n".join(f"  - {self.book.scopes[s].title}" for s in scopes)
        self.mailer.send(email, "Your child asked to join: your consent is needed",
                         "Your child signed up and needs your permission for:\n"
                         f"{titles}\n\nReview and decide here (single use, valid {hours} hours):\n"
                         f"{base}#{token}\n\nIf you did not expect this, ignore this email: nothing is shared, "
                         "and the contact details are deleted if you do not answer.\n")
        return {"request_id": rid, "status": "pending", "expires_at": expires.isoformat(), "scopes": scopes,
                "guardian_id": gid, "methods": self.methods_for(code, when.date())}

    def _guardian(self, c: sa.Connection, email: str, when: dt.datetime) -> str:
        key = email_digest(email)
        row = c.execute(sa.select(t.guardians.c.guardian_id).where(t.guardians.c.email_digest == key)).first()
        if row is not None:
            c.execute(t.guardians.update().where(t.guardians.c.guardian_id == row[0]).values(email=email.strip()))
            return str(row[0])
        gid = _id()
        c.execute(t.guardians.insert().values(guardian_id=gid, email=email.strip(), email_digest=key, created_at=when))
        return gid

    def _notice(self, c: sa.Connection) -> str:
        v = c.execute(sa.select(t.notices.c.version).order_by(t.notices.c.published_at.desc()).limit(1)).scalar()
        return str(v) if v else FIRST_NOTICE

    def request(self, request_id: str) -> dict[str, Any]:
        with self.state.engine.connect() as c:
            return self._request_row(c, request_id)

    def _request_row(self, c: sa.Connection, request_id: str) -> dict[str, Any]:
        row = c.execute(sa.select(t.requests).where(t.requests.c.request_id == request_id)).mappings().first()
        if row is None:
            raise InputError(f"no consent request `{request_id}`", where="request_id")
        out = {k: v for k, v in row.items() if k != "token_hash"}
        out["scopes"] = json.loads(out["scopes"])
        if out["status"] in ("pending", "link_confirmed") and row["expires_at"] <= self.clock():
            out["status"] = "expired"
        return out

    def peek(self, token: str) -> dict[str, Any]:
        """What a live link asks for (scopes and their titles, the methods that may answer), without
        using it: mail scanners open links, so only `confirm` consumes one."""
        with self.state.engine.connect() as c:
            row = c.execute(sa.select(t.requests).where(t.requests.c.token_hash == digest(token))).mappings().first()
        if row is None or not same(row["token_hash"], token) or row["link_used_at"] is not None \
                or row["expires_at"] <= self.clock() or row["status"] != "pending":
            raise InputError(BAD_LINK, where="token", hint="ask for a new link")
        asked = json.loads(row["scopes"])
        day = self.clock().date()
        j = self.rulebook.jurisdiction(row["jurisdiction"])
        return {"request_id": row["request_id"], "expires_at": row["expires_at"].isoformat(),
                "notice_version": row["notice_version"],
                "scopes": [{"scope": s, "title": self.book.scopes[s].title} for s in asked],
                "methods": [{"method": m.id, "name": m.name, "assurance": m.assurance, "channel": m.channel,
                             "cannot_grant": sorted(set(m.excluded()) & set(asked))}
                            for m in self.book.methods
                            if m.effective_from <= day and self.book.basis(m.id, j.code, j.inherits)]}

    def methods_for(self, jurisdiction: str, day: dt.date | None = None) -> list[str]:
        """The methods that count in `jurisdiction` on `day` (a cited basis, in force)."""
        day = day or self.clock().date()
        j = self.rulebook.jurisdiction(jurisdiction)
        return [m.id for m in self.book.methods
                if m.effective_from <= day and self.book.basis(m.id, j.code, j.inherits)]

    @_ledgered
    def confirm(self, token: str, scopes: Iterable[str] | None = None, method: str = "email_plus") -> dict[str, Any]:
        """The parent opened the link: single use, before it expires. Email plus completes here
        (the grants, then the confirmation email); with another `method` the request waits for
        that method's result (staff approval or the provider's webhook)."""
        channel = self.book.method(method, where="method").channel
        when = self.clock()
        with self.state.tx() as c:
            row = c.execute(sa.select(t.requests).where(t.requests.c.token_hash == digest(token))).mappings().first()
            if row is None or not same(row["token_hash"], token) or row["link_used_at"] is not None \
                    or row["expires_at"] <= when or row["status"] != "pending":
                raise InputError(BAD_LINK, where="token", hint="ask for a new link")
            if method not in self.methods_for(row["jurisdiction"]):  # refused before the link is used
                raise ConsentRefused(f"method `{method}` does not count in `{row['jurisdiction']}`", where="method",
                                     hint="one of " + (", ".join(self.methods_for(row["jurisdiction"]))
                                                       or "none: no cited basis"))
            used = c.execute(t.requests.update().where((t.requests.c.request_id == row["request_id"])
                                                       & t.requests.c.link_used_at.is_(None))
                             .values(link_used_at=when, status="link_confirmed"))
            if used.rowcount != 1:  # a concurrent confirmation won
                raise InputError(BAD_LINK, where="token", hint="ask for a new link")
            if channel != "link":
                return {"request_id": row["request_id"], "status": "link_confirmed", "method": method,
                        "next": channel}
            return complete(self, c, row["request_id"], method, "passed", "link", "link", None, scopes)

    @_ledgered
    def record_result(self, request_id: str, method: str, outcome: str, reported_by: str, channel: str,
                      reference: str | None = None, scopes: Iterable[str] | None = None) -> dict[str, Any]:
        """A method's result for a request: on `passed`, the guardian is verified, linked and the
        scopes asked for are granted (less those the method's limits keep it from granting)."""
        with self.state.tx() as c:
            return complete(self, c, request_id, method, outcome, reported_by, channel, reference, scopes)

    @_ledgered
    def webhook(self, provider: str, body: bytes, timestamp: str | None, signature: str | None) -> dict[str, Any]:
        """A provider's signed result (tutela.consent.webhook): checked, replay refused, recorded, in
        one transaction (a result that fails to record can be delivered again). Only the event's
        known fields are read; image and document fields are dropped unread."""
        from tutela.consent import webhook

        event = webhook.verify(body, timestamp, signature, webhook.secret(), now=self.clock().replace(
            tzinfo=dt.UTC).timestamp())
        try:
            with self.state.tx() as c:
                c.execute(t.webhook_events.insert().values(event_digest=webhook.event_digest(provider, event.event_id),
                                                           received_at=self.clock()))
                return complete(self, c, event.request_id, event.method, event.outcome, reported_by=provider,
                                channel="provider", reference=event.reference, scopes=event.scopes)
        except IntegrityError:
            raise InputError("this event was delivered before (replay refused)", where="body.event_id") from None

    def account(self, subject: str) -> dict[str, Any]:
        from tutela.consent.accounts import account

        return account(self, subject)

    def change_setting(self, subject: str, setting: str, value: str, actor: str) -> dict[str, Any]:
        """Set one of a minor's settings as `actor` (`self` or `guardian:<id>`); see tutela.consent.accounts."""
        from tutela.consent.accounts import change_setting

        return change_setting(self, subject, setting, value, actor)

    @_ledgered
    def grant_self(self, subject: str, scopes: Iterable[str]) -> list[str]:
        """The subject's own consent (tutela.consent.accounts.grant_self); the new grant ids."""
        from tutela.consent.accounts import grant_self

        return grant_self(self, subject, list(scopes))

    def children(self, guardian_id: str) -> list[dict[str, Any]]:
        from tutela.consent.accounts import children

        return children(self, guardian_id)

    def guardian_by_email(self, email: str) -> str | None:
        from tutela.consent.accounts import guardian_by_email

        return guardian_by_email(self, email)

    def link_guardian(self, subject: str, email: str) -> str:
        from tutela.consent.accounts import link_guardian

        return link_guardian(self, subject, email)

    # -- grants --------------------------------------------------------------------------------
    def grants(self, subject: str, include_history: bool = True) -> list[GrantRecord]:
        with self.state.engine.connect() as c:
            rows = c.execute(sa.select(t.grants).where(t.grants.c.subject == subject)
                             .order_by(t.grants.c.granted_at, t.grants.c.grant_id)).mappings().all()
        out = [GrantRecord(**{k: v for k, v in r.items() if not k.startswith("ledgered_")}) for r in rows]
        when = self.clock()
        return out if include_history else [g for g in out if g.state(when) == "active"]

    def policy_grants(self, subject: str) -> tuple[Grant, ...]:
        """The subject's grants as the decision's Grant model (history included: each is dated)."""
        out = [g.to_policy(self.book) for g in self.grants(subject)]
        return tuple(g for g in out if g is not None)

    @_ledgered
    def revoke(self, subject: str, by: str, grant_id: str | None = None, scope: str | None = None) -> list[str]:
        """Revoke live grants (one by id, or every live grant of a scope): they stop counting at
        once, and a setting the scope unlocked goes back to its default."""
        if (grant_id is None) == (scope is None):
            raise InputError("give a grant id or a scope", where="grant_id")
        when = self.clock()
        q = (t.grants.c.subject == subject) & t.grants.c.revoked_at.is_(None)
        q &= (t.grants.c.grant_id == grant_id) if grant_id else (t.grants.c.scope == scope)
        with self.state.tx() as c:
            rows = c.execute(sa.select(t.grants.c.grant_id, t.grants.c.scope).where(q)).all()
            if not rows:
                raise ConsentRefused("no live grant to revoke", where="grant_id" if grant_id else "scope")
            c.execute(t.grants.update().where(q).values(revoked_at=when, revoked_by=by[:64]))
            for _, s in rows:
                self._reset_setting(c, subject, s, when)
        return [r[0] for r in rows]

    def _reset_setting(self, c: sa.Connection, subject: str, scope: str, when: dt.datetime) -> None:
        setting = self.book.scopes[scope].setting
        acct = c.execute(sa.select(t.accounts).where(t.accounts.c.subject == subject)).mappings().first()
        if setting is None or acct is None:
            return
        j = self.rulebook.jurisdiction(acct["jurisdiction"])
        defaults, _ = self.book.defaults_for(j.code, j.inherits, self._age(acct, when.date()), when.date())
        values = json.loads(acct["settings"])
        if setting in defaults and self.book.lowers(setting, defaults[setting], values.get(setting, defaults[setting])):
            values[setting] = defaults[setting]
            c.execute(t.accounts.update().where(t.accounts.c.subject == subject)
                      .values(settings=json.dumps(values), updated_at=when))

    @staticmethod
    def _age(acct: Any, day: dt.date) -> int:
        """The age now, at least: the age seen at sign-up plus the whole years since."""
        seen: dt.date = acct["age_on"]
        return int(acct["age"]) + max(0, (day - seen).days // 366)

    def publish_notice(self, version: str, scopes: Iterable[str]) -> int:
        """A new privacy notice; a material change to `scopes` marks their live grants given under
        an earlier notice as needing renewal (they stop counting). How many were marked."""
        from tutela.consent.upkeep import publish_notice

        return publish_notice(self, version, scopes)

    def purge(self) -> int:
        """Erase the contact details of requests never answered (tutela.consent.upkeep.purge)."""
        from tutela.consent.upkeep import purge

        return purge(self)
