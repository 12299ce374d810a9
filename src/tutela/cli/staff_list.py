"""`tutela staff list`: the console's accounts and their roles (never a password or a hash)."""

from __future__ import annotations

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def run(fmt: Format = typer.Option(Format.table, "--format", help="table or json")) -> None:
    """List console accounts."""
    accounts = Engine.staff_accounts()
    try:
        rows = accounts.list()
    finally:
        accounts.state.close()
    if fmt is Format.json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} staff account(s)")
    for col in ("name", "role", "disabled", "created_at"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["role"], "yes" if r["disabled"] else "", r["created_at"])
    console.print(table)
