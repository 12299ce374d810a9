"""`tutela datamap import FILE`: accept a plain Fides dataset into Tutela's data maps."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from tutela import settings
from tutela.cli._output import EXIT_PROBLEMS, Format, console, err_console, print_json
from tutela.datamap import check, load_datamap
from tutela.errors import InputError
from tutela.taxonomy import load_taxonomy


def run(
    file: Path = typer.Argument(..., help="a Fides dataset YAML file"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Validate a Fides dataset and store it under $TUTELA_HOME/datamaps/<fides_key>.yml."""
    dm = load_datamap(file)
    problems = check(dm, load_taxonomy())
    dest = settings.home() / "datamaps" / f"{dm.dataset.fides_key}.yml"
    if not problems:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".yml.tmp")
            shutil.copyfile(file, tmp)
            tmp.replace(dest)  # all or nothing
        except OSError as exc:
            raise InputError(f"cannot store the data map: {exc.strerror}", where=str(dest)) from None
    summary = {
        "dataset": dm.dataset.fides_key, "imported": not problems, "path": str(dest) if not problems else None,
        "collections": len(dm.dataset.collections),
        "fields": sum(len(c.fields) for c in dm.dataset.collections),
        "problems": [p.to_dict() for p in problems],
    }
    if fmt is Format.json:
        print_json(summary)
    else:
        for p in problems:
            err_console.print(f"[red]problem:[/] [bold]{p.where}[/]: {p.message}", highlight=False)
        if not problems:
            console.print(f"[green]imported[/] `{dm.dataset.fides_key}` ({summary['collections']} collections, "
                          f"{summary['fields']} fields) to {dest}")
    if problems:
        raise SystemExit(EXIT_PROBLEMS)
