"""`tutela consent revoke SUBJECT (--grant ID | --scope SCOPE) --by WHO`: revoke a grant; it stops
counting in decisions at once and a setting it unlocked goes back to its default. Exit 0; 3 when
there is no live grant to revoke or the input is bad."""

from __future__ import annotations

import typer

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def run(
    subject: str = typer.Argument(..., help="the platform's id of the subject"),
    grant: str | None = typer.Option(None, "--grant", help="the grant id (see `tutela consent grants`)"),
    scope: str | None = typer.Option(None, "--scope", help="revoke every live grant of this scope"),
    by: str = typer.Option(..., "--by", help="who asked: `guardian:<id>`, `self` or `staff:<name>`"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Revoke consent grants of a subject."""
    desk = Engine().consent
    try:
        ids = desk.revoke(subject, by, grant_id=grant, scope=scope)
    finally:
        desk.close()
    if fmt is Format.json:
        print_json({"revoked": ids})
        return
    console.print(f"revoked {len(ids)} grant(s): {', '.join(ids)}")
