"""The ad-request guard's data: `tutela/data/adreq.yaml` (scrub rules with citations, field
groups, country codes, known field types) and the subject model, validated by Pydantic with
`extra="forbid"`. Errors name the file and the key. Both the fast guard and the reference
read this; nothing else is shared between them."""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tutela.errors import InputError, RulebookError, validation_message
from tutela.policy import Decision, Grant
from tutela.rulebook import Rulebook
from tutela.rulebook.models import Citation

FieldType = Literal["object", "array", "string", "integer", "number", "flag", "ipv4", "ipv6", "int_array"]
Fact = Literal["coppa_flag", "minor", "us_child", "profiling_banned", "targeting_denied", "location_denied",
               "gdpr_scope", "gdpr_without_consent_string", "tcf_no_purpose_2", "tcf_no_purpose_4",
               "tcf_no_special_feature_1", "usp_opt_out", "usnat_opt_out", "usnat_known_child"]
FILE = "tutela/data/adreq.yaml"


class Decider(Protocol):
    """What the guard needs of `tutela.engine.Engine`: the rulebook and a decision."""

    rulebook: Rulebook

    def decide(self, request: Any, where: str = "", reference: bool = False) -> Decision: ...


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScrubRule(_Strict):
    id: str = Field(pattern=r"^ADREQ\.[a-z0-9.-]+$")
    title: str
    when: Fact
    remove: tuple[str, ...] = ()
    truncate: dict[str, int] = {}
    set: dict[str, int] = {}
    refuse: bool = False
    citation: Citation


class GpcRule(_Strict):
    id: str = Field(pattern=r"^ADREQ\.gpc\.[A-Za-z0-9.-]+$")
    jurisdictions: tuple[str, ...] = Field(min_length=1)
    effective_from: dt.date
    enforced: bool
    citation: Citation


class GpcActions(_Strict):
    remove: tuple[str, ...]


class AdReqData(_Strict):
    version: int
    fields: dict[str, tuple[str, ...]]
    countries: dict[str, str]
    eu_eea: tuple[str, ...]
    rules: tuple[ScrubRule, ...]
    gpc: tuple[GpcRule, ...]
    gpc_actions: GpcActions
    types: dict[str, FieldType]
    required: tuple[str, ...]

    @model_validator(mode="after")
    def _groups_known(self) -> AdReqData:
        groups = [g for r in self.rules for g in r.remove] + list(self.gpc_actions.remove)
        unknown = sorted({g for g in groups if g not in self.fields})
        if unknown:
            raise ValueError(f"unknown field group(s) {', '.join(unknown)}")
        return self

    def expand(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(path for g in groups for path in self.fields[g])


def parse_data(raw: object, source: str = FILE) -> AdReqData:
    try:
        return AdReqData.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise RulebookError(validation_message(err), where=f"{source}: {key}") from None


@cache
def load_adreq(path: Path | None = None) -> AdReqData:
    """The packaged scrub rules (or a file given for tests)."""
    if path is None:
        text = resources.files("tutela.data").joinpath("adreq.yaml").read_text("utf-8")
        return parse_data(yaml.safe_load(text))
    return parse_data(yaml.safe_load(path.read_text("utf-8")), str(path))


class AdReqSubject(_Strict):
    """What Tutela knows of the user: jurisdiction, an age (or range or birth date), consents."""

    jurisdiction: str | None = Field(default=None, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
    age: int | None = Field(default=None, ge=0, le=130)
    age_range: tuple[int, int] | None = None
    birth_date: dt.date | None = None
    age_assurance: Literal["self_declared", "estimated", "verified"] = "self_declared"
    grants: tuple[Grant, ...] = ()

    @model_validator(mode="after")
    def _one_age(self) -> AdReqSubject:
        if sum(x is not None for x in (self.age, self.age_range, self.birth_date)) > 1:
            raise ValueError("give at most one of `age`, `age_range` or `birth_date`")
        if self.age_range is not None and not 0 <= self.age_range[0] <= self.age_range[1] <= 130:
            raise ValueError("`age_range` must be [low, high] with 0 <= low <= high <= 130")
        return self

    def age_on(self, day: dt.date) -> int | None:
        """The youngest age the subject can be (a range counts as its low end)."""
        if self.age is not None:
            return self.age
        if self.age_range is not None:
            return self.age_range[0]
        if self.birth_date is not None:
            b = self.birth_date
            return day.year - b.year - ((day.month, day.day) < (b.month, b.day))
        return None


def parse_subject(raw: object) -> AdReqSubject | None:
    if raw is None:
        return None
    try:
        return AdReqSubject.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise InputError(validation_message(err), where=f"subject.{key}" if key else "subject") from None
