"""`tutela rules list`: every jurisdiction, the regimes it inherits and its rule count."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def run(fmt: Format = typer.Option(Format.table, "--format", help="table or json")) -> None:
    """List jurisdictions with their inherited regimes and rule counts."""
    book = Engine().rulebook
    rows: list[dict[str, Any]] = []
    for code in sorted(book.jurisdictions):
        j = book.jurisdictions[code]
        rules = book.rules_for(code)
        rows.append({
            "code": code,
            "name": j.name,
            "regimes": list(j.inherits),
            "rules": len(rules),
            "enforced": sum(1 for s in rules if s.rule.status == "enforced"),
            "digital_consent_age": j.digital_consent[-1].age,
        })
    if fmt is Format.json:
        print_json(rows)
        return
    table = Table(title=f"Tutela rulebook {book.version} — {len(rows)} jurisdictions")
    for col in ("code", "name", "regimes", "rules", "enforced", "consent age"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["code"], r["name"], ", ".join(r["regimes"]), str(r["rules"]),
                      str(r["enforced"]), str(r["digital_consent_age"]))
    console.print(table)
