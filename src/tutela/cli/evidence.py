"""`tutela evidence --since D --until D [--estate URL] [--cohort-created-from D --cohort-created-until D] --out
pack.zip`: the evidence pack for a period (docs/evidence.md); `tutela evidence verify pack.zip` checks it.

Exit codes: 0 written, 3 bad input (a date that is not YYYY-MM-DD, a period that ends before it
starts, half a cohort), 4 a store unavailable."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import Format, console, parse_date, print_json
from tutela.engine import Engine
from tutela.errors import InputError

group = typer.Typer(help="Evidence packs: what Tutela did over a period, in one verifiable zip.",
                    invoke_without_command=True, no_args_is_help=True)


@group.callback()
def build(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="first day of the period, YYYY-MM-DD"),
    until: str | None = typer.Option(None, "--until", help="last day of the period, YYYY-MM-DD"),
    out: Path | None = typer.Option(None, "--out", help="the zip to write"),
    estate: str | None = typer.Option(None, "--estate", help="the estate URL (processors, consents, cohort findings)"),
    datamap: Path | None = typer.Option(None, "--datamap", help="the estate's Fides dataset YAML"),
    cohort_from: str | None = typer.Option(None, "--cohort-created-from", help="cohort: accounts created from"),
    cohort_until: str | None = typer.Option(None, "--cohort-created-until", help="cohort: accounts created until"),
    as_of: str | None = typer.Option(None, "--as-of", help="the cohort's audit date, YYYY-MM-DD (default: today)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Build the evidence pack for [--since, --until] into --out."""
    if ctx.invoked_subcommand is not None:
        return
    if since is None or until is None or out is None:
        missing = [n for n, v in (("--since", since), ("--until", until), ("--out", out)) if v is None]
        raise InputError(f"{', '.join(missing)} is required", where=missing[0],
                         hint="tutela evidence --since 2026-01-01 --until 2026-12-31 --out pack.zip")
    a, b = parse_date(since, "--since"), parse_date(until, "--until")
    if (cohort_from is None) != (cohort_until is None):
        raise InputError("a cohort needs both --cohort-created-from and --cohort-created-until",
                         where="--cohort-created-until" if cohort_until is None else "--cohort-created-from")
    cohort = None
    if cohort_from is not None and cohort_until is not None:
        cohort = (parse_date(cohort_from, "--cohort-created-from"), parse_date(cohort_until, "--cohort-created-until"))
    day = parse_date(as_of, "--as-of") if as_of else None
    data = Engine().evidence.build(a, b, estate=estate, datamap=datamap, cohort=cohort, today=day)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write the pack: {exc.strerror}", where=str(out)) from None
    if fmt is Format.json:
        print_json({"out": str(out), "bytes": len(data)})
    else:
        console.print(f"wrote {out} ({len(data):,} bytes); check it with `tutela evidence verify {out}`",
                      highlight=False, soft_wrap=True)
