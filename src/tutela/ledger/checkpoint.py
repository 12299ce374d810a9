"""Signed checkpoints: Ed25519 (RFC 8032, via `cryptography`) over the ledger's head.

The signed message is the canonical JSON of
`{"head": hex(h_seq), "key_id": …, "seq": seq, "time": …, "type": "tutela.ledger.checkpoint.v1"}`;
`key_id` is the first 16 hex digits of SHA-256 over the raw 32-byte public key, which the
record carries (base64) so that anyone can check a checkpoint offline. A key found in the same
database proves nothing against whoever can write that database, so `verify` trusts the keys
it is given (TUTELA_LEDGER_PUBLIC_KEYS, `--public-key`, or the public half of TUTELA_LEDGER_KEY)
and says so when it has none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tutela.errors import InputError
from tutela.ledger.canonical import canonical_json

TYPE = "tutela.ledger.checkpoint.v1"


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def _b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("not base64", where=where) from None


def private_key(text: str, where: str = "TUTELA_LEDGER_KEY") -> Ed25519PrivateKey:
    """A PEM private key or base64 of a 32-byte Ed25519 seed."""
    try:
        if text.lstrip().startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise InputError("the PEM key is not an Ed25519 key", where=where)
            return key
        return Ed25519PrivateKey.from_private_bytes(_b64(text, where))
    except ValueError as exc:
        raise InputError(f"not an Ed25519 private key: {exc}", where=where,
                         hint="base64 of 32 random bytes, or a PEM from `openssl genpkey -algorithm ed25519`") from None


def public_key(text: str, where: str = "TUTELA_LEDGER_PUBLIC_KEYS") -> Ed25519PublicKey:
    try:
        if text.lstrip().startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise InputError("the PEM key is not an Ed25519 key", where=where)
            return key
        return Ed25519PublicKey.from_public_bytes(_b64(text, where))
    except ValueError as exc:
        raise InputError(f"not an Ed25519 public key: {exc}", where=where, hint="base64 of 32 bytes, or PEM") from None


def new_key_text() -> str:
    """A fresh private key as TUTELA_LEDGER_KEY takes it (base64 of the seed)."""
    raw = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                     serialization.NoEncryption())
    return base64.b64encode(raw).decode()


def message(seq: int, head: bytes, time: str, kid: str) -> bytes:
    return canonical_json({"head": head.hex(), "key_id": kid, "seq": seq, "time": time, "type": TYPE})


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head: bytes
    time: str
    key_id: str
    public_key: str  # base64 of the raw 32 bytes
    signature: bytes

    @classmethod
    def sign(cls, key: Ed25519PrivateKey, seq: int, head: bytes, time: str) -> Checkpoint:
        pub = key.public_key()
        kid = key_id(pub)
        return cls(seq, head, time, kid, base64.b64encode(raw_public(pub)).decode(),
                   key.sign(message(seq, head, time, kid)))

    def problem(self, trusted: dict[str, Ed25519PublicKey] | None) -> str | None:
        """None when the signature holds under a trusted key (or, with none given, the record's own)."""
        try:
            own = public_key(self.public_key, "checkpoint.public_key")
        except InputError:
            return "its public key is malformed"
        if key_id(own) != self.key_id:
            return "its key id does not belong to its public key"
        key = own if trusted is None else trusted.get(self.key_id)
        if key is None:
            return f"it is signed by key {self.key_id}, which is not a trusted key"
        try:
            key.verify(self.signature, message(self.seq, self.head, self.time, self.key_id))
        except InvalidSignature:
            return "its signature does not verify"
        return None

    def row(self) -> dict[str, Any]:
        return {"seq": self.seq, "head": self.head, "time": self.time, "key_id": self.key_id,
                "public_key": self.public_key, "signature": self.signature}

    def to_dict(self) -> dict[str, Any]:
        return {"type": TYPE, "seq": self.seq, "head": self.head.hex(), "time": self.time, "key_id": self.key_id,
                "public_key": self.public_key, "signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Checkpoint:
        return cls(int(row["seq"]), bytes(row["head"]), str(row["time"]), str(row["key_id"]),
                   str(row["public_key"]), bytes(row["signature"]))

    @classmethod
    def from_dict(cls, data: Any, where: str = "checkpoint") -> Checkpoint:
        """A checkpoint kept outside the database (`tutela ledger checkpoint --out`)."""
        fields = ("seq", "head", "time", "key_id", "public_key", "signature")
        if not isinstance(data, dict) or data.get("type") != TYPE or any(f not in data for f in fields):
            raise InputError(f"not a ledger checkpoint (needs type `{TYPE}` and {', '.join(fields)})", where=where)
        try:
            head = bytes.fromhex(str(data["head"]))
        except ValueError:
            raise InputError("head is not hex", where=f"{where}.head") from None
        if not isinstance(data["seq"], int) or isinstance(data["seq"], bool) or data["seq"] < 1 or len(head) != 32:
            raise InputError("seq must be a positive integer and head 32 bytes of hex", where=where)
        return cls(data["seq"], head, str(data["time"]), str(data["key_id"]), str(data["public_key"]),
                   _b64(str(data["signature"]), f"{where}.signature"))
