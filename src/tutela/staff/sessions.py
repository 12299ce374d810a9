"""Server-side console sessions: a random id in the cookie, only its SHA-256 in the store.

    sid = sessions.open(account)              # 43 url-safe characters (256 bits from `secrets`)
    sessions.account(sid)                     # the Account while the session lives, else None
    sessions.close(sid)                       # sign-out: the row is deleted

A session ends `ttl` after it was opened (TUTELA_CONSOLE_SESSION_MINUTES, default 480) or
after `idle` without a request (a third of that); expired rows are swept on every open.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from tutela import settings
from tutela.staff.accounts import Account, Accounts
from tutela.staff.tables import staff_sessions
from tutela.store.state import StateStore, now


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    def __init__(self, state: StateStore, accounts: Accounts, ttl: dt.timedelta | None = None):
        self.state, self.accounts = state, accounts
        self.ttl = ttl or dt.timedelta(minutes=settings.positive_int("TUTELA_CONSOLE_SESSION_MINUTES", 480))
        self.idle = self.ttl / 3

    def open(self, account: Account) -> str:
        sid = secrets.token_urlsafe(32)
        t = now()
        with self.state.tx() as c:
            c.execute(staff_sessions.delete().where(staff_sessions.c.expires_at < t))
            c.execute(staff_sessions.insert().values(id_hash=digest(sid), name=account.name, created_at=t,
                                                     expires_at=t + self.ttl, last_seen=t))
        return sid

    def account(self, session_id: str | None) -> Account | None:
        if not session_id or len(session_id) > 128:
            return None
        key, t = digest(session_id), now()
        with self.state.engine.connect() as c:
            row = c.execute(sa.select(staff_sessions).where(staff_sessions.c.id_hash == key)).mappings().first()
        if row is None or row["expires_at"] <= t or row["last_seen"] + self.idle <= t:
            return None
        account = self.accounts.get(str(row["name"]))  # a disabled account's sessions end at once
        if account is not None and (t - row["last_seen"]).total_seconds() >= 60:
            with self.state.tx() as c:
                c.execute(staff_sessions.update().where(staff_sessions.c.id_hash == key).values(last_seen=t))
        return account

    def close(self, session_id: str | None) -> None:
        if session_id:
            with self.state.tx() as c:
                c.execute(staff_sessions.delete().where(staff_sessions.c.id_hash == digest(session_id)))
