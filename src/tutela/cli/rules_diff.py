"""`tutela rules diff --from D1 --to D2`: what starts or stops applying between two dates."""

from __future__ import annotations

import typer
from rich.table import Table

from tutela.cli._output import Format, console, parse_date, print_json
from tutela.engine import Engine
from tutela.errors import InputError


def run(
    start: str = typer.Option(..., "--from", help="YYYY-MM-DD"),
    end: str = typer.Option(..., "--to", help="YYYY-MM-DD"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """List rules, consent ages and adequacy decisions that start or end in (FROM, TO]."""
    a, b = parse_date(start, "--from"), parse_date(end, "--to")
    if b < a:
        raise InputError("`--to` is before `--from`", where="--to")
    changes = Engine().rules_diff(a, b)
    if fmt is Format.json:
        print_json([c.to_dict() for c in changes])
        return
    table = Table(title=f"Rulebook changes after {a} up to {b}: {len(changes)}")
    for col in ("on", "change", "kind", "id", "source", "title", "citation"):
        table.add_column(col, overflow="fold")
    for c in changes:
        table.add_row(str(c.on), c.change, c.kind, c.id, c.source, c.title, f"{c.instrument}, {c.section}")
    console.print(table)
