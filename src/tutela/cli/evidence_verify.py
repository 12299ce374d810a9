"""`tutela evidence verify PACK [--format json]`: every file's SHA-256 against the manifest, and
the manifest's signature. Exit codes: 0 the pack is whole, 1 a file was changed, added or
removed, or the signature fails (the first bad file is named), 3 not a pack."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import EXIT_PROBLEMS, Format, console, print_json
from tutela.engine import Engine


def run(
    pack: Path = typer.Argument(..., help="the evidence pack (zip)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Verify an evidence pack: every file's hash and the signature."""
    v = Engine().evidence.verify(pack)
    if fmt is Format.json:
        print_json(v.to_dict())
    elif v.first_bad is None:
        pinned = "" if v.keys_pinned else " (key not pinned)"
        signed = f"signed by key {v.key_id}{pinned}" if v.signed else "unsigned"
        console.print(f"[green]ok[/]: {v.files} files match the manifest; {signed}", highlight=False, soft_wrap=True)
    else:
        console.print(f"[red]bad[/]: [bold]{v.first_bad['file']}[/]: {v.first_bad['problem']}",
                      highlight=False, soft_wrap=True)
    if fmt is not Format.json:
        for note in v.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False, soft_wrap=True)
    if not v.ok:
        raise SystemExit(EXIT_PROBLEMS)
