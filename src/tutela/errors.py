"""Tutela's errors, one tree for every package.

    TutelaError                 base of everything Tutela raises on purpose
    ├── InputError              a user's input is wrong (HTTP 422, CLI exit 3)
    │   ├── UnknownKeyError     an unknown jurisdiction, data category, data use, scope …
    │   ├── InvalidRequestError a malformed or impossible decision request
    │   └── NotAllowed          the staff member may not do this: their role, or four-eyes (HTTP 403)
    ├── StoreUnavailable        a store (estate database, Redis, state store) does not answer or
    │                           was lost mid-call; nothing was committed (HTTP 503, CLI exit 4)
    └── RulebookError           the shipped or a user-supplied rulebook does not validate (exit 3)

Messages are lowercase, user input goes in backticks, and a hint stands apart from the
message. HTTP status codes and exit codes are mapped at the edges (cli, api), not here; the
CLI's codes are 0 ok/allowed, 1 a check found problems, 2 denied, 3 bad input (usage errors
of the command line included), 4 a store unavailable (docs/cli.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TutelaError(Exception):
    """Base class. `where` names the field, file or key at fault; `hint` says what to do."""

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def to_dict(self) -> dict[str, str]:
        out = {"error": type(self).__name__, "message": self.message}
        if self.where:
            out["where"] = self.where
        if self.hint:
            out["hint"] = self.hint
        return out

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


class InputError(TutelaError):
    """A user's input is wrong."""


class UnknownKeyError(InputError):
    """A key that is not in the rulebook or the taxonomy."""


class InvalidRequestError(InputError):
    """A decision request that cannot be evaluated as given."""


class NotAllowed(InputError):
    """A staff member's role does not allow the action, or four-eyes forbids it (the creator of a
    request or a job approving it). An InputError for the CLI (exit 3); HTTP 403 at the edges."""


class StoreUnavailable(TutelaError):
    """A store does not answer, or the connection was lost; the failed call committed nothing
    and can be run again."""


class RulebookError(TutelaError):
    """A rulebook file that does not validate."""


def validation_message(err: Mapping[str, Any]) -> str:
    """A Pydantic error (one item of `ValidationError.errors()`) in Tutela's words: lowercase
    first letter (patterns and values keep their case), `unknown field` for extra keys."""
    kind = str(err.get("type", ""))
    if kind == "extra_forbidden":
        return "unknown field"
    msg = str(err.get("msg", "invalid value"))
    if kind.startswith(("date_", "datetime_")):  # say the format: YYYY-MM-DD, not pydantic's words
        expected = "YYYY-MM-DD" if kind.startswith("date_") else "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS+00:00"
        reason = msg.split(", ", 1)[1] if ", " in msg else msg[:1].lower() + msg[1:]
        got = err.get("input")
        shown = f"`{got}`" if isinstance(got, str | int | float) else "this value"
        return f"not a date: {shown}; expected {expected} ({reason})"
    msg = msg[:1].lower() + msg[1:]
    return msg.removeprefix("value error, ")
