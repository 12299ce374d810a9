"""`tutela requests export ID`: the access export as JSON or as a self-contained HTML page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from tutela.cli._output import console, err_console
from tutela.engine import Engine
from tutela.errors import InputError


def run(
    request_id: str = typer.Argument(..., help="the request's id"),
    fmt: str = typer.Option("json", "--format", help="json or html"),
    out: Path | None = typer.Option(None, "--out", help="write to this file (default: stdout)"),
) -> None:
    """Print or write the export of a done access request."""
    if fmt not in ("json", "html"):
        raise InputError(f"unknown format `{fmt}`", where="--format", hint="json or html")
    desk = Engine().requests()
    try:
        data, _digest = desk.export(request_id)
        text = desk.export_html(request_id) if fmt == "html" else json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    finally:
        desk.close()
    missing = [s["store"] for s in data.get("stores") or [] if not s["searched"]]
    if missing or data.get("stores") is None:
        what = f"not searched: {', '.join(missing)}" if missing else "it predates per-store reporting"
        err_console.print(f"[bold red]warning:[/] this export is incomplete ({what}); the export says so too",
                          highlight=False, soft_wrap=True)
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, "utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the export: {exc.strerror}", where=str(out)) from None
    console.print(f"export: {out}", highlight=False)
