"""`tutela demo`: the main job on the embedded SQLite default.

Generates a ClipStream estate (20k accounts) into SQLite, audits it, writes the HTML report,
shows a few single decisions with their reasons, then serves the API and the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tutela.cli._output import Format, console, err_console, print_json
from tutela.cli._port import check_port
from tutela.engine import Engine

if TYPE_CHECKING:
    from tutela.models import Decision, Finding


def run(
    accounts: int = typer.Option(20_000, help="accounts in the generated estate"),
    out: Path = typer.Option(Path("out"), help="folder for the estate, its media and the report"),
    seed: int = typer.Option(7, help="generator seed"),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="serve the API and the report afterwards"),
    port: int = typer.Option(8000, help="API port"),
    redis: str | None = typer.Option(None, "--redis", help="also write ClipStream's session cache to this Redis "
                                                           "(redis://host:port/db) and serve requests with it"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Generate ClipStream, audit it, write the report, then serve the API and the report.

    The port is checked first: a busy one stops the demo (exit 3) before anything is generated."""
    if serve:
        check_port("127.0.0.1", port, make_hint=True)
    engine = Engine()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err_console,
                  transient=True, disable=fmt is Format.json) as bar:
        task = bar.add_task("demo", total=None)
        made = engine.demo(out, accounts, seed, redis, progress=lambda msg: bar.update(task, description=msg))
    url, report, found = made["estate"], made["report"], made["findings_file"]
    findings, repair, decisions = made["findings"], made["remediation_dry_run"], made["decisions"]
    estate = made["summary"]
    if fmt is Format.json:
        print_json({"estate": url, "tables": estate["tables"], "report": str(report),
                    "findings": [f.to_dict() for f in findings], "remediation_dry_run": repair,
                    "decisions": [{"case": t, "decision": d.model_dump(mode="json")} for t, d in decisions]})
    else:
        _show(estate, findings, decisions, report)
        _repair(repair, url, found)
    if serve:
        from tutela.cli.serve import run as serve_run
        from tutela.models import AS_OF

        password = _demo_account()
        console.print(f"\n[bold]Look here:[/] console and report http://127.0.0.1:{port}/console, signed in as "
                      f"[bold]demo[/] (a DPO) with the password [bold]{password}[/] (new on every demo unless "
                      "TUTELA_STAFF_PASSWORD sets it; more staff with `tutela staff add`) · API "
                      f"http://127.0.0.1:{port}/docs (OpenAPI /openapi.json, POST /v1/decisions; rights requests "
                      "at /v1/requests for staff, tokens from TUTELA_STAFF_TOKENS) · the report offline: "
                      f"{report}\n")
        if not redis:
            console.print("[dim]ClipStream's data map declares a Redis cache; without `--redis` a rights request "
                          "run refuses to start (HTTP 422 naming it) unless its body says "
                          '{"allow_partial": true}, and then the export says Redis was not searched.[/]')
        serve_run(host="127.0.0.1", port=port, report=report, estate=url, media=None,
                  redis=redis, datamap=None, redis_prefix="", as_of=AS_OF.isoformat())


def _demo_account() -> str:
    """The demo's DPO account `demo` in the state store, with a fresh password (or
    TUTELA_STAFF_PASSWORD): the console and /report ask for a sign-in. Shown on the terminal once,
    never logged; only its argon2id hash is stored."""
    import secrets

    from tutela.settings import text

    password = text("TUTELA_STAFF_PASSWORD") or secrets.token_urlsafe(12)
    accounts = Engine.staff_accounts()
    try:
        accounts.add("demo", "dpo", password, replace=True)
    finally:
        accounts.state.close()
    return password


def _show(estate: dict[str, Any], findings: list[Finding], decisions: list[tuple[str, Decision]],
          report: Path) -> None:
    rows = sum(estate["tables"].values())
    console.print(f"[bold]ClipStream[/]: {rows:,} rows in {len(estate['tables'])} tables, "
                  f"{estate.get('media_files', 0):,} media files → {estate['target']}")
    t = Table(title=f"Audit: {len(findings)} rules breached (as of the estate's date)")
    for col in ("rule", "severity", "children", "subjects", "rows", "citation"):
        t.add_column(col, overflow="fold")
    for f in sorted(findings, key=lambda f: -f.rows)[:12]:
        t.add_row(f.rule, f.severity, str(f.children), str(f.subjects), str(f.rows), f"{f.instrument}, {f.section}")
    console.print(t)
    if len(findings) > 12:
        console.print(f"… and {len(findings) - 12} more in the report.")
    d = Table(title="Single decisions, with the rules that decide them")
    for col in ("case", "effect", "determining", "missing"):
        d.add_column(col, overflow="fold")
    for title, dec in decisions:
        missing = ", ".join(f"{m.scope} by {m.by} ({m.assurance}{', separate' if m.separate else ''})"
                            if m.kind == "consent" else m.safeguard or ""
                            for m in dec.missing)
        d.add_row(title, dec.effect, "\n".join(r.id for r in dec.determining), missing)
    console.print(d)
    console.print(f"report: {report}")


def _repair(r: dict[str, Any], url: str, found: Path) -> None:
    t = Table(title=f"Remediation, dry run: {r['subjects']:,} subjects; nothing was written")
    for col in ("store", "collection", "action", "rows"):
        t.add_column(col)
    for s in r["steps"]:
        t.add_row(s["store"], s["collection"], s["action"] + (f" ({', '.join(s['masks'])})" if s["masks"] else ""),
                  f"{s['rows']:,}")
    console.print(t)
    console.print(f"to repair: tutela remediate --estate {url} --findings {found} --as-of 2026-11-01 --execute",
                  highlight=False, soft_wrap=True)
