"""`tutela requests extend ID --by NAME --reason TEXT`: use the one extension the law allows."""

from __future__ import annotations

import typer

from tutela.cli._output import Format
from tutela.cli.requests_show import print_request
from tutela.engine import Engine


def run(
    request_id: str = typer.Argument(..., help="the request's id"),
    by: str = typer.Option(..., "--by", help="the staff member extending it"),
    reason: str = typer.Option(..., "--reason", help="the reason the requester is told"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Extend an open request's deadline (GDPR: two further months; CCPA: 45 more days), within the first period."""
    desk = Engine().requests()
    try:
        print_request(desk.extend(request_id, by=by, reason=reason), fmt)
    finally:
        desk.close()
