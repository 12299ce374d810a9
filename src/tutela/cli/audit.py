"""`tutela audit --estate URL`: find every unlawful processing of children's data."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tutela.cli._output import EXIT_PROBLEMS, Format, console, err_console, parse_date, print_json
from tutela.engine import Engine
from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.models import Findings

SEVERITIES = ("low", "medium", "high", "critical")  # a finding's severity, lowest first (docs/audit.md)


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


def run(
    estate: str = typer.Option(
        ..., "--estate", help="sqlite:///f.db, postgresql+psycopg://..., mysql+pymysql://..., parquet:///dir"),
    datamap: Path | None = typer.Option(None, "--datamap", help="Fides dataset YAML (default: ClipStream's)"),
    as_of: str | None = typer.Option(None, "--as-of", help="audit date, YYYY-MM-DD (default: today)"),
    report: Path | None = typer.Option(None, "--report", help="write a self-contained HTML report here"),
    engine_name: str = typer.Option("duckdb", "--engine", help="duckdb (default) or spark (local mode)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
    all_: bool = typer.Option(False, "--all", help="also list what remediation repaired (status remediated)"),
    declarations: Path | None = typer.Option(
        None, "--declarations", help="Tutela declarations YAML (default: <name>.tutela.yml beside --datamap)"),
    fail_on: Severity | None = typer.Option(
        None, "--fail-on", help="exit 1 when an open finding has this severity or a higher one "
                                "(low < medium < high < critical): for CI"),
) -> None:
    """Audit an estate against the rulebook through its data map; print findings per rule.

    Exit codes: 0 done (with `--fail-on`: nothing open at or above that severity), 1 an open finding
    at or above the `--fail-on` severity, 3 bad input, 4 the estate or the state store is unavailable.
    """
    day = parse_date(as_of, "--as-of") if as_of else None
    if declarations is not None and datamap is None:
        raise InputError("declarations belong to a data map", where="--declarations",
                         hint="give the Fides dataset they describe with --datamap")
    engine = Engine()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=fmt is Format.json) as bar:
        task = bar.add_task("auditing", total=None)
        if engine_name not in ("duckdb", "spark"):
            raise InputError(f"unknown engine `{engine_name}`", where="--engine", hint="duckdb or spark")
        findings = engine.audit(estate, datamap, day, progress=lambda msg: bar.update(task, description=msg),
                                engine="spark" if engine_name == "spark" else "duckdb", include_remediated=all_,
                                declarations=declarations)
    audit_day = day or dt.datetime.now(dt.UTC).date()
    if report is not None:
        try:
            report.write_text(engine.report_html(findings, estate, audit_day), "utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the report: {exc.strerror}", where=str(report)) from None
    failing = [f for f in findings if fail_on is not None and f.status == "open"
               and SEVERITIES.index(f.severity) >= SEVERITIES.index(fail_on.value)]
    if fmt is Format.json:
        print_json([f.to_dict() for f in findings])
    else:
        _table(engine, estate, audit_day, findings, report)
    if failing:
        assert fail_on is not None
        err_console.print(f"{len(failing)} open findings at severity {fail_on.value} or above "
                          f"(--fail-on {fail_on.value}): exit 1", highlight=False)
        raise SystemExit(EXIT_PROBLEMS)


def _table(engine: Engine, estate: str, audit_day: dt.date, findings: Findings, report: Path | None) -> None:
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
