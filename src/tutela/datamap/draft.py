"""Drafting a data map from a database's schema: a Fides dataset and a Tutela declarations
skeleton, every guess marked `# review` for the user to check (as `fides generate dataset db`).

    draft(tables, "shop", source="sqlite:///shop.db")  -> Draft(dataset=..., declarations=...)

`tables` describes the schema (names, columns, primary keys, foreign keys; read from a live
database by `tutela.connectors.schema`). Data categories come from the column names through
the packaged table `data/datamap_guesses.yaml`; the subject table from its name or its
birth-date column; references from the foreign keys and from columns named like the subject
table's key. Nothing here connects to a database.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutela.errors import RulebookError
from tutela.taxonomy import Taxonomy

REVIEW = "# review"
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


@dataclass(frozen=True)
class Column:
    name: str
    primary_key: bool = False
    references: tuple[str, str] | None = None  # (table, column) of a foreign key


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]


class Guess(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pattern: str
    category: str


class GuessTable(BaseModel):
    """`data/datamap_guesses.yaml`: column-name patterns to categories, and how the subject is found."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    categories: tuple[Guess, ...] = Field(min_length=1)
    subject_tables: str
    subject_columns: str
    jurisdiction: str
    birth_date: str

    def category(self, column: str) -> str | None:
        low = column.lower()
        return next((g.category for g in self.categories if re.search(g.pattern, low)), None)


@lru_cache(maxsize=1)
def guesses() -> GuessTable:
    """The packaged guess table, validated (patterns must compile)."""
    text = resources.files("tutela.data").joinpath("datamap_guesses.yaml").read_text("utf-8")
    try:
        table = GuessTable.model_validate(yaml.safe_load(text))
        for p in [g.pattern for g in table.categories] + [table.subject_tables, table.subject_columns,
                                                           table.jurisdiction, table.birth_date]:
            re.compile(p)
    except (ValidationError, re.error) as exc:
        raise RulebookError(f"invalid guess table: {exc}", where="data/datamap_guesses.yaml") from None
    return table


@dataclass
class Draft:
    name: str
    dataset: str  # the Fides dataset YAML
    declarations: str  # the Tutela declarations YAML
    subject: str | None  # the table read as the subjects', if one was found
    guessed: int = 0  # data categories guessed from names
    uncategorised: list[str] = field(default_factory=list)  # `table.column` with no guess

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "guessed": self.guessed,
                "uncategorised": self.uncategorised}


