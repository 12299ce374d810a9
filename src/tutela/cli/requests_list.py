"""`tutela requests list`: rights requests with status, due date and the extended/overdue flags."""

from __future__ import annotations

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def run(
    status: str | None = typer.Option(None, "--status", help="pending_approval, approved, rejected, done, failed"),
    kind: str | None = typer.Option(None, "--kind", help="access or erasure"),
    subject: str | None = typer.Option(None, "--subject", help="only this subject's requests"),
    limit: int = typer.Option(100, "--limit", help="at most this many (1-1000)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """List rights requests, newest first."""
    desk = Engine().requests()
    try:
        views = desk.list(status=status, kind=kind, subject=subject, limit=limit)
    finally:
        desk.close()
    if fmt is Format.json:
        print_json(views)
        return
    table = Table(title=f"{len(views)} rights request(s)")
    for col in ("id", "kind", "subject", "jurisdiction", "status", "received", "due", "flags"):
        table.add_column(col, overflow="fold")
    for v in views:
        flags = ", ".join(f for f in ("partial", "extended", "overdue", "no_fixed_period", "answered_late") if v[f])
        table.add_row(v["id"], v["kind"] if v["scope"] == "all" else f"{v['kind']} ({v['scope']})", v["subject"],
                      v["jurisdiction"], v["status"], v["received"], v["due"] or "-", flags)
    console.print(table)
