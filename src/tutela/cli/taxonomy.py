"""`tutela taxonomy [search TERM]`: the data categories, data uses and data subjects a data map
and a decision request may name (fideslang's keys plus Tutela's extensions)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from tutela.cli._output import Format, console, print_json
from tutela.engine import Engine

if TYPE_CHECKING:
    from collections.abc import Iterable


class Kind(StrEnum):
    category = "category"
    use = "use"
    subject = "subject"


_TREES = {Kind.category: "data_category", Kind.use: "data_use", Kind.subject: "data_subject"}
group = typer.Typer(help="List or search the data categories, data uses and data subjects.",
                    invoke_without_command=True)
KIND = typer.Option(None, "--kind", help="only this tree: category, use or subject (default: all three)")
FORMAT = typer.Option(Format.table, "--format", help="table or json")


def _entries(kind: Kind | None, term: str | None) -> list[dict[str, Any]]:
    taxonomy = Engine().taxonomy
    out: list[dict[str, Any]] = []
    for k in [kind] if kind else list(Kind):
        tree = taxonomy.tree(_TREES[k])  # type: ignore[arg-type]  # the tree names are the taxonomy's kinds
        found: Iterable[Any] = tree.search(term) if term is not None else (tree.entries[key] for key in tree.keys)
        out.extend({"kind": _TREES[k], "key": e.key, "name": e.name, "description": e.description} for e in found)
    return out


def _show(rows: list[dict[str, Any]], fmt: Format, title: str) -> None:
    if fmt is Format.json:
        print_json(rows)
        return
    table = Table(title=title)
    for col in ("kind", "key", "name", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["kind"].removeprefix("data_"), r["key"], r["name"], r["description"] or "")
    console.print(table)


@group.callback()
def run(ctx: typer.Context, kind: Kind | None = KIND, fmt: Format = FORMAT) -> None:
    """Every key of the taxonomy (a key covers the keys below it: `user.location` covers `user.location.precise`)."""
    if ctx.invoked_subcommand is None:
        rows = _entries(kind, None)
        _show(rows, fmt, f"Taxonomy: {len(rows)} keys")


@group.command("search")
def search(term: str = typer.Argument(..., help="words to find in a key, name or description (any case)"),
           kind: Kind | None = KIND, fmt: Format = FORMAT) -> None:
    """Keys whose key, name or description contains every word of TERM."""
    rows = _entries(kind, term)
    _show(rows, fmt, f"Taxonomy keys matching `{term}`: {len(rows)}")
    if not rows and fmt is Format.table:
        console.print("nothing matches: try a shorter word, or `tutela taxonomy` for every key", highlight=False)
