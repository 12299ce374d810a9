"""`tutela consent request SUBJECT --jurisdiction NL --age 12 --parent-email ADDRESS [--scope S ...]`:
a minor's sign-up: the account starts from the privacy defaults and, below the age of digital
consent (or where a guardian must be linked), a consent request whose single-use link is emailed
to the parent (TUTELA_SMTP_HOST/PORT/FROM). Exit 0; 3 bad input; 4 the mail server or the state
store does not answer (nothing was written)."""

from __future__ import annotations

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine


def run(
    subject: str = typer.Argument(..., help="the platform's id of the child"),
    jurisdiction: str = typer.Option(..., "--jurisdiction", help="ISO 3166 code, e.g. NL or US-CA"),
    age: int = typer.Option(..., "--age", help="the child's age (from the age gate)"),
    parent_email: str | None = typer.Option(None, "--parent-email", help="where the consent link goes"),
    scope: list[str] = typer.Option([], "--scope", help="a consent scope to ask for besides `account` (repeat)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Sign a minor up: privacy defaults, and a parent's consent request when the law needs one."""
    desk = Engine().consent
    try:
        out = desk.sign_up(subject, jurisdiction, age, parent_email, scope)
    finally:
        desk.close()
    if fmt is Format.json:
        print_json(out)
        return
    t = Table(title=f"account {subject}", show_header=False)
    t.add_row("mode", out["mode"])
    t.add_row("age of digital consent", str(out["consent_age"]))
    t.add_row("settings", ", ".join(f"{k}: {v}" for k, v in out["settings"].items()) or "-")
    if out["request"]:
        req = out["request"]
        t.add_row("consent request", f"{req['request_id']} ({req['status']}, link emailed)")
        t.add_row("link expires", req["expires_at"])
        t.add_row("scopes asked", ", ".join(req["scopes"]))
    console.print(t)
