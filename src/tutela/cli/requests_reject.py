"""`tutela requests reject ID --by NAME --reason TEXT`: refuse a request, with the reason on file."""

from __future__ import annotations

import typer

from tutela.cli._output import Format
from tutela.cli.requests_show import print_request
from tutela.engine import Engine


def run(
    request_id: str = typer.Argument(..., help="the request's id"),
    by: str = typer.Option(..., "--by", help="the staff member rejecting it"),
    reason: str = typer.Option(..., "--reason", help="why (told to the requester; no personal data)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Reject a pending, approved or failed request."""
    desk = Engine().requests()
    try:
        print_request(desk.reject(request_id, by=by, reason=reason), fmt)
    finally:
        desk.close()
