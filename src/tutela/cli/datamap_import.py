"""`tutela datamap import FILE`: accept a plain Fides dataset into Tutela's data maps."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import EXIT_PROBLEMS, Format, console, err_console, print_json
from tutela.engine import Engine


def run(
    file: Path = typer.Argument(..., help="a Fides dataset YAML file"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Validate a Fides dataset and store it under $TUTELA_HOME/datamaps/<fides_key>.yml."""
    checked, dest = Engine().import_datamap(file)
    problems = checked.problems
    summary = {
        "dataset": checked.dataset, "imported": dest is not None, "path": str(dest) if dest else None,
        "collections": checked.collections, "fields": checked.fields,
        "problems": [p.to_dict() for p in problems],
    }
    if fmt is Format.json:
        print_json(summary)
    else:
        for p in problems:
            err_console.print(f"[red]problem:[/] [bold]{p.where}[/]: {p.message}", highlight=False)
        if dest is not None:
            console.print(f"[green]imported[/] `{checked.dataset}` ({summary['collections']} collections, "
                          f"{summary['fields']} fields) to {dest}")
    if problems:
        raise SystemExit(EXIT_PROBLEMS)
