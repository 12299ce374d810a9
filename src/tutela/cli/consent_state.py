"""`tutela consent state --out state.parquet [--on DATE]`: the stream guard's subject-state table
from the consent store (every account, its age, the grants live that day), written whole so a
running guard re-reading the file never sees half of it. Run it after every grant or revocation
(or on a timer): the guard's revocation bound counts from the moment the file is replaced."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import Format, console, parse_date, print_json
from tutela.engine import Engine


def run(
    out: Path = typer.Option(..., "--out", help="the state file to write (.parquet or .arrow)"),
    on: str | None = typer.Option(None, "--on", help="the day the grants must be live on, YYYY-MM-DD (default today)"),
    config: Path | None = typer.Option(None, "--config", help="the stream guard's configuration (grant bits)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Write the stream guard's subject-state table from the stored consents."""
    engine = Engine()
    day = parse_date(on, "--on") if on else None
    try:
        build = engine.subject_state(day, config=config, out=out)
    finally:
        engine.consent.close()
    if fmt is Format.json:
        print_json({"out": str(out), **build.to_dict()})
        return
    console.print(f"wrote {out}: {build.subjects} subject(s), {build.granted_scopes} granted scope(s)")
    for why, n in build.dropped.items():
        console.print(f"[yellow]left out[/] {n} grant(s): {why}")
