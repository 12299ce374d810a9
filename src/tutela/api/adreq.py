"""`POST /v1/adreq/guard`: an OpenRTB 2.6 bid request (plus, optionally, what is known of the
user) in; the guarded request or a refusal, with every change and the cited rule, out. The
`Sec-GPC` request header (or `gpc` in the body) is honoured. Bad input is a 422 with
{error, message, where, hint}; a refusal is a 200 with `outcome: "refuse"` and no request."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, Header
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from tutela.engine import Engine

_EXAMPLE: dict[str, Any] = {
    "request": {"id": "req-1", "imp": [{"id": "1", "banner": {"w": 320, "h": 50}}],
                "device": {"ip": "203.0.113.77", "ifa": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
                           "geo": {"country": "ITA", "lat": 45.46, "lon": 9.19, "city": "Milano"}},
                "user": {"id": "u-123", "eids": [{"source": "example.com", "uids": [{"id": "x"}]}]}},
    "subject": {"jurisdiction": "IT", "age": 15},
}


class GuardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": _EXAMPLE})
    request: dict[str, Any] = Field(description="the OpenRTB 2.6 BidRequest")
    subject: dict[str, Any] | None = Field(None, description="jurisdiction, age / age_range / birth_date, grants")
    gpc: bool | None = Field(None, description="Global Privacy Control; the Sec-GPC header is read too")


class ChangeOut(BaseModel):
    path: str
    action: Literal["removed", "truncated", "set"]
    rules: list[str]
    detail: str | None = None


class GuardOut(BaseModel):
    outcome: Literal["auction", "refuse"]
    request: dict[str, Any] | None
    changes: list[ChangeOut]
    rules: dict[str, dict[str, Any]]
    facts: dict[str, Any]
    notes: list[str]


def install(app: FastAPI, engine: Engine, counter: Counter | None = None) -> None:
    """Mount `POST /v1/adreq/guard` on `app` (`counter`: guarded requests by guard and outcome, for /metrics)."""

    @app.post("/v1/adreq/guard", response_model=GuardOut)
    def guard(body: GuardIn, sec_gpc: str | None = Header(None, alias="Sec-GPC")) -> dict[str, Any]:
        gpc = True if (body.gpc is True or (sec_gpc or "").strip() == "1") else body.gpc
        out = engine.adreq_guard(body.request, gpc=gpc, subject=body.subject).to_dict()
        if counter is not None:
            counter.labels("adreq", out["outcome"]).inc()
        return out
