"""`tutela media clean PATH... [--strict] [--format json]`: remove location (and, strict, all
metadata but what shows the picture right) from photos and videos, each file on its own.

Exit codes: 0 every file is clean (cleaned or already clean), 1 some file was refused (its
reason is shown; in strict mode it is quarantined unless `--on-refuse` says otherwise),
3 bad input (a path that does not exist)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tutela.cli._output import EXIT_PROBLEMS, Format, console, err_console, print_json
from tutela.engine import Engine
from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.models import MediaResult, OnRefuse


def _files(paths: list[Path]) -> list[Path]:
    from tutela.models import QUARANTINE

    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(f for f in sorted(p.rglob("*")) if f.is_file() and QUARANTINE not in f.parts
                       and not f.name.endswith(".tutela-tmp"))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError("no such file or folder", where=str(p), hint="give photos, videos or folders of them")
    return out


def run(
    paths: list[Path] = typer.Argument(..., help="files or folders (folders are walked)"),
    strict: bool = typer.Option(False, "--strict", help="remove all metadata but what shows the picture right"),
    on_refuse: str | None = typer.Option(None, "--on-refuse",
                                         help="keep | quarantine | delete a refused file (strict: quarantine)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Clean photos and videos in place: JPEG, PNG, WebP, TIFF, HEIC/HEIF, MP4/MOV/M4V."""
    from tutela.models import STATUSES

    policy = on_refuse or ("quarantine" if strict else "keep")
    if policy not in ("keep", "quarantine", "delete"):
        raise InputError(f"unknown choice `{policy}`", where="--on-refuse", hint="keep, quarantine or delete")
    files = _files(paths)
    with Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=fmt is Format.json) as bar:
        task = bar.add_task("cleaning media", total=len(files))

        def progress(result: MediaResult) -> None:
            bar.advance(task)

        chosen: OnRefuse = "delete" if policy == "delete" else "quarantine" if policy == "quarantine" else "keep"
        results = Engine.clean_media(files, strict=strict, on_refuse=chosen, progress=progress)
    counts = Counter(r.status for r in results)
    summary = {s: counts.get(s, 0) for s in STATUSES}
    if fmt is Format.json:
        print_json({"strict": strict, "summary": summary, "files": [r.to_dict() for r in results]})
    else:
        t = Table(title=f"{len(results)} file(s){' (strict)' if strict else ''}")
        for col in ("file", "format", "status", "what"):
            t.add_column(col, overflow="fold")
        colour = {"cleaned": "green", "already_clean": "dim", "refused": "red"}
        for r in results:
            what = r.reason if r.status == "refused" else ", ".join(r.removed) or "nothing to remove"
            t.add_row(r.path, r.format, f"[{colour[r.status]}]{r.status}[/]", what)
        console.print(t)
        console.print(", ".join(f"{n} {s.replace('_', ' ')}" for s, n in summary.items()))
    if summary["refused"]:
        raise SystemExit(EXIT_PROBLEMS)
