"""The web pages' protections: session and CSRF cookies, CSRF tokens, headers.

- The session cookie holds a random id (the store keeps its SHA-256): HttpOnly, SameSite=Strict,
  Secure over https (or always, with TUTELA_CONSOLE_SECURE_COOKIE=1 behind a TLS proxy).
- Signed-in forms carry a token bound to the session (HMAC-SHA256 of a fixed label keyed by the
  session id); forms before sign-in (sign-in, the age gate) a double-submit token: a random
  cookie and the same value in the form. Both are compared with `hmac.compare_digest`.
- Every page is sent with a strict Content-Security-Policy (own scripts only), no referrer,
  no framing and no caching.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response

from tutela import settings

SESSION = "tutela_session"
FORM = "tutela_form"  # the double-submit cookie of forms shown before sign-in
HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class CsrfRejected(Exception):
    """A form without the right token (HTTP 403)."""

    message = "this form's security token is missing or does not match; reload the page and send it again"


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or settings.text("TUTELA_CONSOLE_SECURE_COOKIE") == "1"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=secure(request))


def session_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"tutela console csrf v1", hashlib.sha256).hexdigest()


def form_token(request: Request) -> tuple[str, bool]:
    """The double-submit value for a form shown before sign-in, and whether it is new (set the cookie)."""
    have = request.cookies.get(FORM, "")
    if 32 <= len(have) <= 128:
        return have, False
    return secrets.token_urlsafe(32), True


def check(expected: str | None, given: object) -> None:
    """CsrfRejected unless `given` equals `expected` (constant time; a missing one never matches)."""
    if not expected or not isinstance(given, str) or not given:
        raise CsrfRejected()
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRejected()


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
