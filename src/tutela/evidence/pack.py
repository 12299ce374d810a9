"""The pack as a zip: its files, a manifest with the SHA-256 of each, and the manifest's signature.

    manifest.json   {"format": "tutela.evidence.v1", "files": {name: sha256 hex}, ...}
    manifest.sig    {"key_id", "public_key" (base64), "signature" (base64)}: Ed25519 over the
                    manifest's bytes, with the ledger's key (TUTELA_LEDGER_KEY) when one is set

`verify` reads the zip without extracting it and checks, in file-name order, that every file the
manifest lists is there with its hash, that no other file is there, and the signature.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tutela.errors import InputError
from tutela.ledger import trusted_keys
from tutela.ledger.checkpoint import key_id, raw_public

FORMAT = "tutela.evidence.v1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # zip entry times: the manifest carries the real one


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_zip(files: dict[str, bytes], meta: dict[str, Any], key: Ed25519PrivateKey | None) -> bytes:
    manifest = {"format": FORMAT, **meta, "files": {n: sha256(b) for n, b in sorted(files.items())},
                "signed": key is not None}
    raw = json.dumps(manifest, indent=1, sort_keys=True).encode()
    out = {**files, MANIFEST: raw}
    if key is not None:
        pub = key.public_key()
        out[SIGNATURE] = json.dumps({"key_id": key_id(pub), "public_key": base64.b64encode(raw_public(pub)).decode(),
                                     "signature": base64.b64encode(key.sign(raw)).decode()}, indent=1).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(out):
            z.writestr(zipfile.ZipInfo(name, _FIXED_TIME), out[name], zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@dataclass
class Verdict:
    ok: bool = True
    files: int = 0
    first_bad: dict[str, str] | None = None
    signed: bool = False
    key_id: str | None = None
    keys_pinned: bool = False
    notes: list[str] = field(default_factory=list)

    def bad(self, name: str, what: str) -> Verdict:
        if self.first_bad is None:
            self.ok, self.first_bad = False, {"file": name, "problem": what}
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "files": self.files, "first_bad": self.first_bad, "signed": self.signed,
                "key_id": self.key_id, "keys_pinned": self.keys_pinned, "notes": self.notes}


def read_zip(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if len(names) != len(set(names)):
                raise InputError("the zip holds two files of one name", where=str(path))
            return {n: z.read(n) for n in names}
    except FileNotFoundError:
        raise InputError("no such file", where=str(path)) from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"not a zip file: {exc}", where=str(path)) from None


def verify(files: dict[str, bytes], trusted: dict[str, Ed25519PublicKey] | None = None) -> Verdict:
    v = Verdict()
    raw = files.get(MANIFEST)
    if raw is None:
        return v.bad(MANIFEST, "the manifest is missing")
    try:
        manifest = json.loads(raw)
        listed: dict[str, str] = dict(manifest["files"])
        if manifest.get("format") != FORMAT:
            return v.bad(MANIFEST, f"not a Tutela evidence manifest (format {manifest.get('format')!r})")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return v.bad(MANIFEST, "the manifest is not valid JSON with a `files` map")
    v.files = len(listed)
    for name in sorted(set(listed) | (set(files) - {MANIFEST, SIGNATURE})):
        if name not in listed:
            v.bad(name, "a file the manifest does not list (added)")
        elif name not in files:
            v.bad(name, "listed in the manifest but missing")
        elif sha256(files[name]) != listed[name]:
            v.bad(name, "its SHA-256 does not match the manifest (changed)")
    _signature(v, files, raw, bool(manifest.get("signed")), trusted if trusted is not None else trusted_keys())
    return v


def _signature(v: Verdict, files: dict[str, bytes], raw: bytes, claims: bool,
               trusted: dict[str, Ed25519PublicKey] | None) -> None:
    sig = files.get(SIGNATURE)
    if sig is None:
        if claims:
            v.bad(SIGNATURE, "the manifest says it is signed but the signature is missing")
        else:
            v.notes.append("the pack is not signed (no TUTELA_LEDGER_KEY when it was built): the hashes show it "
                           "is whole, not who built it")
        return
    try:
        s = json.loads(sig)
        pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(s["public_key"], validate=True))
        signature = base64.b64decode(s["signature"], validate=True)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        v.bad(SIGNATURE, "the signature file is malformed")
        return
    v.signed, v.key_id = True, key_id(pub)
    if trusted:
        v.keys_pinned = True
        if v.key_id not in trusted:
            v.bad(SIGNATURE, f"signed by key {v.key_id}, which is not a trusted key")
            return
        pub = trusted[v.key_id]
    else:
        v.notes.append("no trusted key given (TUTELA_LEDGER_PUBLIC_KEYS): the signature was checked against the "
                       "key the pack carries, which proves nothing about who signed it")
    try:
        pub.verify(signature, raw)
    except InvalidSignature:
        v.bad(SIGNATURE, "the signature does not match the manifest")
