"""`tutela requests run ID --estate URL`: carry out an approved access or erasure request."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import Format
from tutela.cli.requests_show import print_request
from tutela.engine import Engine
from tutela.services.rights import EstateConfig


def run(
    request_id: str = typer.Argument(..., help="the request's id"),
    estate: str = typer.Option(..., "--estate", help="the estate the request was made for (URL)"),
    media: Path | None = typer.Option(None, "--media", help="the estate's media folder (files)"),
    redis: str | None = typer.Option(None, "--redis", help="the estate's Redis server, redis://host:port/db"),
    datamap: Path | None = typer.Option(None, "--datamap", help="Fides dataset YAML (default: ClipStream's)"),
    redis_prefix: str = typer.Option("", "--redis-prefix", help="put before every Redis key (shared servers)"),
    allow_unreachable: bool = typer.Option(False, "--allow-unreachable",
                                           help="proceed although some collections are unreachable"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Run an approved request: export the child's data, or erase it and write a receipt."""
    desk = Engine().requests(EstateConfig(estate, media=media, redis=redis, datamap=datamap, redis_prefix=redis_prefix))
    try:
        print_request(desk.run(request_id, allow_unreachable=allow_unreachable), fmt)
    finally:
        desk.close()
