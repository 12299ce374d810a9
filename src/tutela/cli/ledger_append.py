"""`tutela ledger append KIND BODY` or `tutela ledger append KIND --file BODIES.jsonl`: append one
entry (BODY: a JSON object) or every line of a JSON Lines file in one transaction.

Exit codes: 0 appended, 3 bad input (an unknown kind, a body that does not validate: nothing
is written, and the error names the line and the field)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine
from tutela.errors import InputError


def _object(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"not JSON: {exc}", where=where,
                         hint='a JSON object, e.g. \'{"version": "2026.1", …}\'') from None


def run(
    kind: str = typer.Argument(..., help="the entry kind (see docs/ledger.md)"),
    body: str | None = typer.Argument(None, help="the body as a JSON object"),
    file: Path | None = typer.Option(None, "--file", help="a JSON Lines file of bodies, appended as one batch"),
    db: str | None = typer.Option(None, "--db", help="the ledger's database URL (default: TUTELA_LEDGER_URL)"),
    prefix: str = typer.Option("", "--prefix", help="the ledger's table prefix"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Append entries to the ledger."""
    if (body is None) == (file is None):
        raise InputError("give a BODY or --file, not both or neither", where="BODY")
    if file is not None:
        try:
            lines = [ln for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", where=str(file)) from None
        bodies = [_object(ln, f"{file}:{i + 1}") for i, ln in enumerate(lines)]
    else:
        bodies = [_object(body or "", "BODY")]
    with Engine.ledger(db, prefix=prefix) as ledger:
        if file is None:
            seq, head = ledger.append(kind, bodies[0])
        else:
            seq, last = ledger.append_many(kind, bodies)
            head = last or b""
    result = {"appended": len(bodies), "seq": seq, "head": head.hex()}
    if fmt is Format.json:
        print_json(result)
    else:
        console.print(f"appended {len(bodies)} {kind} entr{'y' if len(bodies) == 1 else 'ies'}; head seq {seq} "
                      f"{head.hex()}", highlight=False, soft_wrap=True)
