"""`tutela ledger verify [--db URL] [--prefix P] [--public-key KEY]... [--checkpoint FILE] [--format json]`:
check every link of the ledger's chain and every signed checkpoint; name the first bad entry.

Exit codes: 0 the ledger holds, 1 it was tampered with (the first bad seq and what is wrong
are shown), 3 bad input (a URL without a ledger, a malformed key or checkpoint file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tutela.cli._output import EXIT_PROBLEMS, Format, console, print_json
from tutela.engine import Engine
from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.models import LedgerCheckpoint as Checkpoint


def read_checkpoint(path: Path) -> Checkpoint:
    from tutela.models import LedgerCheckpoint as Checkpoint

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the checkpoint file: {exc.strerror}", where=str(path)) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"not JSON: {exc}", where=str(path)) from None
    return Checkpoint.from_dict(data, where=str(path))


def run(
    db: str | None = typer.Option(None, "--db", help="the ledger's database URL (default: TUTELA_LEDGER_URL)"),
    prefix: str = typer.Option("", "--prefix", help="the ledger's table prefix"),
    public_key: list[str] = typer.Option(
        [], "--public-key", help="a trusted Ed25519 public key (base64); default TUTELA_LEDGER_PUBLIC_KEYS"),
    checkpoint: list[Path] = typer.Option([], "--checkpoint", help="a checkpoint kept outside the database (JSON)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Verify the ledger: edited, deleted, reordered, inserted or truncated entries."""
    from tutela.models import trusted_ledger_keys as trusted_keys

    external = [read_checkpoint(p) for p in checkpoint]
    keys = trusted_keys(public_key)
    with Engine.ledger(db, prefix=prefix, create=False) as ledger:
        report = ledger.verify(keys, external)
    if fmt is Format.json:
        print_json(report.to_dict())
    elif report.first_bad is None:
        console.print(f"[green]ok[/]: {report.entries} entries, head seq {report.head_seq}"
                      f"{' ' + report.head.hex() if report.head else ''}; {report.checkpoints} checkpoint(s), "
                      f"signed up to seq {report.proven_upto}", highlight=False, soft_wrap=True)
    else:
        console.print(f"[red]tampered[/]: first bad entry [bold]seq {report.first_bad.seq}[/]: "
                      f"{report.first_bad.what}", highlight=False, soft_wrap=True)
        console.print(f"  {report.entries} entries held before it; signed up to seq {report.proven_upto}",
                      highlight=False, soft_wrap=True)
    if fmt is not Format.json:
        for note in report.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False, soft_wrap=True)
    if not report.ok:
        raise SystemExit(EXIT_PROBLEMS)
