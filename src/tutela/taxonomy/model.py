"""Taxonomy trees loaded from YAML shipped in the package.

Keys are dotted paths; a key covers itself and every descendant (`user.location` covers
`user.location.precise`). The fideslang file is CC BY 4.0 data from Ethyca; see its header.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from tutela.errors import RulebookError, UnknownKeyError

Kind = Literal["data_category", "data_use", "data_subject"]
KINDS: tuple[Kind, ...] = ("data_category", "data_use", "data_subject")
_FILES = ("fideslang.yaml", "tutela.yaml")


class TaxonomyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    key: str
    name: str
    description: str | None = None


class TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    data_category: list[TaxonomyEntry] = []
    data_use: list[TaxonomyEntry] = []
    data_subject: list[TaxonomyEntry] = []


@dataclass(frozen=True)
class Tree:
    """One taxonomy tree (data categories or data uses)."""

    kind: Kind
    entries: dict[str, TaxonomyEntry]
    keys: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(sorted(self.entries)))

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def check(self, key: str, where: str) -> str:
        if key not in self.entries:
            close = (difflib.get_close_matches(key, self.keys, n=5, cutoff=0.8)
                     or [k for k in self.keys if k.startswith(key.rsplit(".", 1)[0] + ".")][:5])
            raise UnknownKeyError(
                f"unknown {self.kind.replace('_', ' ')} `{key}`",
                where=where,
                hint=(f"did you mean one of {close}? " if close else "") + "list the keys with `tutela taxonomy` "
                     "or find one with `tutela taxonomy search WORD`",
            )
        return key

    def descendants(self, key: str) -> tuple[str, ...]:
        """`key` and every key below it."""
        prefix = key + "."
        return tuple(k for k in self.keys if k == key or k.startswith(prefix))

    def search(self, term: str) -> list[TaxonomyEntry]:
        """Entries whose key, name or description contains every word of `term` (any case)."""
        words = term.lower().split()
        return [e for k, e in sorted(self.entries.items())
                if all(w in f"{k} {e.name} {e.description or ''}".lower() for w in words)]


def covers(parent: str, key: str) -> bool:
    """True when `parent` is `key` or one of its ancestors."""
    return key == parent or key.startswith(parent + ".")


@dataclass(frozen=True)
class Taxonomy:
    categories: Tree
    uses: Tree
    subjects: Tree

    def tree(self, kind: Kind) -> Tree:
        return {"data_category": self.categories, "data_use": self.uses, "data_subject": self.subjects}[kind]


def _read(name: str) -> TaxonomyFile:
    text = resources.files("tutela.data.taxonomy").joinpath(name).read_text("utf-8")
    try:
        return TaxonomyFile.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise RulebookError(err["msg"], where=f"taxonomy/{name}: {loc}") from exc


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    trees: dict[Kind, dict[str, TaxonomyEntry]] = {k: {} for k in KINDS}
    for name in _FILES:
        loaded = _read(name)
        for kind in KINDS:
            for entry in getattr(loaded, kind):
                parent = entry.key.rsplit(".", 1)[0]
                if "." in entry.key and parent not in trees[kind]:
                    raise RulebookError(
                        f"parent `{parent}` of `{entry.key}` is not defined",
                        where=f"taxonomy/{name}: {kind}",
                    )
                if entry.key in trees[kind]:
                    raise RulebookError(
                        f"duplicate key `{entry.key}`", where=f"taxonomy/{name}: {kind}"
                    )
                trees[kind][entry.key] = entry
    return Taxonomy(Tree("data_category", trees["data_category"]), Tree("data_use", trees["data_use"]),
                    Tree("data_subject", trees["data_subject"]))
