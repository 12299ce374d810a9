"""`tutela requests run ID --estate URL`: carry out an approved access or erasure request.

The media folder and Redis come from the request (recorded when it was created); `--media` /
`--redis` here override them. A declared store that cannot be searched stops the run (exit 3)
unless `--allow-partial`; then the output names every store that was not searched."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import Format
from tutela.cli.requests_show import print_request
from tutela.engine import Engine


def run(
    request_id: str = typer.Argument(..., help="the request's id"),
    estate: str = typer.Option(..., "--estate", help="the estate the request was made for (URL)"),
    media: Path | None = typer.Option(None, "--media",
                                      help="the estate's media folder (default: the one the request recorded)"),
    redis: str | None = typer.Option(None, "--redis",
                                     help="the estate's Redis server (default: the one the request recorded)"),
    datamap: Path | None = typer.Option(None, "--datamap", help="Fides dataset YAML (default: ClipStream's)"),
    redis_prefix: str = typer.Option("", "--redis-prefix", help="with --redis: put before every Redis key"),
    allow_unreachable: bool = typer.Option(False, "--allow-unreachable",
                                           help="proceed although some collections are unreachable"),
    allow_partial: bool = typer.Option(False, "--allow-partial",
                                       help="run even if a declared store cannot be searched (it is named)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Run an approved request: export the child's data, or erase it and write a receipt."""
    from tutela.models import EstateConfig

    desk = Engine().requests(EstateConfig(estate, media=media, redis=redis, datamap=datamap, redis_prefix=redis_prefix))
    try:
        print_request(desk.run(request_id, allow_unreachable=allow_unreachable, allow_partial=allow_partial), fmt)
    finally:
        desk.close()
