"""`tutela audit --estate URL`: find every unlawful processing of children's data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tutela.cli._output import Format, console, err_console, parse_date, print_json
from tutela.engine import Engine
from tutela.errors import InputError


def run(
    estate: str = typer.Option(
        ..., "--estate", help="sqlite:///f.db, postgresql+psycopg://..., mysql+pymysql://..., parquet:///dir"),
    datamap: Path | None = typer.Option(None, "--datamap", help="Fides dataset YAML (default: ClipStream's)"),
    as_of: str | None = typer.Option(None, "--as-of", help="audit date, YYYY-MM-DD (default: today)"),
    report: Path | None = typer.Option(None, "--report", help="write a self-contained HTML report here"),
    engine_name: str = typer.Option("duckdb", "--engine", help="duckdb (default) or spark (local mode)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
    all_: bool = typer.Option(False, "--all", help="also list what remediation repaired (status remediated)"),
) -> None:
    """Audit an estate against the rulebook through its data map; print findings per rule."""
    day = parse_date(as_of, "--as-of") if as_of else None
    engine = Engine()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=fmt is Format.json) as bar:
        task = bar.add_task("auditing", total=None)
        if engine_name not in ("duckdb", "spark"):
            raise InputError(f"unknown engine `{engine_name}`", where="--engine", hint="duckdb or spark")
        findings = engine.audit(estate, datamap, day, progress=lambda msg: bar.update(task, description=msg),
                                engine="spark" if engine_name == "spark" else "duckdb", include_remediated=all_)
    audit_day = day or dt.datetime.now(dt.UTC).date()
    if report is not None:
        try:
            report.write_text(engine.report_html(findings, estate, audit_day), "utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the report: {exc.strerror}", where=str(report)) from None
    if fmt is Format.json:
        print_json([f.to_dict() for f in findings])
        return
    n_open = sum(f.status == "open" for f in findings)
    table = Table(title=f"Audit of {engine.display_url(estate)} on {audit_day}: {n_open} rules breached")
    for col in ("rule", "status", "severity", "subjects", "children", "rows", "from signal", "unverified parent",
                "citation"):
        table.add_column(col, overflow="fold")
    for f in findings:
        table.add_row(f.rule, f.status, f.severity, str(f.subjects), str(f.children), str(f.rows),
                      str(f.age_from_signal), str(f.unverified_parent), f"{f.instrument}, {f.section}")
    console.print(table)
    every = findings.distinct.get("all", {})  # a child breached by several rules counts once here
    console.print(f"distinct over every rule: {every.get('children', 0)} children, "
                  f"{every.get('subjects', 0)} subjects", highlight=False)
    if report is not None:
        console.print(f"report: {report}")
