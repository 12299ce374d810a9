"""Scheduled audits and notifications: the watch audits the estate on a timer (each run kept in
the audit history the console's trend shows) and tells the privacy team, by e-mail and a signed
webhook, of each open critical finding (once, until it closes; again if it comes back), and of rights requests
whose deadline is near or past. Each notice goes out once (staff_notices_sent).

A notice holds no personal data: rule ids, titles, counts of distinct children and subjects,
request ids, kinds and due dates. The webhook's body is JSON, signed with HMAC-SHA256 under
TUTELA_NOTIFY_WEBHOOK_SECRET in the `Tutela-Signature: sha256=<hex>` header (and the time it was
signed in `Tutela-Timestamp`, covered by the signature), so a receiver can tell it came from here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tutela import settings
from tutela.consent.mailer import SmtpMailer
from tutela.errors import InputError, StoreUnavailable
from tutela.staff.office import Office
from tutela.staff.tables import notices_sent
from tutela.store.state import now

OPEN = ("pending_approval", "approved", "failed")


@dataclass(frozen=True)
class Notice:
    key: str  # what makes it once-only
    kind: str  # critical | deadline
    subject: str
    lines: tuple[str, ...]
    data: dict[str, Any]


class Notifier(Protocol):
    def send(self, notices: Sequence[Notice]) -> None: ...


class MailNotifier:
    """One e-mail per round to each address (TUTELA_NOTIFY_EMAILS), by the SMTP server of TUTELA_SMTP_HOST."""

    def __init__(self, to: Sequence[str], mailer: SmtpMailer | None = None):
        self.to, self.mailer = list(to), mailer or SmtpMailer()

    def send(self, notices: Sequence[Notice]) -> None:
        subject = notices[0].subject if len(notices) == 1 else f"Tutela: {len(notices)} notices"
        body = "\n\n".join(n.subject + "\n" + "\n".join(n.lines) for n in notices)
        for address in self.to:
            self.mailer.send(address, subject, body)


class WebhookNotifier:
    """POST {"notices": [...]} to a URL, signed (see the module's docstring)."""

    def __init__(self, url: str, secret: str, timeout: float = 10.0):
        if len(secret) < 16:
            raise InputError("the webhook secret must have at least 16 characters",
                             where="TUTELA_NOTIFY_WEBHOOK_SECRET")
        self.url, self.secret, self.timeout = url, secret.encode(), timeout

    def sign(self, stamp: str, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()

    def send(self, notices: Sequence[Notice]) -> None:
        body = json.dumps({"notices": [{"kind": n.kind, "subject": n.subject, **n.data} for n in notices]},
                          sort_keys=True).encode()
        stamp = str(int(time.time()))
        try:
            r = httpx.post(self.url, content=body, timeout=self.timeout, headers={
                "content-type": "application/json", "tutela-timestamp": stamp,
                "tutela-signature": self.sign(stamp, body)})
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"the notification webhook did not answer: {type(exc).__name__}",
                                   where="TUTELA_NOTIFY_WEBHOOK") from None
        if r.status_code >= 300:
            raise StoreUnavailable(f"the notification webhook answered {r.status_code}",
                                   where="TUTELA_NOTIFY_WEBHOOK")


def notifiers_from_env() -> list[Notifier]:
    out: list[Notifier] = []
    emails = [a.strip() for a in settings.text("TUTELA_NOTIFY_EMAILS").split(",") if a.strip()]
    if emails:
        out.append(MailNotifier(emails))
    url = settings.text("TUTELA_NOTIFY_WEBHOOK")
    if url:
        out.append(WebhookNotifier(url, settings.text("TUTELA_NOTIFY_WEBHOOK_SECRET")))
    return out


@dataclass
class Round:
    audit: dict[str, Any]
    sent: list[Notice] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        s = self.audit["summary"]
        return {"audit": self.audit["id"], "as_of": self.audit["as_of"], "rules": s["rules"],
                "children": s["children"], "subjects": s["subjects"],
                "notices": [{"kind": n.kind, "subject": n.subject, **n.data} for n in self.sent]}


class Watch:
    def __init__(self, office: Office, notifiers: Sequence[Notifier], deadline_days: int = 3,
                 clock: Callable[[], dt.date] | None = None):
        self.office, self.notifiers, self.deadline_days = office, list(notifiers), deadline_days
        self.clock = clock or office.day

    def tick(self) -> Round:
        """Audit now (kept in the history), then send what is new: at most once per notice."""
        done = self.office.run_audit(None)
        critical = self._critical(done)
        self._forget_closed({n.key for n in critical})
        fresh = [n for n in critical + self._deadlines() if not self._sent(n)]
        if fresh:  # marked only once every notifier took them: a failed round sends them again
            for notifier in self.notifiers:
                notifier.send(fresh)
            self._mark(fresh)
        return Round(done, fresh)

    def _critical(self, now_run: dict[str, Any]) -> list[Notice]:
        """Every open critical finding; one notified before stays quiet until it closes."""
        out = []
        for f in now_run["findings"]:
            if f["severity"] != "critical" or f.get("status", "open") != "open":
                continue
            out.append(Notice(f"critical:{self.office.key}:{f['rule']}", "critical",
                              f"Tutela: new critical finding {f['rule']}",
                              (f["title"], f"{f['children']} children, {f['subjects']} subjects, {f['rows']} rows",
                               f"audit of {now_run['as_of']}"),
                              {"rule": f["rule"], "children": f["children"], "subjects": f["subjects"],
                               "rows": f["rows"], "audit": now_run["id"]}))
        return out

    def _deadlines(self) -> list[Notice]:
        out = []
        for r in self.office.requests():
            left = r.get("days_left")
            if r["status"] not in OPEN or left is None or left > self.deadline_days:
                continue
            when = "is overdue" if left < 0 else f"is due in {left} day(s)"
            out.append(Notice(f"deadline:{r['id']}:{'overdue' if left < 0 else 'near'}", "deadline",
                              f"Tutela: rights request {r['id']} {when}",
                              (f"{r['kind']} request, status {r['status']}, due {r['due']}",),
                              {"request": r["id"], "request_kind": r["kind"], "status": r["status"],
                               "due": r["due"], "days_left": left}))
        return out

    def _forget_closed(self, open_keys: set[str]) -> None:
        """A critical finding no longer open is forgotten: if it comes back, it is news again."""
        prefix = f"critical:{self.office.key}:"
        with self.office.state.tx() as c:
            keys = [k for (k,) in c.execute(sa.select(notices_sent.c.notice_key)
                                            .where(notices_sent.c.notice_key.startswith(prefix)))]
            gone = [k for k in keys if k not in {o[:128] for o in open_keys}]
            if gone:
                c.execute(notices_sent.delete().where(notices_sent.c.notice_key.in_(gone)))

    def _sent(self, n: Notice) -> bool:
        with self.office.state.engine.connect() as c:
            return c.execute(sa.select(notices_sent.c.notice_key)
                             .where(notices_sent.c.notice_key == n.key[:128])).first() is not None

    def _mark(self, notices: Sequence[Notice]) -> None:
        for n in notices:
            try:
                with self.office.state.tx() as c:
                    c.execute(notices_sent.insert().values(notice_key=n.key[:128], kind=n.kind, sent_at=now()))
            except IntegrityError:  # a second watch sent it at the same moment
                continue

    def run(self, every: dt.timedelta, stop: threading.Event, on_round: Callable[[Round], None] | None = None,
            on_error: Callable[[Exception], None] | None = None) -> None:
        """Tick every `every` until `stop` is set; a round that fails is reported and the next one runs."""
        while not stop.is_set():
            try:
                done = self.tick()
            except (InputError, StoreUnavailable) as exc:
                if on_error is not None:
                    on_error(exc)
            else:
                if on_round is not None:
                    on_round(done)
            stop.wait(every.total_seconds())
