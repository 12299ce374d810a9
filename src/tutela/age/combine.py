"""Combining age records: roll-over by date, lowest category wins, sticky results.

Roll-over (`band_on`), precisely. A record says the age lay in [lower, upper] at some day t
with as_of <= t <= observed (a store signal lags the birthday: Play refreshes 2-8 weeks
after it, so its as_of is observed - 56 days). On a later day d:
- with a birth date (only the age gate has one) the age is exact: the number of
  birthdays passed, a 29 February birthday falling on 1 March in common years;
- otherwise lower(d) = lower + the whole years from observed to d, and upper(d) = upper +
  the whole years from as_of to d, + 1 unless d is exactly an anniversary of as_of.
So a band 13-15 observed on 2026-03-10 reads 14-16 from 2027-03-10, never earlier: the lower
bound rises only when every possible birth date has had its birthday, so a minor is never
raised to an adult before the 18th birthday (a Hypothesis test holds this). Whole years use
the same 1 March rule for anniversaries of 29 February.

Combination (`combine`): of the fresh records (unexpired), the lowest rolled lower bound
wins (Utah Code §13-76-202(3)(a): initial defaults use the lowest age category indicated by
the store's data or the developer's own); ties go to the higher level, then the narrower
band, then a stable order of the record itself, so the result does not depend on the order
the records arrive in.

Stickiness (`stick`): per device or session, the lowest record seen is kept (a band, never a
birth date) and combined with each new one, so retrying the gate with an older birth date
does not pass. Only a record at `estimated` or above (and at least as strong as the kept
one) can lift it: a later self-declaration, inference or parent declaration never does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tutela.age.levels import LEVEL_ORDER, Level, at_least
from tutela.age.record import MAX_AGE, AgeRecord, Basis, Category, category

LIFT_LEVEL: Level = "estimated"


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year: 1 March
        return dt.date(day.year + years, 3, 1)


def whole_years(start: dt.date, end: dt.date) -> int:
    """Anniversaries of `start` in (start, end] (0 when end <= start)."""
    if end <= start:
        return 0
    n = end.year - start.year
    return n if add_years(start, n) <= end else n - 1


def age_on(birth: dt.date, day: dt.date) -> int:
    return whole_years(birth, day)


def band_on(r: AgeRecord, day: dt.date) -> tuple[int, int | None]:
    """The record's band rolled over to `day` (see the module docstring)."""
    if r.birth_date is not None:
        a = age_on(r.birth_date, day)
        return a, a
    observed = r.observed_at.astimezone(dt.UTC).date()
    lo = min(r.lower + whole_years(observed, day), MAX_AGE)
    if r.upper is None:
        return lo, None
    k = whole_years(r.as_of, day)
    hi = r.upper + k + (0 if day <= r.as_of or add_years(r.as_of, k) == day else 1)
    return lo, max(min(hi, MAX_AGE), lo)


def _key(r: AgeRecord, day: dt.date) -> tuple[int, int, int, str]:
    lo, hi = band_on(r, day)
    return lo, -LEVEL_ORDER[r.level], MAX_AGE + 1 if hi is None else hi, r.model_dump_json()


@dataclass(frozen=True)
class Combined:
    lower: int
    upper: int | None
    category: Category
    level: Level
    winner: AgeRecord
    sources: int
    conflict: bool            # two fresh records whose rolled bands do not overlap
    basis: tuple[Basis, ...]

    def to_dict(self) -> dict[str, object]:
        return {"lower": self.lower, "upper": self.upper, "category": self.category, "level": self.level,
                "method": self.winner.method, "issuer": self.winner.issuer, "sources": self.sources,
                "conflict": self.conflict, "basis": [b.model_dump(mode="json") for b in self.basis]}


def combine(records: Iterable[AgeRecord], now: dt.datetime) -> Combined | None:
    """The lowest fresh record on `now`'s day, or None when no record is fresh."""
    day = now.astimezone(dt.UTC).date()
    fresh = [r for r in records if r.fresh(now)]
    if not fresh:
        return None
    win = min(fresh, key=lambda r: _key(r, day))
    lo, hi = band_on(win, day)
    bands = [band_on(r, day) for r in fresh]
    conflict = any(b[1] is not None and b[1] < a[0] for a in bands for b in bands)
    basis = tuple(sorted({b for r in fresh for b in r.basis}, key=lambda b: b.model_dump_json()))
    return Combined(lo, hi, category(lo), win.level, win, len(fresh), conflict, basis)


class StickyStore(Protocol):
    """Per device/session memory of the lowest age record (keys are hashed by the store)."""

    def get(self, key: str) -> AgeRecord | None: ...

    def put(self, key: str, record: AgeRecord) -> None: ...


def minimised(r: AgeRecord, day: dt.date) -> AgeRecord:
    """What a sticky store keeps: the band on `day`, never the birth date or the subject id."""
    lo, hi = band_on(r, day)
    return r.model_copy(update={"lower": lo, "upper": hi, "birth_date": None, "subject": None, "as_of": day,
                                "observed_at": dt.datetime.combine(day, dt.time(), dt.UTC)})


def stick(store: StickyStore, key: str, new: AgeRecord, now: dt.datetime) -> AgeRecord:
    """The record that holds for `key` once `new` arrives; the store keeps the lowest."""
    day = now.astimezone(dt.UTC).date()
    old = store.get(key)
    if old is not None and not old.fresh(now):
        old = None
    if old is None:
        store.put(key, minimised(new, day))
        return new
    old_lo, new_lo = band_on(old, day)[0], band_on(new, day)[0]
    lifts = new_lo > old_lo and at_least(new.level, LIFT_LEVEL) and at_least(new.level, old.level)
    if lifts or new_lo < old_lo:
        store.put(key, minimised(new, day))
        return new
    return old
