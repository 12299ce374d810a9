"""`tutela rules check`: validate the rulebook and the data beside it; exit 1 on any problem."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import EXIT_PROBLEMS, Format, console, fail, print_json
from tutela.engine import Engine
from tutela.errors import TutelaError


def run(
    path: Path | None = typer.Option(None, "--path", help="a rulebook folder (default: the packaged one)"),
    deadlines: Path | None = typer.Option(None, "--deadlines", help="a deadlines file (default: the packaged one)"),
    repairs: Path | None = typer.Option(None, "--remediation", help="a repairs file (default: the packaged one)"),
    age: Path | None = typer.Option(None, "--age", help="an age-assurance file (default: the packaged one)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Validate every regime and jurisdiction file (citations, keys, dates), the rights-request
    deadlines and the remediation repairs, and what they say about each other."""
    try:
        engine = Engine(rulebook_path=path)
    except TutelaError as exc:
        fail(exc, json_out=fmt is Format.json, code=EXIT_PROBLEMS)
    book = engine.rulebook
    rules = book.all_rules
    problems = engine.check_data(deadlines, repairs, age)
    not_enforced = sorted(f"{s.rule.id} ({s.rule.status})" for s in rules if s.rule.status != "enforced")
    summary: dict[str, object] = {
        "ok": not problems,
        "version": book.version,
        "jurisdictions": len(book.jurisdictions),
        "regimes": len(book.regimes),
        "rules": len(rules),
        "enforced": sum(1 for s in rules if s.rule.status == "enforced"),
        "not_enforced": not_enforced,
        "primary_checked": sum(1 for s in rules if s.rule.citation.primary_checked),
        "problems": [p.to_dict() for p in problems],
    }
    if fmt is Format.json:
        print_json(summary)
    else:
        mark = "[red]problems[/]" if problems else "[green]ok[/]"
        console.print(f"{mark} rulebook {book.version}: {summary['jurisdictions']} jurisdictions, "
                      f"{summary['regimes']} regimes, {summary['rules']} rules "
                      f"({summary['enforced']} enforced, "
                      f"{summary['primary_checked']} checked against the primary text); "
                      "deadlines, repairs and age requirements")
        for line in not_enforced:
            console.print(f"  [yellow]not enforced[/] {line}")
        for p in problems:
            console.print(f"  [red]problem[/] [bold]{p.where}[/]: {p.message}", highlight=False, soft_wrap=True)
    if problems:
        raise SystemExit(EXIT_PROBLEMS)
