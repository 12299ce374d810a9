"""`tutela estate truth URL`: the violations the generator planted in an estate (its ground truth)."""

from __future__ import annotations

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json


def run(
    url: str = typer.Argument(..., help="the estate URL given to `tutela estate generate --out`"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Print the ground truth of a generated estate: per rule, the subjects and rows in violation."""
    from tutela.clipstream import load_document

    doc = load_document(url)
    findings = doc["findings"]
    if fmt is Format.json:
        print_json(findings)
        return
    table = Table(title=f"Ground truth of {doc['url']} (seed {doc.get('seed')}, as of {doc.get('as_of')})")
    for col in ("rule", "subjects", "rows", "age from signal"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for f in findings:
        table.add_row(f["rule"], f"{f['subjects']:,}", f"{f['rows']:,}", f"{f.get('subjects_age_from_signal', 0):,}")
    console.print(table if findings else "no violations: the estate is lawful")
