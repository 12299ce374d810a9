"""Verifiable parental consent over HTTP, at /v1/consent (docs/consent.md: the API a parent portal calls).

Open routes (their credential is in the request): `GET /defaults` (the settings a new minor's
account starts from); `POST /links/peek` and `POST /links/confirm` (the parent's single-use link,
its token in the body and never in a URL: peek shows what it asks without using it, confirm
consents); `POST /webhooks/{provider}` (a provider's signed result). Every other route is for
staff and the platform's back end: `Authorization: Bearer <token>` from TUTELA_STAFF_TOKENS (401
missing, 403 unknown). A refusal (an unverified adult loosening a child's settings, a grant that
is not there) is 403; bad input 422 naming the field; a mail server or store that does not
answer 503 with nothing written. Link routes are rate limited per client (429). Nothing here
logs a token, an address or a subject id.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from tutela.api.auth import StaffTokens
from tutela.api.consent_schemas import (
    AccountOut,
    ChildOut,
    ConfirmBody,
    DefaultsOut,
    GrantIds,
    GrantOut,
    GuardianLinkOut,
    LinkBody,
    NoticeBody,
    NoticeOut,
    PeekOut,
    RequestSent,
    ResultOut,
    RevokeBody,
    RevokedOut,
    ScopesBody,
    SettingBody,
    SignedFormBody,
    SignUpBody,
    SignUpOut,
    StrictBody,
    TokenBody,
)
from tutela.api.rights import staff_auth
from tutela.api.schemas import STAFF_ERRORS
from tutela.engine import Engine
from tutela.errors import InputError, validation_message
from tutela.models import ConsentRefused, RateLimiter


async def _json(request: Request, model: type[StrictBody], required: bool = True) -> Any:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise InputError("a JSON body is required", where="body")
        return model()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("body is not valid JSON", where="body") from None
    if not isinstance(data, dict):
        raise InputError("the body must be a JSON object", where="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(validation_message(err), where=f"body.{loc}" if loc else "body") from None


def request_body(model: type[BaseModel], example: dict[str, Any] | None = None,
                 required: bool = True) -> dict[str, Any]:
    """The `openapi_extra` of a route whose body is `model`, its schema inline (with a working example)."""
    media: dict[str, Any] = {"schema": model.model_json_schema()}
    if example is not None:
        media["example"] = example
    return {"requestBody": {"required": required, "content": {"application/json": media}}}


def _limited(limiter: RateLimiter, request: Request) -> JSONResponse | None:
    wait = limiter.hit(request.client.host if request.client else "unknown")
    if not wait:
        return None
    return JSONResponse({"error": "RateLimited", "message": "too many attempts; try again later"}, status_code=429,
                        headers={"Retry-After": str(wait)})


def router(engine: Engine, tokens: StaffTokens) -> APIRouter:
    r = APIRouter()
    staff = Depends(staff_auth(tokens))
    links = RateLimiter(limit=20, window=600)

    @r.get("/defaults", response_model=DefaultsOut,
           summary="The privacy settings a new minor's account starts from, cited")
    def defaults(jurisdiction: str, age: int) -> dict[str, Any]:
        if not 0 <= age <= 130:
            raise InputError(f"not an age: `{age}`", where="query.age")
        return engine.consent.defaults(jurisdiction, age)

    @r.post("/links/peek", response_model=PeekOut, summary="What a consent link asks for (does not use the link)",
            openapi_extra=request_body(TokenBody, {"token": "<the token from the link's fragment>"}),
            responses={429: {"description": "too many attempts"}})
    async def peek(request: Request) -> Any:
        limited = _limited(links, request)
        if limited:
            return limited
        b: TokenBody = await _json(request, TokenBody)
        return await run_in_threadpool(lambda: engine.consent.peek(b.token))

    @r.post("/links/confirm", response_model=ResultOut, summary="The parent consents through the link (single use)",
            openapi_extra=request_body(ConfirmBody, {"token": "<the token from the link's fragment>",
                                                     "method": "email_plus"}),
            responses={429: {"description": "too many attempts"}})
    async def confirm(request: Request) -> Any:
        limited = _limited(links, request)
        if limited:
            return limited
        b: ConfirmBody = await _json(request, ConfirmBody)
        return await run_in_threadpool(lambda: engine.consent.confirm(b.token, scopes=b.scopes, method=b.method))

    @r.post("/webhooks/{provider}", response_model=ResultOut,
            summary="A verification provider's signed result (HMAC-SHA256)")
    async def webhook(provider: str, request: Request) -> Any:
        if not 1 <= len(provider) <= 64:
            raise InputError("a provider name of 1 to 64 characters", where="path.provider")
        body = await request.body()
        ts, sig = request.headers.get("x-tutela-timestamp"), request.headers.get("x-tutela-signature")
        return await run_in_threadpool(lambda: engine.consent.webhook(provider, body, ts, sig))

    s = APIRouter(responses=STAFF_ERRORS)

    @s.post("/signups", status_code=201, response_model=SignUpOut, openapi_extra=request_body(SignUpBody, {
        "subject": "child-1", "jurisdiction": "NL", "age": 12, "parent_email": "parent@example.org",
        "scopes": ["precise_location"]}), summary="A minor signs up: defaults, and a consent request when needed")
    async def sign_up(request: Request, who: str = staff) -> Any:
        b: SignUpBody = await _json(request, SignUpBody)
        return await run_in_threadpool(lambda: engine.consent.sign_up(b.subject, b.jurisdiction, b.age,
                                                                      b.parent_email, b.scopes))

    @s.get("/requests/{request_id}", summary="One consent request")
    def show(request_id: str, who: str = staff) -> dict[str, Any]:
        return engine.consent.request(request_id)

    @s.post("/requests/{request_id}/signed-form", response_model=ResultOut, openapi_extra=request_body(SignedFormBody, {
        "reference": "form-2026-118"}), summary="Approve (or fail) a signed consent form (staff)")
    async def signed_form(request_id: str, request: Request, who: str = staff) -> Any:
        b: SignedFormBody = await _json(request, SignedFormBody)
        return await run_in_threadpool(lambda: engine.consent.record_result(
            request_id, "signed_form", b.outcome, reported_by=who, channel="staff", reference=b.reference,
            scopes=b.scopes))

    @s.get("/subjects/{subject}/grants", response_model=list[GrantOut],
           summary="A subject's grants, with history and state")
    def grants(subject: str, who: str = staff) -> list[dict[str, Any]]:
        desk = engine.consent
        return [g.to_dict(desk.clock()) for g in desk.grants(subject)]

    @s.post("/subjects/{subject}/revoke", response_model=RevokedOut,
            openapi_extra=request_body(RevokeBody, {"scope": "precise_location"}),
            summary="Revoke a grant (by id) or every live grant of a scope; it stops counting at once")
    async def revoke(subject: str, request: Request, who: str = staff) -> Any:
        b: RevokeBody = await _json(request, RevokeBody)
        by = b.on_behalf_of or f"staff:{who}"
        ids = await run_in_threadpool(lambda: engine.consent.revoke(subject, by, grant_id=b.grant_id, scope=b.scope))
        return {"revoked": ids}

    @s.post("/subjects/{subject}/requests", status_code=201, response_model=RequestSent,
            openapi_extra=request_body(ScopesBody, {
        "scopes": ["third_party_disclosure"]}), summary="Ask the linked guardian again (more scopes, renewal)")
    async def ask(subject: str, request: Request, who: str = staff) -> Any:
        b: ScopesBody = await _json(request, ScopesBody)
        return await run_in_threadpool(lambda: engine.consent.ask(subject, b.scopes))

    @s.post("/subjects/{subject}/self-grants", status_code=201, response_model=GrantIds,
            openapi_extra=request_body(ScopesBody, {"scopes": ["precise_location"]}),
            summary="The subject's own consent (at or above the age of consent; in FR beside the parent's)")
    async def self_grants(subject: str, request: Request, who: str = staff) -> Any:
        b: ScopesBody = await _json(request, ScopesBody)
        return {"granted": await run_in_threadpool(lambda: engine.consent.grant_self(subject, b.scopes))}

    @s.get("/subjects/{subject}/account", response_model=AccountOut,
           summary="A minor's account: mode, settings, linked guardians")
    def account(subject: str, who: str = staff) -> dict[str, Any]:
        return engine.consent.account(subject)

    @s.post("/subjects/{subject}/settings", response_model=AccountOut, openapi_extra=request_body(SettingBody, {
        "setting": "location", "value": "precise", "actor": "self"}),
        summary="Change a setting as `self` or `guardian:<id>`; loosening needs the right grant (403)")
    async def setting(subject: str, request: Request, who: str = staff) -> Any:
        b: SettingBody = await _json(request, SettingBody)
        return await run_in_threadpool(lambda: engine.consent.change_setting(subject, b.setting, b.value, b.actor))

    @s.post("/subjects/{subject}/guardians", status_code=201, response_model=GuardianLinkOut,
            openapi_extra=request_body(LinkBody, {
        "email": "parent@example.org"}), summary="Link an adult to a child's account (unverified until a method)")
    async def link(subject: str, request: Request, who: str = staff) -> Any:
        b: LinkBody = await _json(request, LinkBody)
        return {"guardian_id": await run_in_threadpool(lambda: engine.consent.link_guardian(subject, b.email)),
                "verified": False}

    @s.get("/guardians/{guardian_id}/children", response_model=list[ChildOut],
           summary="The accounts a guardian is linked to (what a portal may show that parent)")
    def children(guardian_id: str, who: str = staff) -> list[dict[str, Any]]:
        return engine.consent.children(guardian_id)

    @s.post("/notices", status_code=201, response_model=NoticeOut, openapi_extra=request_body(NoticeBody, {
        "version": "2", "scopes": ["precise_location"]}),
        summary="Publish a notice version; a material change marks the affected grants for renewal")
    async def notice(request: Request, who: str = staff) -> Any:
        b: NoticeBody = await _json(request, NoticeBody)
        return {"version": b.version,
                "needs_renewal": await run_in_threadpool(lambda: engine.consent.publish_notice(b.version, b.scopes))}

    r.include_router(s)
    return r


def install(app: FastAPI, engine: Engine) -> None:
    """Mount the consent routes at /v1/consent (staff tokens from the environment)."""
    tokens = StaffTokens.from_env()  # rights.install has already refused a malformed list

    @app.exception_handler(ConsentRefused)
    async def _refused(request: Request, exc: ConsentRefused) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=403)

    app.include_router(router(engine, tokens), prefix="/v1/consent", tags=["consent"])