def _s(value: Any) -> str:
    """A YAML scalar or flow collection for `value` (strings quoted when YAML would misread them)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_s(k)}: {_s(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_s(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return text if _PLAIN.match(text) and text.lower() not in _YAML_WORDS else json.dumps(text)


def _subject_table(tables: list[TableSchema], g: GuessTable) -> TableSchema | None:
    by_name = [t for t in tables if re.search(g.subject_tables, t.name.lower())]
    with_birth = [t for t in tables if any(re.search(g.birth_date, c.name.lower()) for c in t.columns)]
    both = [t for t in by_name if t in with_birth]
    pick = (both or with_birth or by_name)
    return next((t for t in pick if any(c.primary_key for c in t.columns)), None)


def _links(t: TableSchema, subject: TableSchema | None, key: str | None,
           g: GuessTable) -> dict[str, tuple[str, str, bool]]:
    """column -> (table, column, declared): foreign keys, and columns named like the subject's key
    or like a person (`sender_id`, `owner_id`: the guess table's `subject_columns`)."""
    out = {c.name: (c.references[0], c.references[1], True) for c in t.columns if c.references}
    if subject is not None and key is not None and t.name != subject.name:
        for c in t.columns:
            low = c.name.lower()
            if c.name not in out and (low in (key.lower(), f"{subject.name.rstrip('s')}_{key}".lower())
                                      or re.search(g.subject_columns, low)):
                out[c.name] = (subject.name, key, False)
    return out


def draft(tables: list[TableSchema], name: str, source: str, tax: Taxonomy) -> Draft:
    """The Fides dataset and declarations skeleton for `tables` (see the module docstring)."""
    g = guesses()
    subject = _subject_table(tables, g)
    key = next((c.name for c in subject.columns if c.primary_key), None) if subject else None
    out = Draft(name, "", "", subject.name if subject else None)
    lines = [f"# A Fides dataset drafted by `tutela datamap draft` from {source} ({len(tables)} tables).",
             f"# Every line marked `{REVIEW}` is a guess from a name: check it, correct it, then delete the",
             "# mark. A field with no data_categories is not personal data to Tutela: give it one if it is.",
             "dataset:", f"  - fides_key: {_s(name)}", f"    name: {_s(name)}",
             f"    description: {_s('Drafted from the schema of ' + source)}", "    collections:"]
    linked: dict[str, str] = {}  # table -> the column that links it to the subject
    for t in tables:
        lines += [f"      - name: {_s(t.name)}", "        fields:"]
        links = _links(t, subject, key, g)
        for c in t.columns:
            meta: dict[str, Any] = {}
            note = ""
            if subject is not None and t.name == subject.name and c.name == key:
                meta["identity"] = c.name
                cat: str | None = "user.unique_id"
                note = f"  {REVIEW}: the subjects' key, and the identity a rights request gives"
            elif c.name in links:
                ref_table, ref_col, declared = links[c.name]
                meta["references"] = [{"dataset": name, "field": f"{ref_table}.{ref_col}", "direction": "from"}]
                cat = "user.unique_id" if subject is not None and ref_table == subject.name else "system.operations"
                note = f"  {REVIEW}" + ("" if declared else ": no foreign key; linked by its name")
                if subject is not None and ref_table == subject.name:
                    linked.setdefault(t.name, c.name)
            elif c.primary_key:
                cat = "system.operations"
                note = f"  {REVIEW}"
            else:
                cat = g.category(c.name)
                note = f"  {REVIEW}" if cat else f"  {REVIEW}: no category guessed"
            if c.primary_key:
                meta["primary_key"] = True
            if cat is not None and cat not in tax.categories:  # a guess table out of step with the taxonomy
                raise RulebookError(f"unknown data category `{cat}`", where="data/datamap_guesses.yaml")
            if cat is None:
                out.uncategorised.append(f"{t.name}.{c.name}")
            elif not (subject is not None and t.name == subject.name and c.name == key):
                out.guessed += c.name not in links
            item: dict[str, Any] = {"name": c.name, "data_categories": [cat] if cat else []}
            if meta:
                item["fides_meta"] = meta
            lines.append(f"          - {_s(item)}{note}")
    out.dataset = "\n".join(lines) + "\n"
    out.declarations = _declarations(tables, name, subject, key, linked, g)
    return out


def _declarations(tables: list[TableSchema], name: str, subject: TableSchema | None, key: str | None,
                  linked: dict[str, str], g: GuessTable) -> str:
    lines = ["# Tutela's declarations drafted by `tutela datamap draft`: who the subject is and what each",
             f"# collection is used for. Every line marked `{REVIEW}` is a guess; see docs/own-database.md.",
             "tutela:", f"  dataset: {_s(name)}"]
    if subject is None or key is None:
        lines += ["  # review: no table looks like the subjects' (users, accounts, a birth-date column):",
                  "  # name it here, with its key column.",
                  "  subjects: {collection: CHANGE_ME, key: CHANGE_ME}", "  collections: {}"]
        return "\n".join(lines) + "\n"
    cols = [c.name for c in subject.columns]
    jur = next((c for c in cols if re.search(g.jurisdiction, c.lower())), None)
    birth = next((c for c in cols if re.search(g.birth_date, c.lower())), None)
    lines += ["  subjects:", f"    collection: {_s(subject.name)}  {REVIEW}", f"    key: {_s(key)}  {REVIEW}"]
    lines.append(f"    jurisdiction: {_s(jur)}  {REVIEW}: ISO 3166 codes (GB, NL, US-CA)" if jur else
                 f"    # jurisdiction: COLUMN  {REVIEW}: none found; an audit needs each subject's ISO 3166 code")
    lines.append(f"    birth_date: {_s(birth)}  {REVIEW}" if birth else
                 f"    # birth_date: COLUMN  {REVIEW}: none found; an audit needs each subject's birth date")
    lines += ["  # consents: {collection: ..., subject: ..., scopes: ..., by: ..., assurance: ..., granted_at: ...}",
              f"  #   {REVIEW}: where consents are recorded, if they are (docs/own-database.md)", "  collections:"]
    for t in tables:
        column = key if t.name == subject.name else linked.get(t.name)
        if column is None:
            continue
        time = next((c.name for c in t.columns if re.search(r"(created|_at$|timestamp|_on$|_time$)", c.name.lower())),
                    None)
        lines += [f"    {_s(t.name)}:", f"      subject: {_s(column)}  {REVIEW}"]
        if time:
            lines.append(f"      time: {_s(time)}  {REVIEW}: the day each row's processing happened")
        lines.append(f"      acts: [{{use: essential.service}}]  {REVIEW}: what is this data used for? "
                     "(`tutela taxonomy --kind use`)")
    unlinked = [t.name for t in tables if t.name != subject.name and t.name not in linked]
    if unlinked:
        lines.append(f"  # no column of these names a row of `{subject.name}`, so they are not declared: "
                     + ", ".join(unlinked) + f"  {REVIEW}")
    return "\n".join(lines) + "\n"
