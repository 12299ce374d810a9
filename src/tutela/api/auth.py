"""Staff bearer tokens for the rights-request API, from the environment.

`TUTELA_STAFF_TOKENS` holds comma-separated entries `name=token` or `name=sha256:<hex>` (the
SHA-256 of the token, so the secret itself need not sit in the environment). Only the hashes
are kept in memory; a presented token is hashed and compared with every known hash by
`hmac.compare_digest`, so the time taken does not depend on where a mismatch is. The name is
what the store records as `created_by` / `decided_by`; a token never appears in a log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from tutela import settings

ENV = "TUTELA_STAFF_TOKENS"
MIN_TOKEN = 16
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


class StaffConfigError(ValueError):
    """The token list in the environment is malformed (the message never contains a token)."""


@dataclass(frozen=True)
class StaffTokens:
    hashes: tuple[tuple[str, bytes], ...]  # (name, sha256 digest)

    @classmethod
    def from_env(cls, value: str | None = None) -> StaffTokens:
        raw = settings.staff_tokens() if value is None else value
        out: list[tuple[str, bytes]] = []
        for i, entry in enumerate(e.strip() for e in raw.split(",")):
            if not entry:
                continue
            name, sep, secret = entry.partition("=")
            if not sep or not _NAME.match(name):
                raise StaffConfigError(f"{ENV} entry {i + 1} is not `name=token` (name: letters, digits, _.@-)")
            if secret.startswith("sha256:"):
                hexd = secret.removeprefix("sha256:").lower()
                if not _HEX.match(hexd):
                    raise StaffConfigError(f"{ENV} entry {i + 1} (`{name}`): sha256: needs 64 hex digits")
                out.append((name, bytes.fromhex(hexd)))
            else:
                if len(secret) < MIN_TOKEN:
                    raise StaffConfigError(f"{ENV} entry {i + 1} (`{name}`): a token needs {MIN_TOKEN}+ characters")
                out.append((name, hashlib.sha256(secret.encode()).digest()))
        return cls(tuple(out))

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def who(self, token: str) -> str | None:
        """The staff name the token belongs to, or None; every hash is compared (no early exit)."""
        digest = hashlib.sha256(token.encode()).digest()
        found: str | None = None
        for name, known in self.hashes:
            if hmac.compare_digest(digest, known) and found is None:
                found = name
        return found


def hash_token(token: str) -> str:
    """The `sha256:<hex>` form of a token, for TUTELA_STAFF_TOKENS."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()
