"""The ledger's settings from the environment, read in one place.

    TUTELA_LEDGER_URL            the ledger database (default: sqlite:///$TUTELA_HOME/ledger.db)
    TUTELA_HOME                  Tutela's folder (default ~/.tutela)
    TUTELA_LEDGER_KEY            the Ed25519 private key that signs checkpoints: PEM, or base64 of the 32-byte seed
    TUTELA_LEDGER_PUBLIC_KEYS    public keys `verify` trusts (base64 of 32 bytes or PEM; several: comma-separated)
    TUTELA_LEDGER_PSEUDONYM_KEY  the HMAC key that turns subject ids into pseudonyms (at least 16 bytes)
"""

from __future__ import annotations

from dataclasses import dataclass

from tutela import settings


@dataclass(frozen=True)
class LedgerEnv:
    url: str
    key: str | None
    public_keys: str | None
    pseudonym_key: str | None


def environment() -> LedgerEnv:
    return LedgerEnv(url=settings.text("TUTELA_LEDGER_URL") or f"sqlite:///{settings.home() / 'ledger.db'}",
                     key=settings.text("TUTELA_LEDGER_KEY") or None,
                     public_keys=settings.text("TUTELA_LEDGER_PUBLIC_KEYS") or None,
                     pseudonym_key=settings.text("TUTELA_LEDGER_PSEUDONYM_KEY") or None)
