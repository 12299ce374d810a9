"""`tutela age requirements [--path FILE] [--format json]`: the assurance level each act or
jurisdiction needs and the signal sources with their legal status today, checked. Exit 1
when the file has problems."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tutela.cli._output import EXIT_PROBLEMS, Format, console, err_console, print_json
from tutela.engine import Engine
from tutela.errors import TutelaError


def run(
    path: Path | None = typer.Option(None, "--path", help="an age-assurance file (default: the packaged one)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """List and check the age-assurance requirements and signal sources."""
    from tutela.models import check_age_requirements as check

    engine = Engine()
    known = frozenset(engine.rulebook.jurisdictions) | frozenset(engine.rulebook.regimes)
    problems = check(path, known)
    try:
        book = engine.age_requirements(path)
    except TutelaError:  # check() has named the problem
        if fmt is Format.json:
            print_json({"ok": False, "problems": [p.to_dict() for p in problems]})
        for p in problems:
            err_console.print(f"[red]problem[/] [bold]{p.where}[/]: {p.message}", highlight=False, soft_wrap=True)
        raise SystemExit(EXIT_PROBLEMS) from None
    day = engine.today()
    reqs = [{"id": r.id, "applies_to": list(r.applies_to), "service": r.service, "minimum": r.minimum,
             "enforced": r.verified and r.effective_from <= day, "citation": r.citation.instrument}
            for r in book.requirements]
    sources = [{"id": s.id, "kind": s.kind, "status": s.law.status(day) if s.law else "platform",
                "effective_from": str(s.law.effective_from) if s.law else None} for s in book.sources]
    if fmt is Format.json:
        print_json({"ok": not problems, "version": book.version, "requirements": reqs, "sources": sources,
                    "problems": [p.to_dict() for p in problems]})
    else:
        t = Table(title=f"age assurance {book.version}")
        for col in ("id", "where", "service", "minimum", "enforced"):
            t.add_column(col, overflow="fold")
        for req in book.requirements:
            enforced = req.verified and req.effective_from <= day
            t.add_row(req.id, ", ".join(req.applies_to), str(req.service), str(req.minimum),
                      "yes" if enforced else "[yellow]no (unverified)[/]")
        console.print(t)
        s = Table(title="signal sources")
        for col in ("id", "kind", "status today", "effective from"):
            s.add_column(col, overflow="fold")
        for src in sources:
            s.add_row(str(src["id"]), str(src["kind"]), str(src["status"]), str(src["effective_from"] or "-"))
        console.print(s)
        for p in problems:
            console.print(f"  [red]problem[/] [bold]{p.where}[/]: {p.message}", highlight=False, soft_wrap=True)
    if problems:
        raise SystemExit(EXIT_PROBLEMS)
