"""`tutela decide [FILE]`: decide requests given as JSON (a file or stdin). Exit 0 allow, 2 deny.

On a terminal the decisions are shown for people to read (effect, the rules that decided with
their citations, what is missing, obligations); piped, or with `--format json`, they are JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from tutela.cli._output import EXIT_DENY, Format, console, print_json, read_json
from tutela.engine import Engine
from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.models import Decision

_COLOUR = {"allow": "green", "allow_with_obligations": "yellow", "deny": "red"}


def run(
    file: Path | None = typer.Argument(None, help="JSON file; omit or `-` to read stdin"),
    reference: bool = typer.Option(False, "--reference", help="use the reference evaluator"),
    fmt: Format | None = typer.Option(None, "--format",
                                      help="table (for people) or json; default: table on a terminal, else json"),
) -> None:
    """Decide one request ({"subject", "act"}) or a list of them; show or print the decisions."""
    if (file is None or str(file) == "-") and sys.stdin.isatty():  # a newcomer's `tutela decide` would wait forever
        raise InputError("no request given", where="stdin",
                         hint="give a JSON file (`tutela decide request.json`) or pipe one "
                              "(`echo '{\"subject\": ..., \"act\": ...}' | tutela decide`); README shows one")
    raw, _where = read_json(file)
    engine = Engine()
    as_json = fmt is Format.json or (fmt is None and not sys.stdout.isatty())
    if isinstance(raw, list):
        decisions = engine.decide_many(raw, reference=reference)  # all-or-nothing
        if as_json:
            print_json([d.model_dump(mode="json") for d in decisions])
        else:
            for i, d in enumerate(decisions):
                show(d, f"request [{i}]")
        denied = any(not d.allowed for d in decisions)
    else:
        d = engine.decide(raw, reference=reference)
        if as_json:
            print_json(d.model_dump(mode="json"))
        else:
            show(d, "decision")
        denied = not d.allowed
    if denied:
        raise SystemExit(EXIT_DENY)


def show(d: Decision, title: str) -> None:
    """One decision for people: what was decided, why, and what would make it lawful."""
    colour = _COLOUR.get(d.effect, "white")
    head = (f"[bold {colour}]{d.effect}[/]  age {d.age} on {d.evaluated_on}"
            + (f", destination {d.destination_class.replace('_', '-')}" if d.destination_class != "none" else ""))
    rules = Table(show_edge=False, expand=True, title="Determining rules", title_justify="left")
    for col in ("kind", "rule", "citation"):
        rules.add_column(col, overflow="fold")
    for r in d.determining:
        rules.add_row(r.kind, f"[bold]{escape(r.id)}[/]\n{escape(r.title)}",
                      f"{escape(r.instrument)}, {escape(r.section)}\n[link={r.url}]{escape(r.url)}[/]")
    parts: list[Table | str] = [head, rules]
    if not d.determining:
        parts.append("[dim]no rule applies: no lawful basis, so the act is denied[/]")
    if d.missing:
        parts.append("[bold]Missing[/] (what the act needs to be lawful):" if d.lawful_possible else
                     "[bold]Missing[/] (what the rules ask; one prohibition stands whatever is given):")
        for m in d.missing:
            if m.kind == "consent":
                parts.append(f"  • consent for `{m.scope}` by {m.by} at assurance {m.assurance}"
                             + (" (a separate consent)" if m.separate else ""))
            else:
                parts.append(f"  • transfer safeguard `{m.safeguard}`")
    if d.obligations:
        parts.append("[bold]Obligations[/]: " + ", ".join(f"`{o}`" for o in d.obligations))
    if d.effect == "deny":
        parts.append("lawful possible: yes, with what is missing" if d.lawful_possible
                     else "lawful possible: no, whatever consent is given")
    parts.append(f"[dim]rulebook {d.rulebook_version}[/]")
    body = Table.grid()
    for p in parts:
        body.add_row(p)
    console.print(Panel(body, title=title, border_style=colour, expand=False), highlight=False)
