"""Age assurance over HTTP: `POST /v1/age/signals`, `POST /v1/age/nonces`, `POST /v1/age/gate`.

- `/v1/age/signals` verifies one signal (`kind` + `signal`) and answers its normalised record;
  with `session`, the record is combined with what the session already holds (lowest wins,
  sticky) and `held` is the record now in force. A `nonce` must be one this service issued
  (`/v1/age/nonces`, single use, five minutes); an mdoc proof of age always needs one, an
  OIDC credential's `nonce` claim is checked against it when given.
- `/v1/age/gate` takes a birth date and answers only `{"experience": "standard"|"restricted"}`:
  never the threshold, the age or which date would pass; errors are the same whatever the
  threshold; 429 with `Retry-After` when a session or client tries too often.
Trust and store come from TUTELA_AGE_TRUST and TUTELA_AGE_DB (tutela.age.config). Bad input
is 422 {error, message, where, hint}. Nothing here logs a birth date, a token or an id.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutela.engine import Engine
from tutela.errors import InputError, validation_message
from tutela.models import AgeContext as Context
from tutela.models import AgeGate, NonceBook, RateLimited, RateLimiter
from tutela.models import AgeMemoryStore as MemoryStore
from tutela.models import AgeSqlStore as SqlStore
from tutela.models import AgeTrust as Trust
from tutela.models import age_from_env as from_env
from tutela.models import age_to_rulebook as to_rulebook
from tutela.models import stick_age as stick

Kind = Literal["apple", "google", "ca-daaa", "appstore", "oidc", "mdoc"]


class SignalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "google", "signal": {"userStatus": "SUPERVISED", "ageLower": 13, "ageUpper": 15,
                                      "installId": "inst-5d1c", "act": "US-UT"}, "session": "device-7f3a9c21"},
        {"kind": "ca-daaa", "signal": {"ageBracket": "16-17", "os": "example-os"}},
    ]})
    kind: Kind
    signal: dict[str, Any]
    session: str | None = Field(default=None, min_length=8, max_length=200)
    nonce: str | None = Field(default=None, max_length=200)


class RecordOut(BaseModel):
    lower: int
    upper: int | None
    category: str
    level: str
    rulebook_assurance: str
    method: str
    issuer: str
    source: str
    as_of: dt.date
    observed_at: dt.datetime
    expires_at: dt.datetime | None
    basis: list[dict[str, Any]]
    guardian_approval: str | None


class SignalResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"record": {
        "lower": 13, "upper": 15, "category": "younger_teenager", "level": "parent_declared",
        "rulebook_assurance": "declared", "method": "google.supervised", "issuer": "play.google.com",
        "source": "google", "as_of": "2026-10-08", "observed_at": "2026-12-03T12:00:00Z",
        "expires_at": "2027-12-03T12:00:00Z", "basis": [], "guardian_approval": "approved"}, "held": None}]})
    record: RecordOut
    held: RecordOut | None = None


class NonceResponse(BaseModel):
    nonce: str
    expires_in: int


class GateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"session": "session-4be1f0a2", "birth_date": "2014-05-01", "jurisdiction": "NL"}]})
    session: str = Field(min_length=8, max_length=200)
    birth_date: str = Field(max_length=20)
    jurisdiction: str = Field(min_length=2, max_length=6)


class GateResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"experience": "restricted"}]})
    experience: Literal["standard", "restricted"]


def _out(r: Any) -> RecordOut:
    return RecordOut(lower=r.lower, upper=r.upper, category=r.category, level=r.level,
                     rulebook_assurance=to_rulebook(r.level), method=r.method, issuer=r.issuer, source=r.source,
                     as_of=r.as_of, observed_at=r.observed_at, expires_at=r.expires_at,
                     basis=[b.model_dump(mode="json") for b in r.basis], guardian_approval=r.guardian_approval)


async def _body(request: Request, model: type[BaseModel], gate: bool = False) -> Any:
    try:
        raw = json.loads(await request.body())
        return model.model_validate(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("body is not valid JSON", where="body") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "body"
        if gate and field == "birth_date":  # the gate's own wording, the same for every date problem
            raise InputError("enter a valid date of birth", where="birth_date", hint="YYYY-MM-DD") from None
        raise InputError(validation_message(err), where=f"body.{field}") from None


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def router(engine: Engine, trust: Trust, store: MemoryStore | SqlStore, gate: AgeGate,
           nonces: NonceBook) -> APIRouter:
    r = APIRouter()
    nonce_limit = RateLimiter(limit=60, window=600)  # per client address: nonces are cheap, the book is bounded

    @r.post("/signals", response_model=SignalResponse, openapi_extra=_schema(SignalRequest))
    async def signals(request: Request) -> SignalResponse:
        body: SignalRequest = await _body(request, SignalRequest)
        if body.kind == "mdoc" and body.nonce is None:
            raise InputError("a proof of age needs the nonce this service issued", where="body.nonce",
                             hint="get one from POST /v1/age/nonces for each presentation")
        if body.nonce is not None and not nonces.consume(body.nonce):
            raise InputError("unknown, used or expired nonce", where="body.nonce",
                             hint="get a fresh one from POST /v1/age/nonces for each presentation")
        now = dt.datetime.now(dt.UTC)
        ctx = Context(now=now, oidc_issuers=trust.oidc_issuers, audience=trust.audience,
                      mdoc_trust=trust.mdoc_trust, nonce=body.nonce, replay=store)
        record = engine.age_record(body.signal, body.kind, ctx)
        held = stick(store, f"gate:{body.session}", record, now) if body.session else None
        return SignalResponse(record=_out(record), held=None if held is None else _out(held))

    @r.post("/nonces", response_model=NonceResponse,
            responses={429: {"description": "too many nonces for this client; see Retry-After"}})
    def issue_nonce(request: Request) -> Any:
        wait = nonce_limit.hit(request.client.host if request.client else "unknown")
        if wait:
            return JSONResponse({"error": "RateLimited", "message": "too many attempts; try again later"},
                                status_code=429, headers={"Retry-After": str(wait)})
        return NonceResponse(nonce=nonces.issue(), expires_in=int(nonces.ttl))

    @r.post("/gate", response_model=GateResponse, openapi_extra=_schema(GateRequest),
            responses={429: {"description": "too many attempts; see Retry-After"}})
    async def age_gate(request: Request) -> Any:
        body: GateRequest = await _body(request, GateRequest, gate=True)
        client = request.client.host if request.client else "unknown"
        threshold = engine.age_threshold(body.jurisdiction)
        try:
            result = gate.submit(body.session, client, body.birth_date, threshold)
        except RateLimited as exc:
            return JSONResponse({"error": "RateLimited", "message": exc.message}, status_code=429,
                                headers={"Retry-After": str(exc.retry_after)})
        return GateResponse(experience=result.experience)

    return r


def install(app: FastAPI, engine: Engine) -> None:
    """Mount the age routes at /v1/age (trust and store from the environment)."""
    trust, store = from_env()
    app.include_router(router(engine, trust, store, AgeGate(store), NonceBook()), prefix="/v1/age",
                       tags=["age assurance"])
