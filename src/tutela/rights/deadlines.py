"""Response deadlines for rights requests, as cited data (`tutela/data/deadlines.yaml`).

    book = load_deadlines()
    due = book.due(codes=["NL", "EU-GDPR"], kind="access", received=dt.date(2026, 1, 31))
    due.due            # 2026-02-28: one month, clamped to the month's last day
    due.no_fixed_period  # True when an applicable law (COPPA §312.6) states no period

Several entries can apply to one request (a Californian child under 13: COPPA and the
CCPA); the earliest enforced due date wins. Unverified entries are listed, never enforced.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tutela.errors import InputError, RulebookError, validation_message
from tutela.rulebook.models import Citation

Kind = Literal["access", "erasure"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    months: int | None = Field(default=None, ge=1, le=12)
    days: int | None = Field(default=None, ge=1, le=366)

    @model_validator(mode="after")
    def _one(self) -> Period:
        if (self.months is None) == (self.days is None):
            raise ValueError("give exactly one of `months` or `days`")
        return self

    def after(self, day: dt.date) -> dt.date:
        return add_months(day, self.months) if self.months else day + dt.timedelta(days=self.days or 0)

    def text(self) -> str:
        n, unit = (self.months, "month") if self.months else (self.days, "day")
        return f"{n} {unit}{'' if n == 1 else 's'}"


class Deadline(_Strict):
    id: str = Field(pattern=r"^[A-Z][A-Z0-9-]*\.[A-Za-z0-9][A-Za-z0-9.-]*$")
    title: str = Field(min_length=3)
    applies_to: tuple[str, ...] = Field(min_length=1)
    requests: tuple[Kind, ...] = Field(default=("access", "erasure"), min_length=1)
    age_below: int | None = Field(default=None, ge=1, le=130)
    period: Period | None = None
    extension: Period | None = None
    status: Literal["enforced", "unverified"]
    citation: Citation
    effective_from: dt.date
    effective_to: dt.date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Deadline:
        if self.extension is not None and self.period is None:
            raise ValueError("an `extension` needs a `period`")
        if self.period is None and not self.citation.note:
            raise ValueError("an entry without a `period` must say why in `citation.note`")
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("`effective_to` must be after `effective_from`")
        return self

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


class DeadlineFile(_Strict):
    deadlines: tuple[Deadline, ...] = Field(min_length=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same date `months` later, or that month's last day when it has no such date."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Due:
    """A request's deadline: the earliest enforced due date, and what it rests on."""

    received: dt.date
    due: dt.date | None
    extended: bool
    extendable_until: dt.date | None  # the last day an extension may still be given (notice in the first period)
    no_fixed_period: bool
    basis: list[dict[str, Any]] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)

    def overdue(self, today: dt.date, open_: bool) -> bool:
        return open_ and self.due is not None and today > self.due

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received.isoformat(), "due": self.due.isoformat() if self.due else None,
                "extended": self.extended, "no_fixed_period": self.no_fixed_period,
                "extendable_until": self.extendable_until.isoformat() if self.extendable_until else None,
                "basis": self.basis, "unverified": self.unverified}


@dataclass(frozen=True)
class DeadlineBook:
    entries: tuple[Deadline, ...]

    def applicable(self, codes: Iterable[str], kind: Kind, received: dt.date, age: int | None) -> list[Deadline]:
        have = set(codes)
        return [e for e in self.entries
                if have & set(e.applies_to) and kind in e.requests and e.in_force(received)
                and (e.age_below is None or age is None or age < e.age_below)]

    def due(self, codes: Iterable[str], kind: Kind, received: dt.date, age: int | None = None,
            extended: bool = False) -> Due:
        basis: list[dict[str, Any]] = []
        unverified: list[str] = []
        dues: list[dt.date] = []
        firsts: list[dt.date] = []
        no_fixed = False
        for e in self.applicable(codes, kind, received, age):
            if e.status != "enforced":
                unverified.append(e.id)
                continue
            cite = e.citation
            item: dict[str, Any] = {"id": e.id, "title": e.title, "instrument": cite.instrument,
                                    "section": cite.section, "url": cite.url,
                                    "period": e.period.text() if e.period else None,
                                    "extension": e.extension.text() if e.extension else None}
            if e.period is None:
                no_fixed = True
                item["due"] = None
            else:
                first = e.period.after(received)
                end = e.extension.after(first) if extended and e.extension else first
                item["due"] = end.isoformat()
                dues.append(end)
                if e.extension is not None:
                    firsts.append(first)
            basis.append(item)
        return Due(received, min(dues) if dues else None, extended, min(firsts) if firsts else None,
                   no_fixed, basis, unverified)


def load_deadlines(path: Path | None = None) -> DeadlineBook:
    """The packaged deadlines, or a file at `path`; errors name the file, the entry and the field."""
    if path is None:
        text, where = resources.files("tutela.data").joinpath("deadlines.yaml").read_text("utf-8"), "deadlines.yaml"
    else:
        try:
            text, where = path.read_text("utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the deadlines file: {exc.__class__.__name__}", where=str(path)) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulebookError(f"not valid YAML: {exc}", where=where) from None
    try:
        book = DeadlineFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "deadlines" and isinstance(loc[1], int) and isinstance(raw, dict):
            entries = raw.get("deadlines") or []
            if loc[1] < len(entries) and isinstance(entries[loc[1]], dict) and "id" in entries[loc[1]]:
                loc[1] = entries[loc[1]]["id"]
        raise RulebookError(validation_message(err), where=f"{where}: {'.'.join(str(p) for p in loc)}") from None
    ids = [e.id for e in book.deadlines]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RulebookError(f"duplicate deadline id `{dupes[0]}`", where=where)
    return DeadlineBook(book.deadlines)
