"""`tutela staff disable --name NAME`: the account can no longer sign in; its sessions end at once."""

from __future__ import annotations

import typer

from tutela.cli._output import console
from tutela.engine import Engine


def run(name: str = typer.Option(..., "--name", help="the staff member whose account to disable")) -> None:
    """Disable a console account (its approvals stay on record)."""
    accounts = Engine.staff_accounts()
    try:
        accounts.disable(name)
    finally:
        accounts.state.close()
    console.print(f"[green]ok[/]: {name} is disabled", highlight=False)
