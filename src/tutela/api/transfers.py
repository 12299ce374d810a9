"""`POST /v1/transfers/check` and `GET /v1/transfers`: the transfer gate over the recipient registry.

The registry is the file TUTELA_TRANSFER_REGISTRY names, else the processors table of the estate
the server was started with (`tutela serve --estate`), read at each call so an edit is in force at
once. A check answers 200 with `effect` allow or deny, the mechanism, the reasons and the law cited;
an unknown recipient or jurisdiction, or no registry, is a 422 {error, message, where, hint}."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from tutela import settings
from tutela.engine import Engine

if TYPE_CHECKING:
    from tutela.models import EstateConfig, TransferGate

REGISTRY_ENV = "TUTELA_TRANSFER_REGISTRY"
_EXAMPLE: dict[str, Any] = {"recipient": "bengaluru-ts", "subject": {"jurisdiction": "NL", "age": 12},
                            "on": "2026-03-01"}


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    jurisdiction: str = Field(description="a rulebook jurisdiction, e.g. NL")
    age: int | None = Field(None, ge=0, le=130, description="unknown: read as a child")


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    jurisdictions: list[str] = Field(min_length=1, description="where the dataset's subjects are")
    children: bool = Field(True, description="does the dataset hold children's data")


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": _EXAMPLE})
    recipient: str = Field(description="a recipient's id or name in the registry")
    subject: SubjectIn | None = None
    dataset: DatasetIn | None = None
    on: dt.date | None = Field(None, description="the day of the transfer (default today, UTC)")


class RecipientOut(BaseModel):
    id: str
    name: str
    kind: Literal["processor", "third_party", "remote_staff"]
    country: str


class CheckOut(BaseModel):
    effect: Literal["allow", "deny"]
    on: str
    jurisdiction: str | None
    regime: str | None
    children: bool
    recipient: RecipientOut
    destination_class: Literal["none", "adequate", "non_adequate"]
    transfer: bool
    remote_access: bool
    mechanism: str
    reasons: list[str]
    missing: list[str]
    rules: list[str]
    citations: list[dict[str, Any]]


class DatasetOut(BaseModel):
    effect: Literal["allow", "deny"]
    dataset: str
    checks: list[CheckOut]


class ListOut(BaseModel):
    registry: str
    regime: str
    on: str
    recipients: list[CheckOut]
    notice: dict[str, Any] = Field(description="the third countries for the GDPR Art. 13(1)(f) notice")


def install(app: FastAPI, engine: Engine, estate: EstateConfig | None = None) -> None:
    """Mount the transfer routes on `app`."""

    def gate() -> TransferGate:
        path = settings.text(REGISTRY_ENV)
        if path or estate is None:
            return engine.transfers(Path(path).expanduser() if path else None)
        return engine.transfers(estate=estate.url, datamap=estate.datamap)

    @app.post("/v1/transfers/check", response_model=CheckOut | DatasetOut)
    def check(body: CheckIn) -> dict[str, Any]:
        subject = body.subject.model_dump() if body.subject else None
        dataset = body.dataset.model_dump() if body.dataset else None
        return gate().check(body.recipient, subject=subject, dataset=dataset, on=body.on).to_dict()

    @app.get("/v1/transfers", response_model=ListOut)
    def listing(regime: str | None = None, jurisdiction: str | None = None,
                on: dt.date | None = None) -> dict[str, Any]:
        g = gate()
        status = g.status(on, regime, jurisdiction)
        notice = g.notice(on, regime, jurisdiction)
        return {"registry": g.registry.source, "regime": notice.regime, "on": notice.on.isoformat(),
                "recipients": [s.to_dict() for s in status], "notice": notice.to_dict()}
