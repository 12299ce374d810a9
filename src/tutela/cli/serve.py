"""`tutela serve`: the HTTP API (OpenAPI at /openapi.json)."""

from __future__ import annotations

from pathlib import Path

import typer


def run(
    host: str = typer.Option("127.0.0.1", help="interface to bind"),
    port: int = typer.Option(8000, help="port"),
    report: Path | None = typer.Option(None, "--report", help="also serve this audit report at /report"),
) -> None:
    """Serve the decision API with uvicorn."""
    import uvicorn

    from tutela.api import create_app

    uvicorn.run(create_app(report=report), host=host, port=port, log_level="info", access_log=False)
