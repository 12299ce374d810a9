"""`tutela datamap draft --url URL`: draft a Fides dataset and Tutela declarations from a live
database's schema, for the user to review (every guess is marked `# review`)."""

from __future__ import annotations

from pathlib import Path

import typer

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine
from tutela.errors import InputError


def run(
    url: str = typer.Option(..., "--url", help="sqlite:///file.db, postgresql://user@host/db or "
                                               "mysql+pymysql://user@host/db (MariaDB)"),
    out: Path = typer.Option(Path("."), "--out", help="folder to write <name>.yml and <name>.tutela.yml in"),
    name: str | None = typer.Option(None, "--name", help="the dataset's fides_key (default: the database's name)"),
    schema: str | None = typer.Option(None, "--schema", help="database schema to read (default: the default one)"),
    force: bool = typer.Option(False, "--force", help="replace files that are already there"),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Draft a data map from a database's tables, columns and keys; nothing in the database is read or changed."""
    drafted = Engine().draft_datamap(url, name, schema)
    dataset, decl = out / f"{drafted.name}.yml", out / f"{drafted.name}.tutela.yml"
    for path in (dataset, decl):
        if path.exists() and not force:
            raise InputError("the file is already there", where=str(path),
                             hint="pass --force to replace it, or --out another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        dataset.write_text(drafted.dataset, "utf-8")
        decl.write_text(drafted.declarations, "utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the draft: {exc.strerror}", where=str(out)) from None
    if fmt is Format.json:
        print_json(drafted.to_dict() | {"dataset_file": str(dataset), "declarations_file": str(decl)})
        return
    console.print(f"drafted [bold]{dataset}[/] and [bold]{decl}[/]: {drafted.guessed} data categories guessed "
                  f"from names, {len(drafted.uncategorised)} columns without a guess; subjects: "
                  f"{drafted.subject or 'not found'}", highlight=False)
    console.print(f"review every `# review` line, then: tutela datamap check {dataset}", highlight=False)
