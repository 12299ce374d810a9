"""`tutela serve`: the HTTP API (OpenAPI at /openapi.json)."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._port import check_port


def run(
    host: str = typer.Option("127.0.0.1", help="interface to bind"),
    port: int = typer.Option(8000, help="port"),
    report: Path | None = typer.Option(None, "--report", help="also serve this audit report at /report"),
    estate: str | None = typer.Option(None, "--estate", help="estate URL for rights requests (/v1/requests)"),
    media: Path | None = typer.Option(None, "--media", help="the estate's media folder"),
    redis: str | None = typer.Option(None, "--redis", help="the estate's Redis server, redis://host:port/db"),
    datamap: Path | None = typer.Option(None, "--datamap", help="the estate's Fides dataset YAML"),
    redis_prefix: str = typer.Option("", "--redis-prefix", help="put before every Redis key (shared servers)"),
    as_of: str | None = typer.Option(None, "--as-of", help="the day the console audits the estate on, YYYY-MM-DD "
                                                          "(default today)"),
) -> None:
    """Serve the API with uvicorn; with --estate also the console, the parent portal and rights requests.

    The privacy team's console is at /console (docs/console.md), the parent portal at /portal."""
    check_port(host, port)
    import uvicorn

    from tutela.api.logs import log_config
    from tutela.cli._output import parse_date
    from tutela.models import EstateConfig
    from tutela.web import create_app

    day = parse_date(as_of, "--as-of") if as_of else None
    config = EstateConfig(estate, media=media, redis=redis, datamap=datamap,
                          redis_prefix=redis_prefix) if estate else None
    uvicorn.run(create_app(report=report, estate=config, as_of=day), host=host, port=port, log_level="info",
                access_log=False, log_config=log_config())  # JSON lines, no personal data (docs/operations.md)
