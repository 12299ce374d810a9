"""`tutela estate generate`: write a synthetic ClipStream estate and keep its ground truth apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from tutela.cli._output import Format, console, err_console, print_json


def run(
    accounts: int = typer.Option(2000, "--accounts", help="number of accounts (subjects)"),
    seed: int = typer.Option(7, "--seed", help="random seed: the same seed gives the same estate"),
    out: str = typer.Option("clipstream.db", "--out",
                            help="sqlite:///file.db (default), postgresql+psycopg://…, "
                                 "mysql+pymysql://… or parquet:///folder"),
    lawful: bool = typer.Option(False, "--lawful", help="an estate without any violation"),
    rows: int | None = typer.Option(None, "--rows", help="total event rows (watch history, ads, pings)"),
    media: Path | None = typer.Option(None, "--media", help="folder for the media files"),
    media_files: int | None = typer.Option(None, "--media-files",
                                           help="how many media rows get real files (default 600)"),
    no_media: bool = typer.Option(False, "--no-media", help="write no media files"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Generate a deterministic ClipStream estate; its ground truth goes to $TUTELA_HOME/truth/."""
    from tutela.clipstream import generate

    limit = 0 if no_media else media_files
    if fmt is Format.json:
        summary = generate(out, accounts, seed, lawful=lawful, rows=rows, media_dir=media, media_files=limit)
        print_json(summary)
        return
    with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=max(total, 1))
            bar.update(tasks[table], completed=done if total else 1, total=max(total, 1))

        summary = generate(out, accounts, seed, lawful=lawful, rows=rows, media_dir=media, media_files=limit,
                           progress=progress)
    _print(summary)


def _print(s: dict[str, Any]) -> None:
    table = Table(title=f"ClipStream estate — {s['target']}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in sorted(s["tables"].items()):
        table.add_row(name, f"{n:,}")
    console.print(table)
    if s["media_dir"]:
        console.print(f"media files: {s['media_files']:,} in {s['media_dir']}")
    kind = "lawful estate, no violations" if s["lawful"] else f"{s['findings']} rules violated"
    console.print(f"ground truth ({kind}): {s['truth']}  — `tutela estate truth {s['target']} --format json`")
    console.print(f"[dim]seed {s['seed']}, as of {s['as_of']}, {s['seconds']['total']} s[/]")
