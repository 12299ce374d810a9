"""Single-use link tokens: `secrets.token_urlsafe`, only the SHA-256 kept, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token() -> tuple[str, str]:
    """(token for the link, its digest for the store)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same(stored: str, presented: str) -> bool:
    """The presented token's digest equals the stored digest (constant time)."""
    return hmac.compare_digest(stored.encode(), digest(presented).encode())
