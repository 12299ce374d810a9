"""`tutela decide [FILE]`: decide requests given as JSON (a file or stdin). Exit 0 allow, 2 deny."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import EXIT_DENY, print_json, read_json
from tutela.engine import Engine


def run(
    file: Path | None = typer.Argument(None, help="JSON file; omit or `-` to read stdin"),
    reference: bool = typer.Option(False, "--reference", help="use the reference evaluator"),
    fmt: str = typer.Option("json", "--format", help="json (the only format)"),
) -> None:
    """Decide one request ({"subject", "act"}) or a list of them; print the decisions as JSON."""
    raw, _where = read_json(file)
    engine = Engine()
    if isinstance(raw, list):
        decisions = engine.decide_many(raw, reference=reference)  # all-or-nothing
        print_json([d.model_dump(mode="json") for d in decisions])
        denied = any(not d.allowed for d in decisions)
    else:
        d = engine.decide(raw, reference=reference)
        print_json(d.model_dump(mode="json"))
        denied = not d.allowed
    if denied:
        raise SystemExit(EXIT_DENY)
