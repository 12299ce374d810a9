"""What every signal reader shares: the reading context and strict field access.

Every reader takes the payload (parsed JSON) and a `Context`, and returns one AgeRecord or
raises InputError naming the field (`where="signal.ageLower"`) and what was wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tutela.age.record import MAX_AGE
from tutela.age.requirements import AgeAssurance, load_age_requirements
from tutela.errors import InputError


class ReplayGuard(Protocol):
    """Single-use memory: `first_use(token, until)` is True once per token, False on every replay."""

    def first_use(self, token: str, until: dt.datetime) -> bool: ...


@dataclass
class Context:
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    book: AgeAssurance = field(default_factory=load_age_requirements)
    # OIDC: issuer -> JWKS (the `{"keys": [...]}` document) and the audience this service is
    oidc_issuers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    audience: str | None = None
    # mdoc: trusted issuer certificates (DER), the verifier's nonce for this presentation, replays
    mdoc_trust: tuple[bytes, ...] = ()
    nonce: str | None = None
    replay: ReplayGuard | None = None
    leeway: dt.timedelta = dt.timedelta(seconds=60)

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(dt.UTC).date()


def mapping(payload: object, where: str = "signal") -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise InputError(f"expected a JSON object, got {type(payload).__name__}", where=where)
    return payload


def text(p: Mapping[str, Any], key: str, *, required: bool = True, where: str = "signal") -> str | None:
    value = p.get(key)
    if value is None:
        if required:
            raise InputError(f"missing `{key}`", where=f"{where}.{key}")
        return None
    if not isinstance(value, str) or not value:
        raise InputError(f"`{key}` must be a non-empty string", where=f"{where}.{key}")
    return value


def age(p: Mapping[str, Any], key: str, *, required: bool = True, where: str = "signal") -> int | None:
    value = p.get(key)
    if value is None:
        if required:
            raise InputError(f"missing `{key}`", where=f"{where}.{key}")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE:
        raise InputError(f"`{key}` must be a whole number of years from 0 to {MAX_AGE}, got `{value}`",
                         where=f"{where}.{key}")
    return value


def band(lower: int, upper: int | None, where: str) -> tuple[int, int | None]:
    if upper is not None and upper < lower:
        raise InputError(f"empty age band {lower}-{upper}", where=where, hint="the upper bound is inclusive")
    return lower, upper


def when(p: Mapping[str, Any], key: str, default: dt.datetime, where: str = "signal") -> dt.datetime:
    """An ISO 8601 time (with zone) or date; absent -> `default`."""
    raw = p.get(key)
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise InputError(f"`{key}` must be an ISO 8601 time", where=f"{where}.{key}")
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(f"not an ISO 8601 time: `{raw}`", where=f"{where}.{key}") from None
    if value.tzinfo is None:
        if len(raw) == 10:  # a bare date: midnight UTC
            return value.replace(tzinfo=dt.UTC)
        raise InputError(f"`{key}` needs a time zone, e.g. `Z` or `+00:00`", where=f"{where}.{key}")
    return value


def choice(p: Mapping[str, Any], key: str, allowed: Mapping[str, Any], where: str = "signal") -> str:
    value = text(p, key, where=where)
    assert value is not None
    if value not in allowed:
        raise InputError(f"unknown `{key}` `{value}`", where=f"{where}.{key}", hint="one of " + ", ".join(allowed))
    return value
