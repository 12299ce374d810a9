"""The normalised age record: what every signal becomes, one per subject and source.

A record says the subject's age lay in [lower, upper] (inclusive, `upper=None` open) as of
`as_of`, how that was established (`method`, `level`), who said so (`issuer`), when it was
received (`observed_at`), until when it may be used (`expires_at`) and under which laws it
was received (`basis`). Store signals lag the birthday by weeks, so `as_of` may lie before
`observed_at` (see tutela.age.combine for the roll-over). A birth date is kept only when the
subject typed one into the age gate; no signal carries one.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tutela.age.levels import Level

Category = Literal["child", "younger_teenager", "older_teenager", "adult"]
CATEGORIES: tuple[Category, ...] = ("child", "younger_teenager", "older_teenager", "adult")
LawStatus = Literal["in_force", "not_yet_in_force", "enjoined", "repealed", "unverified"]
MAX_AGE = 130


def category(age: int) -> Category:
    """The statutory age category of an age (Utah Code §13-76-101(1); the same brackets in
    Cal. Civ. Code §1798.500(b), La. R.S. 51:1771 and Texas SB 2420)."""
    if age < 13:
        return "child"
    if age < 16:
        return "younger_teenager"
    if age < 18:
        return "older_teenager"
    return "adult"


CATEGORY_BAND: dict[Category, tuple[int, int | None]] = {
    "child": (0, 12), "younger_teenager": (13, 15), "older_teenager": (16, 17), "adult": (18, None)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Basis(Strict):
    """A law under which the signal was received, and what that means on the day it was read."""

    act: str                      # an id from age_assurance.yaml `sources`, e.g. `US-UT.app-store-accountability`
    status: LawStatus             # on the day the signal was read
    enforced: bool                # the law's duties are applied (in force, not enjoined, sourced)
    actual_knowledge: bool = False  # receiving the signal is actual knowledge of the age range
    note: str | None = None


class AgeRecord(Strict):
    subject: str | None = Field(default=None, max_length=200)  # an opaque id (install id, `sub`); never a name
    lower: int = Field(ge=0, le=MAX_AGE)
    upper: int | None = Field(default=None, ge=0, le=MAX_AGE)
    as_of: dt.date                # the day the band described the subject
    birth_date: dt.date | None = None
    method: str = Field(min_length=3)   # e.g. `google.supervised`, `mdoc.age_over`
    level: Level
    issuer: str = Field(min_length=1)
    source: str                   # the signal kind: apple, google, ca-daaa, appstore, oidc, mdoc, gate
    observed_at: dt.datetime
    expires_at: dt.datetime | None = None
    basis: tuple[Basis, ...] = ()
    guardian_approval: Literal["approved", "pending", "denied"] | None = None

    @model_validator(mode="after")
    def _band(self) -> AgeRecord:
        if self.upper is not None and self.upper < self.lower:
            raise ValueError(f"empty age band: lower {self.lower} > upper {self.upper}")
        if self.observed_at.tzinfo is None or (self.expires_at is not None and self.expires_at.tzinfo is None):
            raise ValueError("times must carry a time zone")
        return self

    @property
    def category(self) -> Category:
        """The lowest category the band allows (the conservative reading of a band that spans two)."""
        return category(self.lower)

    def fresh(self, now: dt.datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def band_text(self) -> str:
        return f"{self.lower}+" if self.upper is None else f"{self.lower}-{self.upper}"
