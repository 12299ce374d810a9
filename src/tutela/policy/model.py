"""Inputs and outputs of a decision: Subject + Act -> Decision.

Inputs are Pydantic models (validated at the edge, `extra="forbid"`); the evaluators work on
the plain `Facts` derived from them (by `facts.py` for the compiled engine, by
`reference_facts.py` for the reference).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tutela.rulebook.models import Assurance, Recipient, Safeguard

EffectOut = Literal["allow", "deny", "allow_with_obligations"]
DestClass = Literal["none", "adequate", "non_adequate"]


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on `day` (a birthday on 29 February is reached on 1 March in other years).
    Used everywhere except the reference evaluator, which keeps its own reading on purpose."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Fields a decision request once accepted although no rule read them: refused with a reason, never
# silently ignored. Each returns when a rule reads it (age assurance: docs/age.md; Sec-GPC: the
# ad-request guard). A consent's method and notice version are kept by the consent store
# (tutela.consent), which applies them before a grant reaches a decision: a method's limits
# drop the grant, a notice change ends it (docs/consent.md).
NOT_READ = {
    "gpc": "no rule reads a Global Privacy Control signal in a decision yet (the ad-request guard honours Sec-GPC)",
    "age_assurance": "no rule reads the age's assurance in a decision yet (see `tutela age read`)",
    "method": "no rule reads how a consent was obtained; give its `assurance` (the consent store applies a "
              "method's limits before a grant reaches a decision)",
    "notice_version": "no rule reads the notice a consent was given under (the consent store ends grants a "
                      "notice change affects)",
}


def _refuse_unread(data: Any, fields: tuple[str, ...]) -> Any:
    if isinstance(data, dict):
        for name in fields:
            if name in data:
                raise ValueError(f"`{name}` is not accepted: {NOT_READ[name]}")
    return data


class Grant(_In):
    """A consent given by the subject (`self`) or a parent, for one or more scopes."""

    scopes: tuple[str, ...] = Field(min_length=1)
    by: Literal["self", "parent"]
    assurance: Assurance = "declared"
    granted_at: dt.date | None = None
    expires_at: dt.date | None = None
    revoked_at: dt.date | None = None

    @model_validator(mode="before")
    @classmethod
    def _unread(cls, data: Any) -> Any:
        return _refuse_unread(data, ("method", "notice_version"))

    def valid_on(self, day: dt.date) -> bool:
        if self.granted_at is not None and self.granted_at > day:
            return False
        if self.expires_at is not None and day >= self.expires_at:
            return False
        return self.revoked_at is None or day < self.revoked_at


class Subject(_In):
    # the platform's id of the subject: a request with an `id` and no `grants` is decided on the
    # subject's grants in the consent store (Engine.decide; docs/consent.md)
    id: str | None = Field(default=None, min_length=1, max_length=64)
    jurisdiction: str
    birth_date: dt.date | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    age_range: tuple[int, int] | None = None
    grants: tuple[Grant, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _unread(cls, data: Any) -> Any:
        return _refuse_unread(data, ("gpc", "age_assurance"))

    @model_validator(mode="after")
    def _age_given(self) -> Subject:
        given = [x is not None for x in (self.birth_date, self.age, self.age_range)]
        if sum(given) != 1:
            raise ValueError("give exactly one of `birth_date`, `age` or `age_range`")
        return self

    @field_validator("age_range")
    @classmethod
    def _range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 0 <= value[0] <= value[1] <= 130:
            raise ValueError("`age_range` must be [low, high] with 0 <= low <= high <= 130")
        return value


class Act(_In):
    category: str
    use: str
    recipient: Recipient = "first_party"
    destination: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    recipient_certified: bool = False
    safeguards: tuple[Safeguard, ...] = ()
    at: dt.date | None = None


class DecisionRequest(_In):
    subject: Subject
    act: Act


class GrantFact(NamedTuple):
    """One consent valid on the act's day: scope, by whom, assurance level (0-2), and whether
    it was given for this scope alone (*separate*)."""

    scope: str
    by: str
    level: int
    separate: bool


@dataclass(frozen=True)
class Facts:
    """A request reduced to the plain values the evaluators read."""

    jurisdiction: str
    age: int
    day: dt.date
    category: str
    use: str
    recipient: str
    dest_class: DestClass
    grants: frozenset[GrantFact]
    safeguards: frozenset[str]


class Determining(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    kind: Literal["permit", "forbid", "obligate", "digital_consent"]
    title: str
    source: str
    instrument: str
    section: str
    url: str


class Missing(BaseModel):
    """One thing that would make the act lawful: a consent or a transfer safeguard."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["consent", "safeguard"]
    scope: str | None = None
    by: str | None = None
    assurance: str | None = None
    separate: bool = False
    safeguard: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What was decided and why: the part of a Decision that does not depend on the clock."""

    effect: EffectOut
    obligations: tuple[str, ...]
    determining: tuple[Determining, ...]
    missing: tuple[Missing, ...]
    lawful_possible: bool

    @property
    def allowed(self) -> bool:
        return self.effect != "deny"


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)
    effect: EffectOut
    obligations: tuple[str, ...] = ()
    determining: tuple[Determining, ...] = ()
    missing: tuple[Missing, ...] = ()
    lawful_possible: bool = True
    rulebook_version: str
    evaluated_on: dt.date
    age: int
    destination_class: Literal["none", "adequate", "non_adequate"] = "none"

    @property
    def allowed(self) -> bool:
        return self.effect != "deny"

    def rule_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.determining)

    def verdict(self) -> Verdict:
        return Verdict(self.effect, self.obligations, self.determining, self.missing,
                       self.lawful_possible)

    @classmethod
    def of(cls, v: Verdict, version: str, day: dt.date, age: int, dest: str) -> Decision:
        """Build without re-validating: every part comes from a validated rulebook."""
        return cls.model_construct(
            effect=v.effect, obligations=v.obligations, determining=v.determining,
            missing=v.missing, lawful_possible=v.lawful_possible, rulebook_version=version,
            evaluated_on=day, age=age, destination_class=dest,
        )
