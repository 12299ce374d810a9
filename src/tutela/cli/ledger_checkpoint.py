"""`tutela ledger checkpoint [--db URL] [--prefix P] [--out FILE] [--format json]`: sign the
ledger's head now (Ed25519, the key in TUTELA_LEDGER_KEY) and, with `--out`, keep a copy of the
checkpoint outside the database, where `tutela ledger verify --checkpoint FILE` can use it to
see a truncated tail. `tutela ledger key`: a new signing key and its public key.

Exit codes: 0 signed, 3 bad input (no key, an empty ledger, a bad URL)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import typer

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine
from tutela.errors import InputError


def run(
    db: str | None = typer.Option(None, "--db", help="the ledger's database URL (default: TUTELA_LEDGER_URL)"),
    prefix: str = typer.Option("", "--prefix", help="the ledger's table prefix"),
    out: Path | None = typer.Option(None, "--out", help="also write the checkpoint (JSON) to this file"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Sign the ledger's current head."""
    with Engine.ledger(db, prefix=prefix, create=False) as ledger:
        cp = ledger.checkpoint()
    data = cp.to_dict()
    if out is not None:
        try:
            out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the checkpoint: {exc.strerror}", where=str(out)) from None
    if fmt is Format.json:
        print_json(data)
    else:
        console.print(f"signed seq {cp.seq} head {cp.head.hex()} at {cp.time} with key {cp.key_id}"
                      f"{f' (copy in {out})' if out else ''}", highlight=False, soft_wrap=True)


def key(fmt: Format = typer.Option(Format.table, "--format", help="table or json")) -> None:
    """Make a new Ed25519 signing key: the private key for TUTELA_LEDGER_KEY, the public one to publish."""
    from tutela.models import ledger_key_id as key_id
    from tutela.models import ledger_private_key as private_key
    from tutela.models import ledger_raw_public as raw_public
    from tutela.models import new_ledger_key as new_key_text

    text = new_key_text()
    pub = private_key(text).public_key()
    data = {"private_key": text, "public_key": base64.b64encode(raw_public(pub)).decode(), "key_id": key_id(pub)}
    if fmt is Format.json:
        print_json(data)
    else:
        console.print(f"TUTELA_LEDGER_KEY={data['private_key']}\n"
                      f"TUTELA_LEDGER_PUBLIC_KEYS={data['public_key']}\nkey id {data['key_id']}",
                      highlight=False, soft_wrap=True)
