"""`tutela rules check`: validate the whole rulebook; exit non-zero on any problem."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import EXIT_PROBLEMS, Format, console, fail, print_json
from tutela.errors import TutelaError
from tutela.rulebook import load_rulebook


def run(
    path: Path | None = typer.Option(None, "--path", help="a rulebook folder (default: the packaged one)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Validate every regime and jurisdiction file, citations, keys and dates."""
    try:
        book = load_rulebook(path)
    except TutelaError as exc:
        fail(exc, json_out=fmt is Format.json, code=EXIT_PROBLEMS)
    rules = book.all_rules
    problems = [s.rule.id for s in rules if not s.rule.citation.url]
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
    }
    if fmt is Format.json:
        print_json(summary)
    else:
        console.print(f"[green]ok[/] rulebook {book.version}: {summary['jurisdictions']} jurisdictions, "
                      f"{summary['regimes']} regimes, {summary['rules']} rules "
                      f"({summary['enforced']} enforced, "
                      f"{summary['primary_checked']} checked against the primary text)")
        for line in not_enforced:
            console.print(f"  [yellow]not enforced[/] {line}")
    if problems:
        raise SystemExit(EXIT_PROBLEMS)
