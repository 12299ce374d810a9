"""`tutela rules show CODE`: a jurisdiction's rules with their citations."""

from __future__ import annotations

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def run(
    code: str = typer.Argument(..., help="jurisdiction code, e.g. NL or US-CA"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Show one jurisdiction: age of digital consent, inherited regimes, every rule."""
    book = Engine().rulebook
    j = book.jurisdiction(code.upper(), where="CODE")
    scoped = book.rules_for(j.code)
    if fmt is Format.json:
        print_json({
            "code": j.code, "name": j.name, "regimes": list(j.inherits), "note": j.note,
            "digital_consent": [d.model_dump(mode="json") for d in j.digital_consent],
            "rules": [{"source": s.source, **s.rule.model_dump(mode="json", exclude_defaults=True)}
                      for s in scoped],
        })
        return
    console.print(f"[bold]{j.code}[/] {j.name} — inherits {', '.join(j.inherits) or 'nothing'}")
    for d in j.digital_consent:
        until = f" until {d.effective_to}" if d.effective_to else ""
        console.print(f"  age of digital consent {d.age} (below: {d.below}) from {d.effective_from}{until}"
                      f" — {d.citation.instrument} {d.citation.section}")
    if j.note:
        console.print(f"  [dim]{j.note}[/]")
    table = Table(show_lines=False)
    for col in ("id", "effect", "status", "from", "title", "citation"):
        table.add_column(col, overflow="fold")
    for s in scoped:
        r = s.rule
        table.add_row(r.id, r.effect, r.status, str(r.effective_from), r.title,
                      f"{r.citation.instrument}, {r.citation.section}\n{r.citation.url}")
    console.print(table)
