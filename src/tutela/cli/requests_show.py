"""`tutela requests show ID`: one rights request with its deadline, flags and result."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def print_request(view: dict[str, Any], fmt: Format) -> None:
    """One request as JSON or as a short Rich summary (shared by the `requests` subcommands)."""
    if fmt is Format.json:
        print_json(view)
        return
    flags = [f for f in ("partial", "extended", "overdue", "no_fixed_period", "answered_late") if view.get(f)]
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
        print_stores(result.get("stores"), view["kind"])
        if result.get("receipt"):
            console.print(f"  receipt {result['receipt']['digest']}"
                          f"{' (partial: it covers only the stores searched)' if view.get('partial') else ''}",
                          highlight=False)
    elif view.get("stores") is not None:
        where = [f"{name} ({r['kind']}) {escape(r['location']) if r['location'] else '[red]no location[/]'}"
                 for name, r in sorted(view["stores"].items())]
        console.print("  stores recorded for the run: " + (", ".join(where) or "none declared"), highlight=False)


def print_stores(stores: list[dict[str, Any]] | None, kind: str) -> None:
    """Per store: searched with what it found (0 included), or not searched and why; then, when
    any was not searched, a notice that the result is incomplete."""
    if stores is None:  # a request run before stores were reported
        console.print("  [yellow]this result predates per-store reporting: it does not say which stores "
                      "were searched[/]", highlight=False)
        return
    verb = "found" if kind == "access" else "erased"
    table = Table(title="stores")
    for col in ("store", "kind", "location", "searched"):
        table.add_column(col, overflow="fold")
    for s in stores:
        state = (f"searched, {s['found']} {verb}" if s["searched"]
                 else f"[bold red]NOT SEARCHED[/]: {escape(s['reason'] or '')}")
        table.add_row(s["store"], s["kind"], escape(s["location"] or "-"), state)
    console.print(table)
    missing = [s["store"] for s in stores if not s["searched"]]
    if missing:
        console.print(f"[bold red]INCOMPLETE:[/] not searched: {', '.join(missing)}; this "
                      f"{'export' if kind == 'access' else 'erasure'} does not cover them", highlight=False)


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
