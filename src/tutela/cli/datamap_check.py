"""`tutela datamap check [FILE]`: unknown categories, unreachable collections, missing identities."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import EXIT_PROBLEMS, Format, console, err_console, print_json
from tutela.datamap import check, load_datamap
from tutela.datamap.check import notes
from tutela.taxonomy import load_taxonomy


def run(
    file: Path | None = typer.Argument(None, help="Fides dataset YAML (default: ClipStream's data map)"),
    declarations: Path | None = typer.Option(None, "--declarations", help="Tutela declarations YAML"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Check a data map; exit 1 when it has problems."""
    dm = load_datamap(file, declarations)
    problems = check(dm, load_taxonomy())
    remarks = notes(dm)
    if fmt is Format.json:
        print_json({"dataset": dm.dataset.fides_key, "ok": not problems,
                    "problems": [p.to_dict() for p in problems], "notes": [p.to_dict() for p in remarks]})
    elif problems:
        for p in problems:
            err_console.print(f"[red]problem:[/] [bold]{p.where}[/]: {p.message}", highlight=False)
    if fmt is not Format.json:
        for p in remarks:
            err_console.print(f"[yellow]note:[/] [bold]{p.where}[/]: {p.message}", highlight=False)
    if fmt is not Format.json and not problems:
        n = sum(len(c.fields) for c in dm.dataset.collections)
        console.print(f"[green]ok[/] dataset `{dm.dataset.fides_key}`: {len(dm.dataset.collections)} "
                      f"collections, {n} fields" + (", with Tutela declarations" if dm.tutela else ""))
    if problems:
        raise SystemExit(EXIT_PROBLEMS)
