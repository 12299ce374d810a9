"""Every `TUTELA_*` environment variable, read in one place (at call time, so a test or a
server can change one without re-importing anything).

Secrets (the masking key, staff tokens, store passwords) are only ever read from here and
never written to logs, receipts or the state store. `SETTINGS` lists each variable with what
it does; docs/settings.md documents every one (tests/test_docs.py holds the two together).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tutela.errors import InputError

SETTINGS: dict[str, str] = {
    "TUTELA_HOME": "Tutela's own folder: state store, job plans, ground truth, imported data maps "
                   "(default ~/.tutela)",
    "TUTELA_CACHE": "folder for the packaged rulebook's warm start (default $XDG_CACHE_HOME/tutela or "
                    "~/.cache/tutela); safe to delete",
    "TUTELA_STATE": "SQLAlchemy URL of the state store instead of $TUTELA_HOME/state.db "
                    "(e.g. postgresql+psycopg://host/db)",
    "TUTELA_MASKING_KEY": "secret for the keyed masking strategies hash, hmac and aes_encrypt "
                          "(at least 16 characters)",
    "TUTELA_REMEDIATE_BATCH": "keys per apply in remediation jobs (default 20000; small values make more checkpoints)",
    "TUTELA_STAFF_TOKENS": "staff bearer tokens for the rights-request API: `name=token` or `name=sha256:<hex>`, "
                           "comma-separated",
    "TUTELA_MEDIA_MAX_BYTES": "largest upload POST /v1/media/clean accepts (default 256 MiB)",
    "TUTELA_AGE_TRUST": "trust file for age credentials: OIDC issuers and their keys, the audience, mdoc issuer "
                        "certificates (unset: no issuer is trusted)",
    "TUTELA_AGE_DB": "SQLAlchemy URL where sticky age results and used single-use proofs are kept (unset: memory)",
    "TUTELA_LEDGER_URL": "SQLAlchemy URL of the ledger (default sqlite:///$TUTELA_HOME/ledger.db)",
    "TUTELA_LEDGER_KEY": "Ed25519 private key that signs ledger checkpoints: PEM, or base64 of the 32-byte seed",
    "TUTELA_LEDGER_PUBLIC_KEYS": "public keys `tutela ledger verify` trusts (base64 or PEM, comma-separated)",
    "TUTELA_LEDGER_PSEUDONYM_KEY": "HMAC key that turns subject ids into pseudonyms in the ledger (16+ bytes)",
    "TUTELA_LEDGER_CHECKPOINT_EVERY": "when Tutela records into the ledger with TUTELA_LEDGER_KEY set, sign the head "
                                      "every this many entries (default 1000)",
    "TUTELA_STREAM_KEYS": "stream guard pseudonym keys `kid:hexkey[,kid:hexkey...]`, the first one current, "
                          "older ones still verify",
    "TUTELA_STREAM_STATE": "subject-state file (.parquet or .arrow) POST /v1/stream/guard reads, re-read when it "
                           "changes",
    "TUTELA_STREAM_MAX_BYTES": "largest body POST /v1/stream/guard accepts (default 64 MiB)",
    "TUTELA_TRANSFER_REGISTRY": "recipient registry YAML the transfer gate reads when no --registry or --estate is "
                                "given (the API's /v1/transfers and /v1/stream/guard too)",
    "TUTELA_SMTP_HOST": "SMTP server that sends parents their consent links and confirmations",
    "TUTELA_SMTP_PORT": "port of the SMTP server (default 25)",
    "TUTELA_SMTP_FROM": "sender address of consent emails (default consent@tutela.invalid)",
    "TUTELA_SMTP_USER": "login for the SMTP server (then STARTTLS is required first)",
    "TUTELA_SMTP_PASSWORD": "password for TUTELA_SMTP_USER",
    "TUTELA_SMTP_STARTTLS": "`1`: upgrade the SMTP connection by STARTTLS even without a login",
    "TUTELA_SMTP_CAFILE": "CA bundle that signs the SMTP server's certificate (default: the system's)",
    "TUTELA_CONSENT_LINK_BASE": "the parent portal's consent page; the link is `<base>#<token>` (default "
                                "http://127.0.0.1:8000/consent)",
    "TUTELA_CONSENT_LINK_HOURS": "hours a consent link stays valid (default 48)",
    "TUTELA_PORTAL_LINK_BASE": "the parent portal's sign-in page; a sign-in link is `<base>#<token>` (default: "
                               "`/portal/link` on the host the parent asked from)",
    "TUTELA_PORTAL_LINK_MINUTES": "minutes a parent's sign-in link stays valid (default 30)",
    "TUTELA_PORTAL_SESSION_HOURS": "lifetime of a parent's portal sign-in in hours (default 12)",
    "TUTELA_CONSENT_WEBHOOK_SECRET": "secret shared with verification providers: HMAC-SHA256 key of their webhook "
                                     "(16+ characters)",
    "TUTELA_STAFF_PASSWORD": "password for `tutela staff add` (else one line on standard input, else a prompt)",
    "TUTELA_CONSOLE_SESSION_MINUTES": "lifetime of a console sign-in in minutes (default 480; idle sessions end "
                                      "after a third of it)",
    "TUTELA_CONSOLE_SECURE_COOKIE": "`1` marks console cookies Secure even when the request came over plain http "
                                    "(behind a TLS proxy); https requests always get Secure",
    "TUTELA_NOTIFY_EMAILS": "addresses (comma-separated) `tutela watch` e-mails new critical findings and rights "
                            "requests near their deadline to, by the TUTELA_SMTP_HOST server",
    "TUTELA_NOTIFY_WEBHOOK": "URL `tutela watch` POSTs its notices to (JSON, signed with TUTELA_NOTIFY_WEBHOOK_SECRET)",
    "TUTELA_NOTIFY_WEBHOOK_SECRET": "HMAC-SHA256 key of the notification webhook's signature (16+ characters)",
    "TUTELA_NOTIFY_DEADLINE_DAYS": "a rights request due within this many days is notified (default 3); an overdue "
                                   "one again",
    "TUTELA_STORE_PASSWORD_<STORE>": "password of a declared store (e.g. TUTELA_STORE_PASSWORD_REDIS), never "
                                     "recorded with a request",
}

MIN_KEY_CHARS = 16


def home() -> Path:
    """$TUTELA_HOME, default ~/.tutela (not created here: readers must not create it)."""
    return Path(os.environ.get("TUTELA_HOME") or "~/.tutela").expanduser()


def cache_dir() -> Path:
    """$TUTELA_CACHE, else $XDG_CACHE_HOME/tutela, else ~/.cache/tutela."""
    if os.environ.get("TUTELA_CACHE"):
        return Path(os.environ["TUTELA_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "tutela"


def state_url() -> str | None:
    """$TUTELA_STATE, or None for the SQLite file in home()."""
    return os.environ.get("TUTELA_STATE") or None


def masking_key() -> bytes:
    """$TUTELA_MASKING_KEY, at least MIN_KEY_CHARS characters (an input error otherwise)."""
    key = os.environ.get("TUTELA_MASKING_KEY", "")
    if not key:
        raise InputError("`TUTELA_MASKING_KEY` is not set; `hash` and `hmac` need a secret key", where="masking",
                         hint=f"export TUTELA_MASKING_KEY=<a secret of at least {MIN_KEY_CHARS} characters>")
    if len(key) < MIN_KEY_CHARS:
        raise InputError(f"`TUTELA_MASKING_KEY` is shorter than {MIN_KEY_CHARS} characters", where="masking")
    return key.encode("utf-8")


def positive_int(name: str, default: int) -> int:
    """A positive integer setting, `default` when unset; anything else is an input error."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"not a positive integer: `{raw}`", where=name)
    return int(raw)


def staff_tokens() -> str:
    """$TUTELA_STAFF_TOKENS as given (parsed and checked by tutela.api.auth)."""
    return os.environ.get("TUTELA_STAFF_TOKENS", "")


def store_password_env(store: str) -> str:
    """The variable holding a declared store's password: TUTELA_STORE_PASSWORD_<STORE>."""
    return "TUTELA_STORE_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", store.upper())


def store_password(store: str) -> str | None:
    return os.environ.get(store_password_env(store)) or None


def text(name: str) -> str:
    """A plain text setting ("" when unset)."""
    return os.environ.get(name, "")
