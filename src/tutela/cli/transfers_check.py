"""`tutela transfers check --recipient X --subject-jurisdiction NL [--age N] [--registry FILE | --estate URL]
[--on DATE] [--format json]`: may this subject's data go to this recipient on that day?

Exit codes: 0 allowed, 2 denied, 3 bad input (an unknown recipient or jurisdiction, a malformed
registry file), 4 the estate does not answer."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import EXIT_DENY, Format, console, parse_date, print_json
from tutela.engine import Engine

REGISTRY_HELP = "recipient registry YAML (default: the file TUTELA_TRANSFER_REGISTRY names)"
ESTATE_HELP = "read the recipients from this estate's processors table (a URL) instead"


def run(
    recipient: str = typer.Option(..., "--recipient", help="a recipient's id or name in the registry"),
    jurisdiction: str = typer.Option(..., "--subject-jurisdiction", help="the subject's jurisdiction, e.g. NL"),
    age: int | None = typer.Option(None, "--age", min=0, max=130, help="the subject's age (unknown: a child)"),
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    estate: str | None = typer.Option(None, "--estate", help=ESTATE_HELP),
    datamap: Path | None = typer.Option(None, "--datamap", help="the estate's data map (default: ClipStream's)"),
    on: str | None = typer.Option(None, "--on", help="the day of the transfer, YYYY-MM-DD (default today, UTC)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Allow or deny a transfer to a recipient, with the mechanism, the reasons and the law cited."""
    day = parse_date(on, "--on") if on else None
    result = Engine().transfers(registry, estate, datamap).check(
        recipient, subject={"jurisdiction": jurisdiction, "age": age}, on=day)
    if fmt is Format.json:
        print_json(result.to_dict())
    else:
        d = result.to_dict()
        r = d["recipient"]
        colour = "green" if result.allowed else "red"
        console.print(f"[bold {colour}]{d['effect']}[/]: {r['name']} ({r['kind']}, {r['country']}) for a subject in "
                      f"{d['jurisdiction']} on {d['on']} — mechanism [bold]{d['mechanism']}[/]", highlight=False)
        for reason in d["reasons"]:
            console.print(f"  {reason}", highlight=False, soft_wrap=True)
        for c in d["citations"]:
            since = f", from {c['effective_from']}" if "effective_from" in c else ""
            console.print(f"  [dim]{c['instrument']}, {c['section']}{since} ({c['url']})[/]", highlight=False,
                          soft_wrap=True)
    if not result.allowed:
        raise SystemExit(EXIT_DENY)
