"""Pydantic models of the rulebook YAML. Every model forbids unknown fields.

A rule reads as: *when* the subject and act match `when`, the rule applies. A `permit` is a
lawful basis, usable only when its `requires` is satisfied; a `forbid` is a prohibition
that holds `unless` its exemption is satisfied; an `obligate` rule attaches obligations to
an act that is otherwise allowed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Effect = Literal["permit", "forbid", "obligate"]
Status = Literal["enforced", "unverified", "enjoined", "not_modelled"]
Recipient = Literal["first_party", "processor", "third_party"]
Consenter = Literal["self", "parent", "holder", "any"]
Assurance = Literal["declared", "confirmed", "verified"]
Destination = Literal["any", "third_country", "non_adequate"]
Safeguard = Literal["scc", "tia"]
ObligationKind = Literal[
    "coarsen_location",
    "truncate_ip",
    "drop_identifiers",
    "pseudonymise",
    "retain_max_days",
    "retain_declared",  # no longer than the controller's declared retention period for the purpose
    "contextual_ads_only",
    "location_indicator",
    "location_off_after_session",
    "high_privacy_default",
    "written_retention_policy",
    "written_security_program",
    "notify_parent",
]
ASSURANCE_ORDER: dict[str, int] = {"declared": 0, "confirmed": 1, "verified": 2}
_ID = r"^[A-Z][A-Z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$"


class Strict(BaseModel):
    # defer_build: schemas are built on first validation, so a warm start (tutela.warmstart) that
    # unpickles a validated rulebook never pays for them
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Citation(Strict):
    instrument: str = Field(min_length=3)
    section: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")
    source_followed: str | None = None
    primary_checked: bool = False
    note: str | None = None


class AgeBand(Strict):
    min: int | None = Field(default=None, ge=0, le=130)
    below: int | None = Field(default=None, ge=1, le=130)

    @model_validator(mode="after")
    def _ordered(self) -> AgeBand:
        if self.min is None and self.below is None:
            raise ValueError("give `min`, `below` or both")
        if self.min is not None and self.below is not None and self.min >= self.below:
            raise ValueError(f"empty age band: min {self.min} >= below {self.below}")
        return self

    def contains(self, age: int) -> bool:
        return (self.min is None or age >= self.min) and (self.below is None or age < self.below)


class Condition(Strict):
    age: AgeBand | None = None
    categories: tuple[str, ...] = ()
    except_categories: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    except_uses: tuple[str, ...] = ()
    recipients: tuple[Recipient, ...] = ()
    destination: Destination = "any"


class ConsentRequirement(Strict):
    scope: str
    by: Consenter
    assurance: Assurance = "declared"
    separate: bool = False


class Requirement(Strict):
    consent: ConsentRequirement | None = None
    safeguards: tuple[Safeguard, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> Requirement:
        if self.consent is None and not self.safeguards:
            raise ValueError("a requirement needs `consent`, `safeguards` or both")
        return self


class Obligation(Strict):
    kind: ObligationKind
    value: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _value(self) -> Obligation:
        if (self.kind == "retain_max_days") != (self.value is not None):
            raise ValueError("`value` is required for retain_max_days and only for it")
        return self

    def label(self) -> str:
        return f"{self.kind}:{self.value}" if self.value is not None else self.kind


class Rule(Strict):
    id: str = Field(pattern=_ID)
    title: str
    effect: Effect
    citation: Citation
    effective_from: dt.date
    effective_to: dt.date | None = None
    status: Status = "enforced"
    when: Condition = Condition()
    requires: Requirement | None = None
    unless: Requirement | None = None
    obligations: tuple[Obligation, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if self.effective_to is not None and self.effective_to <= self.effective_from:
            raise ValueError("`effective_to` must be after `effective_from`")
        if self.requires is not None and self.effect != "permit":
            raise ValueError("`requires` belongs to permit rules (a forbid uses `unless`)")
        if self.unless is not None and self.effect != "forbid":
            raise ValueError("`unless` belongs to forbid rules (a permit uses `requires`)")
        if self.effect == "obligate" and not self.obligations:
            raise ValueError("an obligate rule needs `obligations`")
        if self.effect == "forbid" and self.obligations:
            raise ValueError("a forbid rule carries no obligations")
        return self

    @property
    def requirement(self) -> Requirement | None:
        return self.requires if self.effect == "permit" else self.unless

    def in_force(self, day: dt.date) -> bool:
        if self.status != "enforced":
            return False
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


class DigitalConsent(Strict):
    """The age of digital consent and who consents below it (GDPR Art. 8 and its kin)."""

    id: str = Field(pattern=_ID)
    age: int = Field(ge=1, le=21)
    below: Literal["parent", "parent_and_child"] = "parent"
    effective_from: dt.date
    effective_to: dt.date | None = None
    citation: Citation


class Adequacy(Strict):
    country: str = Field(pattern=r"^[A-Z]{2}$")
    effective_from: dt.date
    effective_to: dt.date | None = None
    certified_only: bool = False
    citation: Citation

    def adequate(self, day: dt.date, certified: bool) -> bool:
        in_time = self.effective_from <= day and (self.effective_to is None or day < self.effective_to)
        return in_time and (certified or not self.certified_only)


class Transfers(Strict):
    """A transfer regime: the area inside which data moves freely, and adequacy decisions."""

    area: tuple[str, ...]
    adequacy: tuple[Adequacy, ...] = ()


class Regime(Strict):
    code: str = Field(pattern=r"^[A-Z]{2,}(-[A-Z0-9]+)+$")
    name: str
    rules: tuple[Rule, ...] = ()
    transfers: Transfers | None = None


class Jurisdiction(Strict):
    code: str = Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
    name: str
    inherits: tuple[str, ...] = ()
    digital_consent: tuple[DigitalConsent, ...] = Field(min_length=1)
    majority_age: int = Field(default=18, ge=14, le=21)
    note: str | None = None
    rules: tuple[Rule, ...] = ()

    @field_validator("inherits")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a regime is inherited twice")
        return value
