"""`tutela requests show ID`: one rights request with its deadline, flags and result."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def print_request(view: dict[str, Any], fmt: Format) -> None:
    """One request as JSON or as a short Rich summary (shared by the `requests` subcommands)."""
    if fmt is Format.json:
        print_json(view)
        return
    flags = [f for f in ("extended", "overdue", "no_fixed_period", "answered_late") if view.get(f)]
    console.print(f"[bold]{view['id']}[/] {view['kind']}"
                  f"{'' if view['scope'] == 'all' else ' (' + view['scope'] + ')'} of subject {view['subject']}"
                  f" ({view['jurisdiction']}) — [bold]{view['status']}[/]", highlight=False)
    console.print(f"  received {view['received']} · due {view['due'] or 'no fixed date'}"
                  f"{' · ' + ', '.join(flags) if flags else ''}", highlight=False)
    console.print(f"  requester {view['requester']['kind']}"
                  f"{' (' + view['requester']['ref'] + ')' if view['requester']['ref'] else ''}"
                  f" · created by {view['created_by']} · approval by {view['approval']}"
                  f"{' · decided by ' + view['decided_by'] if view['decided_by'] else ''}", highlight=False)
    for b in view["deadline"]:
        console.print(f"  [dim]{b['instrument']}, {b['section']}: {b['period'] or 'no fixed period'}"
                      f"{' (+' + b['extension'] + ')' if b['extension'] else ''}[/]", highlight=False)
    if view["note"]:
        console.print(f"  note: {view['note']}", highlight=False)
    if view.get("policy"):
        console.print(f"  erasure policy `{view['policy']['key']}`", highlight=False)
    for line in view.get("undecided", []):
        console.print(f"  [yellow]Tutela cannot decide[/] {line}", highlight=False)
    if view["error"]:
        console.print(f"  [red]last run failed:[/] {view['error']}", highlight=False)
    result = view.get("result")
    if result:
        table = Table(title="result")
        for col in ("store", "collection", "action", "rows"):
            table.add_column(col)
        for item in result.get("collections", []):
            table.add_row(item["store"], item["collection"], item["action"], str(item["rows"]))
        console.print(table)
        for item in result.get("skipped", []):
            console.print(f"  skipped `{item['collection']}`: {item['why']}", highlight=False)
        if result.get("receipt"):
            console.print(f"  receipt {result['receipt']['digest']}", highlight=False)


def run(
    request_id: str = typer.Argument(..., help="the request's id"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Show one rights request."""
    desk = Engine().requests()
    try:
        print_request(desk.show(request_id), fmt)
    finally:
        desk.close()
