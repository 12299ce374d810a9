"""The age-assurance data (src/tutela/data/age_assurance.yaml), validated.

    book = load_age_requirements()          # the packaged file; RulebookError naming file and key
    book.required("GB", "primary_priority_content", day)   # -> (level or None, the entries)
    book.required("NL", "age_restricted", day, regimes=("EU-DSA",))
    book.basis("US-TX.app-store-accountability", day)      # -> Basis (status that day)
    problems = check()                       # [] when the file holds together

An entry with `verified: false` is listed but never enforced: `required` skips it, and a
source whose law is unverified yields `status: unverified, enforced: false`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tutela.age.levels import LEVEL_ORDER, Level
from tutela.age.record import Basis, LawStatus
from tutela.datamap.check import Problem
from tutela.errors import InputError, RulebookError, validation_message
from tutela.rulebook.models import Citation
from tutela.rulebook.yamlio import load_yaml

FILE = "age_assurance.yaml"
Kind = Literal["apple", "google", "ca-daaa", "appstore", "oidc", "mdoc", "gate"]
_ID = r"^[A-Za-z][A-Za-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Requirement(Strict):
    id: str = Field(pattern=_ID)
    applies_to: tuple[str, ...] = Field(min_length=1)
    service: str = Field(min_length=2)
    minimum: Level
    effective_from: dt.date
    verified: bool
    citation: Citation


class Combination(Strict):
    id: str = Field(pattern=_ID)
    rule: Literal["lowest_category"]
    verified: bool
    citation: Citation


class Law(Strict):
    effective_from: dt.date
    enjoined_from: dt.date | None = None
    repealed_from: dt.date | None = None
    actual_knowledge: bool = False
    verified: bool
    citation: Citation

    def status(self, day: dt.date) -> LawStatus:
        if not self.verified:
            return "unverified"
        if self.repealed_from is not None and day >= self.repealed_from:
            return "repealed"
        if self.enjoined_from is not None and day >= self.enjoined_from:
            return "enjoined"
        return "in_force" if day >= self.effective_from else "not_yet_in_force"


class Source(Strict):
    id: str = Field(pattern=_ID)
    kind: Kind
    act: str | None = Field(default=None, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
    name: str
    url: str = Field(pattern=r"^https?://\S+$")
    lag_days: int = Field(ge=0, le=366)
    law: Law | None
    note: str | None = None


class AgeAssurance(Strict):
    version: str
    requirements: tuple[Requirement, ...]
    combination: Combination
    sources: tuple[Source, ...]

    @model_validator(mode="after")
    def _unique(self) -> AgeAssurance:
        for name, ids in (("requirements", [r.id for r in self.requirements]),
                          ("sources", [s.id for s in self.sources])):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"duplicate {name} id `{dup[0]}`")
        return self

    def source(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise RulebookError(f"no age signal source `{source_id}`", where=FILE)

    def appstore(self, act: str) -> Source:
        for s in self.sources:
            if s.kind == "appstore" and s.act == act:
                return s
        known = ", ".join(s.act or "" for s in self.sources if s.kind == "appstore")
        raise InputError(f"no app-store accountability act for `{act}`", where="act", hint=f"one of {known}")

    def basis(self, source_id: str, day: dt.date) -> tuple[Basis, ...]:
        """The legal basis a signal from `source_id` carries when read on `day` (none for a platform API)."""
        src = self.source(source_id)
        if src.law is None:
            return ()
        status = src.law.status(day)
        enforced = status == "in_force"
        return (Basis(act=src.id, status=status, enforced=enforced,
                      actual_knowledge=src.law.actual_knowledge and enforced,
                      note=None if enforced else "read as a fact about age; the law's duties are not applied"),)

    def required(self, jurisdiction: str, service: str, day: dt.date,
                 regimes: Iterable[str] = ()) -> tuple[Level | None, list[Requirement]]:
        """The highest minimum level that verified, in-force entries set for `service` (or `any`) in
        `jurisdiction` or a regime it inherits (`regimes`, e.g. `EU-DSA` for NL)."""
        codes = {jurisdiction, *regimes}
        hits = [r for r in self.requirements if r.verified and r.effective_from <= day
                and codes & set(r.applies_to) and r.service in (service, "any")]
        if not hits:
            return None, []
        top = max(hits, key=lambda r: LEVEL_ORDER[r.minimum])
        return top.minimum, hits


AgeProblem = Problem  # the one Problem of Tutela's checks (tutela.datamap.check)


def _locate(raw: Any, loc: tuple[Any, ...]) -> str:
    """`requirements[2] (BR.eca-digital...).minimum`: the key path, naming the entry by its id."""
    parts: list[str] = []
    node = raw
    for step in loc:
        if isinstance(step, int):
            ident = node[step].get("id") if isinstance(node, list) and step < len(node) and \
                isinstance(node[step], dict) else None
            parts[-1] = f"{parts[-1]}[{step}]" + (f" ({ident})" if ident else "") if parts else f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _text(path: Path | None) -> tuple[str, str]:
    if path is None:
        return resources.files("tutela.data").joinpath(FILE).read_text("utf-8"), FILE
    try:
        return path.read_text("utf-8"), str(path)
    except OSError as exc:
        raise RulebookError(f"cannot read: {exc.strerror}", where=str(path)) from None


def load_age_requirements(path: Path | None = None) -> AgeAssurance:
    """Load and validate the age-assurance file (the packaged one by default, read once)."""
    return _packaged() if path is None else _load(path)


@cache
def _packaged() -> AgeAssurance:
    return _load(None)


def _load(path: Path | None) -> AgeAssurance:
    text, name = _text(path)
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RulebookError(f"not valid YAML: {exc}", where=name) from None
    if not isinstance(raw, dict):
        raise RulebookError("expected a mapping at the top level", where=name)
    try:
        return AgeAssurance.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RulebookError(validation_message(err), where=f"{name}: {_locate(raw, tuple(err['loc']))}") from None


def check(path: Path | None = None, known_jurisdictions: frozenset[str] | None = None) -> list[AgeProblem]:
    """What would make the file refuse to load, and what it says that does not hold together:
    an unverified entry whose citation claims the primary text was checked, an enjoined date
    before the law was passed..., and (given `known_jurisdictions`) codes the rulebook lacks."""
    try:
        book = load_age_requirements(path)
    except RulebookError as exc:
        return [AgeProblem(exc.where or FILE, exc.message)]
    name = FILE if path is None else str(path)
    out: list[AgeProblem] = []
    for r in book.requirements:
        for code in r.applies_to:
            if known_jurisdictions is not None and code not in known_jurisdictions:
                out.append(AgeProblem(f"{name}: requirements ({r.id}).applies_to",
                                      f"unknown jurisdiction or regime `{code}`"))
    for s in book.sources:
        if s.law is not None and s.law.repealed_from is not None and s.law.repealed_from < s.law.effective_from \
                and s.law.enjoined_from is None:
            out.append(AgeProblem(f"{name}: sources ({s.id}).law", "repealed before it took effect; say so in a note"))
        if s.kind == "appstore" and s.act is None:
            out.append(AgeProblem(f"{name}: sources ({s.id}).act", "an app-store source must name its act"))
    return out
