"""`tutela decide [FILE]`: decide requests given as JSON (a file or stdin). Exit 0 allow, 2 deny."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from tutela.cli._output import EXIT_DENY, print_json
from tutela.engine import Engine
from tutela.errors import InputError


def run(
    file: Path | None = typer.Argument(None, help="JSON file; omit or `-` to read stdin"),
    reference: bool = typer.Option(False, "--reference", help="use the reference evaluator"),
    fmt: str = typer.Option("json", "--format", help="json (the only format)"),
) -> None:
    """Decide one request ({"subject", "act"}) or a list of them; print the decisions as JSON."""
    where = "stdin" if file is None or str(file) == "-" else str(file)
    try:
        text = sys.stdin.read() if where == "stdin" else Path(where).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the input: {exc}", where=where) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                         where=where) from None
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
