"""Parsing raw JSON-like input into a DecisionRequest, with errors that name the field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tutela.errors import InvalidRequestError, validation_message
from tutela.policy.model import DecisionRequest


def field_of(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(request)"


def parse_request(raw: Any, where: str = "") -> DecisionRequest:
    if not isinstance(raw, dict):
        raise InvalidRequestError(
            "a decision request is a JSON object with `subject` and `act`", where=where or "(request)"
        )
    try:
        return DecisionRequest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = validation_message(err)
        loc = field_of(tuple(err["loc"]))
        raise InvalidRequestError(msg, where=f"{where}.{loc}" if where else loc) from exc
