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
) -> None:
    """Serve the decision API with uvicorn (and rights requests, for staff, with --estate)."""
    check_port(host, port)
    import uvicorn

    from tutela.api import create_app
    from tutela.api.logs import log_config
    from tutela.models import EstateConfig

    config = EstateConfig(estate, media=media, redis=redis, datamap=datamap,
                          redis_prefix=redis_prefix) if estate else None
    uvicorn.run(create_app(report=report, estate=config), host=host, port=port, log_level="info",
                access_log=False, log_config=log_config())  # JSON lines, no personal data (docs/operations.md)
