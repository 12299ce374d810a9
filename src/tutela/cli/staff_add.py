"""`tutela staff add --name NAME --role dpo|support|auditor`: a console account.

The password never comes from the command line (it would sit in the shell history and the
process list): it is read from TUTELA_STAFF_PASSWORD, else from standard input when that is
not a terminal (one line), else asked twice at a prompt."""

from __future__ import annotations

import os
import sys
from getpass import getpass

import typer

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine
from tutela.errors import InputError

ENV = "TUTELA_STAFF_PASSWORD"


def read_password() -> str:
    if os.environ.get(ENV):
        return os.environ[ENV]
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InputError("no password on standard input", where="stdin", hint=f"pipe one line, or set {ENV}")
        return line
    first = getpass("password: ")
    if getpass("again: ") != first:
        raise InputError("the two passwords differ", where="password")
    return first


def run(
    name: str = typer.Option(..., "--name", help="the staff member's name (what approvals record)"),
    role: str = typer.Option(..., "--role", help="dpo (everything), support (rights requests) or auditor (read-only)"),
    replace: bool = typer.Option(False, "--replace", help="set the role and password of an existing account"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Add a console account (password from TUTELA_STAFF_PASSWORD, standard input or a prompt)."""
    accounts = Engine.staff_accounts()
    try:
        account = accounts.add(name, role, read_password(), replace=replace)
    finally:
        accounts.state.close()
    if fmt is Format.json:
        print_json(account.to_dict())
    else:
        console.print(f"[green]ok[/]: {account.name} ({account.role})", highlight=False)
