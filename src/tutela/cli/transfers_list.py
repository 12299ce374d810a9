"""`tutela transfers list [--registry FILE | --estate URL] [--regime EU-GDPR | --subject-jurisdiction NL]
[--on DATE] [--format json]`: every recipient with its country, mechanism and status for children's
data, and the third countries a privacy notice must name (GDPR Art. 13(1)(f)).

Exit codes: 0 listed, 3 bad input, 4 the estate does not answer."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tutela.cli._output import Format, console, parse_date, print_json
from tutela.cli.transfers_check import ESTATE_HELP, REGISTRY_HELP
from tutela.engine import Engine


def run(
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    estate: str | None = typer.Option(None, "--estate", help=ESTATE_HELP),
    datamap: Path | None = typer.Option(None, "--datamap", help="the estate's data map (default: ClipStream's)"),
    regime: str | None = typer.Option(None, "--regime", help="transfer regime of the rulebook (default EU-GDPR)"),
    jurisdiction: str | None = typer.Option(None, "--subject-jurisdiction",
                                            help="use the regime this jurisdiction's data is under"),
    on: str | None = typer.Option(None, "--on", help="YYYY-MM-DD (default today, UTC)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """List the recipients, where the data goes, under which mechanism, and the notice's countries."""
    day = parse_date(on, "--on") if on else None
    gate = Engine().transfers(registry, estate, datamap)
    status = gate.status(day, regime, jurisdiction)
    notice = gate.notice(day, regime, jurisdiction)
    if fmt is Format.json:
        print_json({"registry": gate.registry.source, "regime": notice.regime, "on": notice.on.isoformat(),
                    "recipients": [s.to_dict() for s in status], "notice": notice.to_dict()})
        return
    t = Table(title=f"{len(status)} recipient(s) under {notice.regime} on {notice.on} (children's data)")
    for col in ("id", "name", "kind", "country", "mechanism", "status", "missing"):
        t.add_column(col, overflow="fold")
    for s in status:
        r = s.recipient
        t.add_row(r.id, r.name, r.kind, r.country, s.mechanism, s.effect, ", ".join(s.missing))
    console.print(t)
    n = Table(title="Third countries to name in the privacy notice (GDPR Art. 13(1)(f))")
    for col in ("country", "adequacy decision", "safeguards", "recipients", "lawful"):
        n.add_column(col, overflow="fold")
    for c in notice.countries:
        d = c.to_dict()
        ad = d["adequacy_decision"]
        n.add_row(c.country, f"{ad['instrument']} (from {ad.get('effective_from', '?')})" if ad else "none",
                  ", ".join(d["safeguards"]) or "none",
                  ", ".join(f"{x['name']} ({x['kind']})" for x in d["recipients"]), "yes" if d["lawful"] else "no")
    console.print(n)
