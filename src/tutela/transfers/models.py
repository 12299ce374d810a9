"""Pydantic models of the recipient registry and of the gate's law (data/transfers.yaml).

Every model forbids unknown fields; an error names the file, the entry and the field
(`registry.yml: recipients[2] (bengaluru-ts): tia_date: ...`).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["processor", "third_party", "remote_staff"]
SccModule = Literal["C2C", "C2P", "P2P", "P2C"]
# the decision engine's recipient for each kind: staff of the platform are the platform itself
POLICY_RECIPIENT: dict[str, str] = {"processor": "processor", "third_party": "third_party",
                                    "remote_staff": "first_party"}
KINDS: tuple[str, ...] = tuple(POLICY_RECIPIENT)
SCC_MODULES: tuple[str, ...] = ("C2C", "C2P", "P2P", "P2C")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipient(_Strict):
    """One recipient: a processor, a third party, or a place staff reach the data from."""

    id: str = Field(min_length=1, max_length=128, pattern=r"^\S(.*\S)?$")
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 where the data is received or accessed")
    dpf_certified: bool = Field(False, description="on the EU-US Data Privacy Framework List")
    scc_module: SccModule | None = Field(None, description="module of the 2021 SCCs signed with it")
    scc_signed: dt.date | None = Field(None, description="the day the SCCs were signed (unknown: not checked)")
    tia_date: dt.date | None = Field(None, description="the day the transfer impact assessment was completed")
    bcr_approved: dt.date | None = Field(None, description="the day its binding corporate rules were approved")
    purpose: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Recipient:
        if self.scc_signed is not None and self.scc_module is None:
            raise ValueError("`scc_signed` needs `scc_module`")
        return self


class RegistryFile(_Strict):
    version: Literal[1]
    tia_review_days: int | None = Field(None, ge=1, le=3650)
    recipients: tuple[Recipient, ...] = Field(min_length=1)


class Basis(_Strict):
    instrument: str = Field(min_length=3)
    section: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")
    effective_from: dt.date
    primary_checked: bool = False
    source_followed: str | None = None
    note: str | None = None


class RegimeLaw(_Strict):
    """What each mechanism rests on under one transfer regime of the rulebook."""

    chapter_v: Basis
    adequacy: Basis
    dpf: Basis | None = None
    scc: Basis
    bcr: Basis | None = None
    tia: Basis
    remote_access: Basis | None = None
    notice: Basis


class GateLaw(_Strict):
    version: Literal[1]
    tia_review_days: int = Field(ge=1, le=3650)
    regimes: dict[str, RegimeLaw]
