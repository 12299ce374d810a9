"""`tutela consent grants SUBJECT [--active]`: a subject's consent grants, one scope each, with the
method, assurance, notice version, times and state (active, revoked, expired, needs_renewal)."""

from __future__ import annotations

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def run(
    subject: str = typer.Argument(..., help="the platform's id of the subject"),
    active: bool = typer.Option(False, "--active", help="only the grants that count now"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """List a subject's grants (history included unless --active)."""
    desk = Engine().consent
    try:
        now = desk.clock()
        rows = [g.to_dict(now) for g in desk.grants(subject, include_history=not active)]
    finally:
        desk.close()
    if fmt is Format.json:
        print_json(rows)
        return
    t = Table(title=f"{len(rows)} grant(s) of {subject}")
    for col in ("id", "scope", "by", "method", "assurance", "notice", "granted", "state"):
        t.add_column(col, overflow="fold")
    for g in rows:
        t.add_row(g["grant_id"], g["scope"], g["by"], g["method"], g["assurance"], g["notice_version"],
                  g["granted_at"], g["state"])
    console.print(t)
