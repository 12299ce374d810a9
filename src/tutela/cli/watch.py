"""`tutela watch --estate URL [--every MINUTES | --once]`: scheduled audits with notifications.
Each round audits the estate (kept in the history the console's overview shows) and tells the
privacy team, by e-mail (TUTELA_NOTIFY_EMAILS over TUTELA_SMTP_HOST) and a signed webhook
(TUTELA_NOTIFY_WEBHOOK), of open critical findings and of rights requests near or past their
deadline; each notice once. Run it as a service, or from cron with --once."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import typer

from tutela.cli._output import Format, console, err_console, parse_date, print_json
from tutela.engine import Engine


def run(
    estate: str = typer.Option(..., "--estate", help="estate URL to audit"),
    every: int = typer.Option(60, "--every", min=1, help="minutes between audits"),
    once: bool = typer.Option(False, "--once", help="one round, then exit (for cron)"),
    media: Path | None = typer.Option(None, "--media", help="the estate's media folder"),
    redis: str | None = typer.Option(None, "--redis", help="the estate's Redis server, redis://host:port/db"),
    datamap: Path | None = typer.Option(None, "--datamap", help="the estate's Fides dataset YAML"),
    redis_prefix: str = typer.Option("", "--redis-prefix", help="put before every Redis key (shared servers)"),
    as_of: str | None = typer.Option(None, "--as-of", help="audit as of this day, YYYY-MM-DD (default today)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Audit on a timer and notify the team of critical findings and near deadlines."""
    from tutela.models import EstateConfig  # when the command runs: `tutela --help` loads no capability

    day = parse_date(as_of, "--as-of") if as_of else None
    config = EstateConfig(estate, media=media, redis=redis, datamap=datamap, redis_prefix=redis_prefix)
    watch = Engine().watch(config, as_of=day)

    def show(done: Any) -> None:  # a tutela.staff.watch.Round
        summary = done.to_dict()
        if fmt is Format.json:
            print_json(summary)
            return
        console.print(f"audit {summary['audit']} ({summary['as_of']}): {summary['rules']} rule(s) breached, "
                      f"{summary['children']} children; {len(summary['notices'])} notice(s) sent")
        for n in summary["notices"]:
            console.print(f"  {n['subject']}")

    try:
        if once:
            show(watch.tick())
            return
        stop = threading.Event()
        console.print(f"watching {Engine.display_url(estate)} every {every} minute(s); Ctrl-C stops")
        try:
            watch.run(dt.timedelta(minutes=every), stop, on_round=show,
                      on_error=lambda exc: err_console.print(f"[red]round failed[/]: {exc}"))
        except KeyboardInterrupt:
            stop.set()
    finally:
        watch.office.close()
