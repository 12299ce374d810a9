"""Staff accounts in the state store: a name, a role and an argon2id password hash.

    accounts = Accounts(state)
    accounts.add("alice", "dpo", password)          # InputError if the name is taken or the password weak
    accounts.check("alice", password)               # the Account, or None (same work for an unknown name)

Passwords are hashed with argon2id (argon2-cffi's defaults: RFC 9106 low-memory profile);
a hash made with older parameters is upgraded at the next sign-in. Nothing here logs a
password or a hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError

from tutela.errors import InputError
from tutela.staff.roles import Role, parse_role
from tutela.staff.tables import staff_accounts
from tutela.store.state import StateStore, now

NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 12
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password of anyone: equal work for unknown names")


@dataclass(frozen=True)
class Account:
    name: str
    role: Role

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role}


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_name(name: str, where: str = "--name") -> str:
    if not NAME.match(name):
        raise InputError(f"not a staff name: `{name[:80]}`", where=where,
                         hint="1 to 64 letters, digits or _.@- (the name the approvals record)")
    return name


def check_password(password: str, name: str, where: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters", where=where)
    if password.strip().lower() == name.lower():
        raise InputError("the password must not be the name", where=where)
    return password


class Accounts:
    def __init__(self, state: StateStore):
        self.state = state

    def add(self, name: str, role: str, password: str, replace: bool = False) -> Account:
        """A new account (or, with `replace`, a new role and password for an existing one)."""
        account = Account(check_name(name), parse_role(role))
        row = {"role": account.role, "password_hash": hash_password(check_password(password, name)),
               "disabled": False}
        with self.state.tx() as c:
            if replace and c.execute(staff_accounts.update().where(staff_accounts.c.name == name)
                                     .values(**row)).rowcount == 1:
                return account
            try:
                c.execute(staff_accounts.insert().values(name=name, created_at=now(), **row))
            except IntegrityError:
                raise InputError(f"a staff account `{name}` exists already", where="--name",
                                 hint="give another name, or --replace to set its role and password") from None
        return account

    def get(self, name: str) -> Account | None:
        with self.state.engine.connect() as c:
            row = c.execute(sa.select(staff_accounts.c.role).where(
                staff_accounts.c.name == name, sa.not_(staff_accounts.c.disabled))).first()
        return None if row is None else Account(name, parse_role(row[0], where="staff_accounts.role"))

    def list(self) -> list[dict[str, Any]]:
        with self.state.engine.connect() as c:
            rows = c.execute(sa.select(staff_accounts.c.name, staff_accounts.c.role, staff_accounts.c.disabled,
                                       staff_accounts.c.created_at).order_by(staff_accounts.c.name)).mappings()
            return [{"name": r["name"], "role": r["role"], "disabled": bool(r["disabled"]),
                     "created_at": r["created_at"].isoformat()} for r in rows]

    def disable(self, name: str) -> None:
        with self.state.tx() as c:
            if c.execute(staff_accounts.update().where(staff_accounts.c.name == name)
                         .values(disabled=True)).rowcount != 1:
                raise InputError(f"no staff account `{name}`", where="--name")

    def check(self, name: str, password: str) -> Account | None:
        """The account when the password is right; an unknown or disabled name costs the same hashing."""
        with self.state.engine.connect() as c:
            row = c.execute(sa.select(staff_accounts).where(staff_accounts.c.name == name)).mappings().first()
        stored = str(row["password_hash"]) if row is not None else _DUMMY
        good = verify_password(stored, password)
        if row is None or row["disabled"] or not good:
            return None
        if _HASHER.check_needs_rehash(stored):
            with self.state.tx() as c:
                c.execute(staff_accounts.update().where(staff_accounts.c.name == name)
                          .values(password_hash=hash_password(password)))
        return Account(name, parse_role(str(row["role"]), where="staff_accounts.role"))
