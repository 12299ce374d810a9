"""`tutela requests create`: record an access or erasure request; it waits for staff approval.

It also records where the estate's declared stores are (`--media`, `--redis`, or the media
folder beside the estate), so `tutela requests run` needs only the id and the estate."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from tutela.cli._output import Format
from tutela.cli.requests_show import print_request
from tutela.engine import Engine
from tutela.errors import InputError

OPTIONS = {"body.kind": "--kind", "body.subject": "--subject", "body.scope": "--scope",
           "body.jurisdiction": "--jurisdiction", "body.received": "--received", "body.requester.kind": "--requester",
           "body.requester.ref": "--ref", "body.note": "--note", "body.age": "--age",
           "body.allow_unreachable": "--allow-unreachable"}


def run(
    estate: str = typer.Option(..., "--estate", help="the estate holding the child's data (URL)"),
    kind: str = typer.Option(..., "--kind", help="access or erasure"),
    subject: str = typer.Option(..., "--subject", help="the child's account id"),
    scope: str | None = typer.Option(None, "--scope",
                                     help="erasure: data (the data map's erasure rules) or account (every row)"),
    jurisdiction: str | None = typer.Option(None, "--jurisdiction",
                                            help="default: the subject's, from the estate"),
    received: str | None = typer.Option(None, "--received", help="YYYY-MM-DD (default: today)"),
    requester: str = typer.Option("staff", "--requester", help="staff, parent or subject"),
    ref: str | None = typer.Option(None, "--ref", help="a ticket or case number (not a name)"),
    note: str | None = typer.Option(None, "--note", help="a note for the file (no personal data)"),
    by: str | None = typer.Option(None, "--by", help="the staff member recording it (default: login name)"),
    datamap: Path | None = typer.Option(None, "--datamap", help="Fides dataset YAML (default: ClipStream's)"),
    policy: Path | None = typer.Option(None, "--policy",
                                       help="erasure by data category: a Fides erasure policy (YAML or JSON)"),
    age: int | None = typer.Option(None, "--age", help="the subject's declared age (when the estate has no "
                                                       "birth dates)"),
    allow_unreachable: bool = typer.Option(False, "--allow-unreachable",
                                           help="proceed although some collections are unreachable"),
    media: Path | None = typer.Option(None, "--media", help="the estate's media folder, recorded for the run "
                                                            "(default: the folder beside the estate)"),
    redis: str | None = typer.Option(None, "--redis", help="the estate's Redis server, recorded for the run "
                                                           "without its password (TUTELA_STORE_PASSWORD_REDIS)"),
    redis_prefix: str = typer.Option("", "--redis-prefix", help="put before every Redis key (shared servers)"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Create a rights request for one child (checked against the estate: the subject must exist)."""
    from tutela.models import EstateConfig

    body: dict[str, object] = {"kind": kind, "subject": subject, "requester": {"kind": requester, "ref": ref}}
    for name, value in (("scope", scope), ("jurisdiction", jurisdiction), ("received", received), ("note", note),
                        ("age", age)):
        if value is not None:
            body[name] = value
    if policy is not None:
        body["policy"] = Engine.read_erasure_policy(policy)
    if allow_unreachable:
        body["allow_unreachable"] = True
    desk = Engine().requests(EstateConfig(estate, datamap=datamap, media=media, redis=redis,
                                          redis_prefix=redis_prefix))
    try:
        print_request(desk.create(body, by=by or _login()), fmt)
    except InputError as exc:  # name the option, not the API's body field
        where = exc.where or ""
        if policy is not None and where.startswith("body.policy"):  # name the file and the key in it
            rest = where.removeprefix("body.policy").lstrip(".")
            where = f"{policy}: {rest}" if rest else str(policy)
        exc.where = OPTIONS.get(where, where) or None
        raise
    finally:
        desk.close()


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "cli"
