"""Verification results reported by a provider (card, government ID, face match, text plus) through
a signed webhook.

    X-Tutela-Timestamp: 1764763200            (Unix seconds; refused outside +/- TOLERANCE)
    X-Tutela-Signature: sha256=<hex>          HMAC-SHA256(secret, f"{timestamp}." + body)

The secret is TUTELA_CONSENT_WEBHOOK_SECRET (16+ characters). The body is JSON; only the fields
of `ProviderEvent` are read. Everything else, in particular any image or document field a
provider sends (`document_image`, `selfie`, ...), is dropped unread: it never reaches the store,
a log or a file. A replayed event (same provider and `event_id`) is refused by the desk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutela import settings
from tutela.errors import InputError, validation_message

TOLERANCE = 300
ENV = "TUTELA_CONSENT_WEBHOOK_SECRET"


class ProviderEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # unknown fields (images) are dropped
    event_id: str = Field(min_length=8, max_length=128)
    request_id: str = Field(min_length=8, max_length=32)
    method: str = Field(max_length=32)
    outcome: Literal["passed", "failed"]
    reference: str | None = Field(default=None, max_length=128)
    scopes: tuple[str, ...] | None = None


def secret() -> bytes:
    raw = settings.text(ENV)
    if len(raw) < settings.MIN_KEY_CHARS:
        raise InputError(f"`{ENV}` is unset or shorter than {settings.MIN_KEY_CHARS} characters", where=ENV,
                         hint="set the secret shared with the verification provider")
    return raw.encode()


def sign(body: bytes, timestamp: int, key: bytes) -> str:
    return "sha256=" + hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(body: bytes, timestamp: str | None, signature: str | None, key: bytes,
           now: float | None = None) -> ProviderEvent:
    """The event, or an InputError naming the header or field at fault."""
    if not timestamp or not timestamp.isdigit():
        raise InputError("missing or malformed timestamp", where="header.x-tutela-timestamp")
    if abs((now if now is not None else time.time()) - int(timestamp)) > TOLERANCE:
        raise InputError(f"timestamp outside the {TOLERANCE} s tolerance", where="header.x-tutela-timestamp")
    if not signature or not hmac.compare_digest(sign(body, int(timestamp), key).encode(), signature.encode()):
        raise InputError("bad signature", where="header.x-tutela-signature",
                         hint="HMAC-SHA256 over `<timestamp>.<body>` with the shared secret, as sha256=<hex>")
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("body is not valid JSON", where="body") from None
    if not isinstance(raw, dict):
        raise InputError("expected a JSON object", where="body")
    try:
        return ProviderEvent.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(validation_message(err), where="body." + ".".join(str(x) for x in err["loc"])) from None


def event_digest(provider: str, event_id: str) -> str:
    return hashlib.sha256(f"{provider}\x00{event_id}".encode()).hexdigest()
