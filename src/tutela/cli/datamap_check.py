"""`tutela datamap check [FILE]`: unknown categories, unreachable collections, missing identities."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import EXIT_PROBLEMS, Format, console, err_console, print_json
from tutela.engine import Engine


def run(
    file: Path | None = typer.Argument(None, help="Fides dataset YAML (default: ClipStream's data map)"),
    declarations: Path | None = typer.Option(None, "--declarations", help="Tutela declarations YAML"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Check a data map; exit 1 when it has problems."""
    checked = Engine().check_datamap(file, declarations)
    problems, remarks = checked.problems, checked.notes
    if fmt is Format.json:
        body = checked.to_dict()
        print_json({k: body[k] for k in ("dataset", "ok", "problems", "notes")})
    elif problems:
        for p in problems:
            err_console.print(f"[red]problem:[/] [bold]{p.where}[/]: {p.message}", highlight=False)
    if fmt is not Format.json:
        for p in remarks:
            err_console.print(f"[yellow]note:[/] [bold]{p.where}[/]: {p.message}", highlight=False)
    if fmt is not Format.json and not problems:
        console.print(f"[green]ok[/] dataset `{checked.dataset}`: {checked.collections} "
                      f"collections, {checked.fields} fields"
                      + (", with Tutela declarations" if checked.declarations else ""))
    if problems:
        raise SystemExit(EXIT_PROBLEMS)
