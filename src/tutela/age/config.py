"""Where the age package's deployment settings come from: a trust file and a store URL.

    TUTELA_AGE_TRUST   path to a YAML/JSON trust file (below); unset: no OIDC issuer or mdoc issuer is trusted
    TUTELA_AGE_DB      SQLAlchemy URL for sticky results and single-use proofs; unset: in memory

Trust file:

    audience: "https://app.example"            # what OIDC credentials must be addressed to
    oidc_issuers:
      "https://issuer.example": {jwks_file: issuer-jwks.json, level: verified}   # or jwks: {keys: [...]}
    mdoc_trust: [eu-av-issuer-ca.pem]           # PEM or DER certificates (paths relative to the file)

Both are read through tutela.settings, in `from_env` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tutela import settings
from tutela.age.store import MemoryStore, SqlStore
from tutela.errors import InputError

TRUST_ENV, DB_ENV = "TUTELA_AGE_TRUST", "TUTELA_AGE_DB"


@dataclass(frozen=True)
class Trust:
    audience: str | None = None
    oidc_issuers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    mdoc_trust: tuple[bytes, ...] = ()


def _cert(path: Path, where: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read certificate: {exc.strerror}", where=where) from None
    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError:
        raise InputError("not a PEM or DER X.509 certificate", where=where) from None
    return cert.public_bytes(Encoding.DER)


def load_trust(path: Path) -> Trust:
    """Read a trust file; every problem names the file and the key."""
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the trust file: {exc.strerror}", where=str(path)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", where=str(path)) from None
    if not isinstance(raw, dict) or set(raw) - {"audience", "oidc_issuers", "mdoc_trust"}:
        raise InputError("expected keys audience, oidc_issuers, mdoc_trust", where=str(path))
    issuers: dict[str, Mapping[str, Any]] = {}
    for iss, conf in (raw.get("oidc_issuers") or {}).items():
        w = f"{path}: oidc_issuers.{iss}"
        if not isinstance(conf, dict) or ("jwks" in conf) == ("jwks_file" in conf):
            raise InputError("give `jwks` or `jwks_file` (one of them)", where=w)
        jwks = conf.get("jwks")
        if jwks is None:
            try:
                jwks = json.loads((path.parent / str(conf["jwks_file"])).read_text("utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(f"cannot read the JWKS: {exc}", where=f"{w}.jwks_file") from None
        issuers[str(iss)] = {"jwks": jwks, "level": conf.get("level", "verified")}
    certs = tuple(_cert(path.parent / str(p), f"{path}: mdoc_trust[{i}]")
                  for i, p in enumerate(raw.get("mdoc_trust") or []))
    aud = raw.get("audience")
    return Trust(audience=str(aud) if aud is not None else None, oidc_issuers=issuers, mdoc_trust=certs)


def from_env() -> tuple[Trust, MemoryStore | SqlStore]:
    """The trust and the store named by TUTELA_AGE_TRUST and TUTELA_AGE_DB (the one place they are read)."""
    trust_path = settings.text(TRUST_ENV)
    db = settings.text(DB_ENV)
    return (load_trust(Path(trust_path)) if trust_path else Trust()), (SqlStore(db) if db else MemoryStore())
