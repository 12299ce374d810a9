"""`tutela remediate`: repair the findings of an audit — dry run, execute, resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tutela.cli._output import Format, console, err_console, parse_date, print_json
from tutela.engine import Engine
from tutela.errors import InputError


def run(
    estate: str | None = typer.Option(None, "--estate", help="the estate URL (as for `tutela audit`)"),
    findings: Path | None = typer.Option(None, "--findings", help="findings JSON (`tutela audit --format json`)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would change; write nothing"),
    execute: bool = typer.Option(False, "--execute", help="change the estate (checkpointed, resumable)"),
    resume: str | None = typer.Option(None, "--resume", help="resume the job with this id"),
    list_jobs: bool = typer.Option(False, "--list", help="list remediation jobs"),
    datamap: Path | None = typer.Option(None, "--datamap", help="Fides dataset YAML (default: ClipStream's)"),
    as_of: str | None = typer.Option(None, "--as-of", help="audit date, YYYY-MM-DD (default: today)"),
    media: Path | None = typer.Option(None, "--media", help="the estate's media folder (default: beside it)"),
    redis: str | None = typer.Option(None, "--redis", help="redis://host:port/db holding the estate's cache keys"),
    redis_prefix: str = typer.Option("", "--redis-prefix", help="prefix of the estate's Redis keys"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Erase or minimise what an audit found unlawful; past transfers are settled, never deleted.

    Exit code 0 when everything planned was changed and checked, 1 when the job ended with
    items it could not change (listed; `--resume JOB` retries only those), 3 for bad input."""
    engine = Engine()
    if list_jobs:
        _jobs(engine.remediation_jobs(), fmt)
        return
    modes = [m for m, on in (("--dry-run", dry_run), ("--execute", execute), ("--resume", resume is not None)) if on]
    if len(modes) != 1:
        raise InputError("choose exactly one of --dry-run, --execute, --resume JOB (or --list)",
                         where=" ".join(modes) or "tutela remediate")
    day = parse_date(as_of, "--as-of") if as_of else None
    with Progress(TextColumn("{task.description:<36}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=fmt is Format.json) as bar:
        task = bar.add_task("deriving rows from the estate", total=None)

        def progress(msg: str, done: int, total: int) -> None:
            bar.update(task, description=msg, completed=done, total=total)

        if resume is not None:
            result = engine.remediation_resume(resume, estate=estate, media=media, redis=redis, progress=progress,
                                               redis_prefix=redis_prefix)
        else:
            if estate is None or findings is None:
                raise InputError("--estate and --findings are required", where="--estate/--findings")
            result = engine.remediate(estate, findings, execute=execute, datamap=datamap, as_of=day, media=media,
                                      redis=redis, progress=progress, redis_prefix=redis_prefix)
    if fmt is Format.json:
        print_json(result)
    else:
        _print(result)
    if result.get("failed"):
        raise typer.Exit(1)  # the job ended, but not everything was changed: see `failed`


def _print(r: dict[str, Any]) -> None:
    title = "Dry run: nothing was written" if r.get("dry_run") else f"Job {r.get('job')}: {r.get('status')}"
    t = Table(title=title)
    for col in ("store", "collection", "action", "rows", "rules"):
        t.add_column(col, overflow="fold")
    for s in r["steps"]:
        t.add_row(s["store"], s["collection"], s["action"], f"{s['rows']:,}", ", ".join(s["rules"]))
    console.print(t)
    rules = Table(title=f"{r['subjects']:,} subjects, by rule")
    for col in ("rule", "subjects", "rows"):
        rules.add_column(col)
    for rule, v in r["rules"].items():
        rules.add_row(rule, f"{v['subjects']:,}", f"{v['rows']:,}")
    console.print(rules)
    console.print("by country: " + ", ".join(f"{c} {n:,}" for c, n in list(r["countries"].items())[:12]))
    if r.get("skipped_stores"):
        console.print(f"[yellow]not given, so not repaired: {', '.join(r['skipped_stores'])}[/] "
                      "(pass --media / --redis to include them)")
    if r.get("dry_run"):
        console.print("[dim]run again with --execute to apply[/]")
    else:
        console.print(f"receipts: {r.get('receipts', 0):,}; transfers settled: {r.get('settled', 0):,}")
    if r.get("failed"):
        f = Table(title=f"[red]{len(r['failed'])} item(s) not changed[/] (first 50)")
        for col in ("store", "collection", "item", "reason"):
            f.add_column(col, overflow="fold")
        for x in r["failed"]:
            f.add_row(x["store"], x["collection"], str(x["item"]), x["reason"])
        console.print(f)
        console.print(f"[yellow]retry only these: tutela remediate --resume {r.get('job')}[/]")


def _jobs(jobs: list[dict[str, Any]], fmt: Format) -> None:
    if fmt is Format.json:
        print_json(jobs)
        return
    t = Table(title="Remediation jobs")
    for col in ("job", "status", "estate", "created", "note"):
        t.add_column(col, overflow="fold")
    for j in jobs:
        t.add_row(j["job_id"], j["status"], j["estate"], str(j["created_at"]), j.get("note") or "")
    console.print(t)
