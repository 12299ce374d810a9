"""`tutela adreq guard [FILE|-] [--gpc] [--subject JSON] [--format json]`: guard one OpenRTB 2.6
bid request (a file or stdin); print the guarded request and every change with its rule.

Exit codes: 0 the request may go to auction (as printed), 2 refused (nothing to auction),
3 bad input (not JSON, a wrong type at a known field, a malformed consent string)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tutela.cli._output import EXIT_DENY, Format, console, parse_json, print_json, read_json
from tutela.engine import Engine


def run(
    file: Path | None = typer.Argument(None, help="bid request JSON file; omit or `-` to read stdin"),
    gpc: bool = typer.Option(False, "--gpc", help="the request came with the header `Sec-GPC: 1`"),
    subject: str | None = typer.Option(None, "--subject", help='what is known of the user, JSON, e.g. '
                                       '\'{"jurisdiction": "IT", "age": 15}\''),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Make a bid request lawful for this user, or refuse to auction it; explain every change."""
    request, _where = read_json(file)
    subj = parse_json(subject, "--subject") if subject else None
    result = Engine().adreq_guard(request, gpc=gpc or None, subject=subj)
    if fmt is Format.json:
        print_json(result.to_dict())
    else:
        console.print(f"outcome: [bold]{result.outcome}[/]")
        t = Table(title=f"{len(result.changes)} change(s)")
        for col in ("field", "action", "rules"):
            t.add_column(col, overflow="fold")
        for c in result.changes:
            t.add_row(c.path, c.action + (f" ({c.detail})" if c.detail else ""), ", ".join(c.rules))
        console.print(t)
        for rid, rule in result.rules.items():
            cite = rule["citation"]
            console.print(f"[bold]{rid}[/] {rule['title']} — {cite['instrument']}, {cite['section']} ({cite['url']})",
                          highlight=False, soft_wrap=True)
            for d in rule.get("determined_by", []):
                console.print(f"    by {d['id']}: {d['instrument']}, {d['section']}", highlight=False, soft_wrap=True)
        for note in result.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False)
        if result.request is not None:
            print_json(result.request)
    if result.refused:
        raise SystemExit(EXIT_DENY)
