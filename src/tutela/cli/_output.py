"""Shared output helpers: JSON or Rich tables, and errors without tracebacks."""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from tutela.errors import InputError as TutelaInputError
from tutela.errors import TutelaError

console = Console()
err_console = Console(stderr=True)
EXIT_PROBLEMS, EXIT_DENY, EXIT_INPUT, EXIT_UNAVAILABLE = 1, 2, 3, 4  # docs/cli.md


class Format(StrEnum):
    table = "table"
    json = "json"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def parse_json(text: str, where: str) -> Any:
    """JSON text, or an input error naming where it came from and the line and column at fault."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TutelaInputError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                               where=where) from None


def read_json(file: Path | None) -> tuple[Any, str]:
    """The JSON in `file` (None or `-`: standard input) and where it came from."""
    where = "stdin" if file is None or str(file) == "-" else str(file)
    try:
        text = sys.stdin.read() if where == "stdin" else Path(where).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TutelaInputError(f"cannot read the input: {exc}", where=where) from None
    return parse_json(text, where), where


def parse_date(value: str, name: str) -> dt.date:
    """A YYYY-MM-DD option value, or an input error naming the option."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise TutelaInputError(f"not a date: `{value}`", where=name, hint="use YYYY-MM-DD") from None


def fail(exc: TutelaError, json_out: bool = False, code: int = EXIT_INPUT) -> NoReturn:
    if json_out:
        print_json(exc.to_dict())
    else:
        where = f"[bold]{exc.where}[/]: " if exc.where else ""
        # soft_wrap: an error names paths and URLs; they stay on one line to be copied or searched
        err_console.print(f"[red]error:[/] {where}{exc.message}", highlight=False, markup=True, soft_wrap=True)
        if exc.hint:
            err_console.print(f"[dim]hint: {exc.hint}[/]", highlight=False, soft_wrap=True)
    raise SystemExit(code)
