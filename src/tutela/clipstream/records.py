"""What the ground truth reads: the ClipStream data map indexed by column, the generator's
record of each subject, and the tally of findings per rule (docs/audit.md).

Shared by the cached truth (`tutela.clipstream.truth`) and the plain loop (`tutela.clipstream.plain`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from tutela.clipstream.schema import metadata
from tutela.policy.facts import GrantFact
from tutela.rulebook import Rulebook
from tutela.rulebook.models import ASSURANCE_ORDER

EXCLUDED_PREFIXES = ("system.",)
EXCLUDED = frozenset({"user.unique_id", "user.privacy_preferences"})
EXAMPLES = 5
VERIFIED = ASSURANCE_ORDER["verified"]

# (scopes, by, level, granted_at, expires_at, revoked_at)
GrantRecord = tuple[tuple[str, ...], str, int, dt.date, dt.date | None, dt.date | None]


# ---------------------------------------------------------------------------- data map
@dataclass(frozen=True)
class CollectionMap:
    name: str
    subject: int  # column index of the subject
    time: int | None  # column index of the time field, None = audit date
    cat_cols: tuple[tuple[int, str], ...]  # (column index, category) of counted fields
    acts: tuple[tuple[str, str, int | None, Any], ...]  # (use, recipient, where col, equals)
    retention: int | None = None  # declared retention_days

    @property
    def all_categories(self) -> tuple[str, ...]:
        return tuple(sorted({c for _, c in self.cat_cols}))

    def past_retention(self, day: dt.date, as_of: dt.date) -> bool:
        """A row dated `day` is held past the declared retention on `as_of` (docs/audit.md)."""
        return self.retention is not None and self.time is not None and (as_of - day).days > self.retention


def _counted(category: str) -> bool:
    return category not in EXCLUDED and not category.startswith(EXCLUDED_PREFIXES)


@cache
def datamap() -> tuple[dict[str, CollectionMap], dict[str, Any]]:
    """The ClipStream data map (both YAML files), indexed by the schema's column order."""
    base = resources.files("tutela.data.datamaps")
    fides = yaml.safe_load(base.joinpath("clipstream.yml").read_text())
    decl = yaml.safe_load(base.joinpath("clipstream.tutela.yml").read_text())["tutela"]
    fields = {c["name"]: c["fields"] for c in fides["dataset"][0]["collections"]}
    out: dict[str, CollectionMap] = {}
    for name, spec in decl["collections"].items():
        cols = [c.name for c in metadata.tables[name].columns]
        cats = tuple(
            (cols.index(f["name"]), cat)
            for f in fields[name] for cat in f.get("data_categories", []) if _counted(cat)
        )
        acts = []
        for a in spec["acts"]:
            where = a.get("where")
            acts.append((a["use"], a.get("recipient", "first_party"),
                         cols.index(where["field"]) if where else None,
                         where["equals"] if where else None))
        out[name] = CollectionMap(
            name=name, subject=cols.index(spec["subject"]),
            time=cols.index(spec["time"]) if spec.get("time") else None,
            cat_cols=cats, acts=tuple(acts), retention=spec.get("retention_days"),
        )
    return out, decl


def retention_rules(book: Rulebook) -> frozenset[str]:
    """Ids of the rules that carry the `retain_declared` obligation."""
    return frozenset(s.rule.id for s in book.all_rules
                     if any(o.kind == "retain_declared" for o in s.rule.obligations))


# ---------------------------------------------------------------------------- subjects
@dataclass
class Person:
    """What the generator knows about one subject."""

    account_id: int
    jurisdiction: str
    declared_birth: dt.date
    created: dt.date
    signals: list[tuple[int, dt.date]] = field(default_factory=list)  # (stated age, text date)
    grants: list[GrantRecord] = field(default_factory=list)

    def effective_birth(self) -> dt.date:
        return max([self.declared_birth, *(implied_birth(t, a) for a, t in self.signals)])

    def grants_on(self, day: dt.date) -> frozenset[GrantFact]:
        """The grant facts valid on `day`."""
        out: set[GrantFact] = set()
        for scopes, by, level, g, e, r in self.grants:
            if g <= day and (e is None or day < e) and (r is None or day < r):
                out.update(GrantFact(s, by, level, len(set(scopes)) == 1) for s in scopes)
        return frozenset(out)


def verified_parents(grants: frozenset[GrantFact]) -> frozenset[GrantFact]:
    """The same grants with every parental consent raised to `verified` (docs/audit.md)."""
    return frozenset(g._replace(level=VERIFIED) if g.by == "parent" else g for g in grants)


def implied_birth(day: dt.date, age: int) -> dt.date:
    try:
        return day.replace(year=day.year - age)
    except ValueError:  # 29 Feb in a common year
        return day.replace(year=day.year - age, day=28)


def person_grant(scopes: str, by: str, assurance: str, granted: dt.date, expires: dt.date | None,
                 revoked: dt.date | None) -> GrantRecord:
    """A consent record as the truth reads it (`scopes` split on `|`)."""
    return (tuple(scopes.split("|")), by, ASSURANCE_ORDER[assurance], granted, expires, revoked)


# ---------------------------------------------------------------------------- findings
class Tally:
    """Rows, subjects, subjects aged by a signal and subjects with an unverified parent, per rule."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.subjects: dict[str, set[int]] = {}
        self.by_signal: dict[str, set[int]] = {}
        self.unverified: dict[str, set[int]] = {}

    def add(self, rules: Iterable[str], sid: int, signal: bool, unverified: Iterable[str] = ()) -> None:
        for r in rules:
            self.rows[r] = self.rows.get(r, 0) + 1
            self.subjects.setdefault(r, set()).add(sid)
            if signal:
                self.by_signal.setdefault(r, set()).add(sid)
        for r in unverified:
            self.unverified.setdefault(r, set()).add(sid)

    def result(self) -> list[dict[str, Any]]:
        out = []
        for rule in sorted(self.rows):
            subs = self.subjects[rule]
            out.append({
                "rule": rule,
                "subjects": len(subs),
                "rows": self.rows[rule],
                "subjects_age_from_signal": len(self.by_signal.get(rule, ())),
                "unverified_parent": len(self.unverified.get(rule, ())),
                "examples": sorted(subs)[:EXAMPLES],
            })
        return out
