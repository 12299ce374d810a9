"""`tutela requests approve ID --by NAME`: a staff member approves a request so it may run."""

from __future__ import annotations

import typer

from tutela.cli._output import Format
from tutela.cli.requests_show import print_request
from tutela.engine import Engine


def run(
    request_id: str = typer.Argument(..., help="the request's id"),
    by: str = typer.Option(..., "--by", help="the approving staff member"),
    note: str | None = typer.Option(None, "--note", help="a note for the file (no personal data)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Approve a pending request (staff approval; a parent's own approval is not implemented)."""
    desk = Engine().requests()
    try:
        print_request(desk.approve(request_id, by=by, note=note), fmt)
    finally:
        desk.close()
