"""The parent portal's API (`/v1/portal`, docs/portal.md): what the portal's pages do, for an app.

A parent asks for a sign-in link (`POST /v1/portal/signin`), exchanges its token for a session
(`POST /v1/portal/sessions`) and sends that as `Authorization: Bearer <session>`. A session sees
only the children linked to its guardian (403 for any other account).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tutela import settings
from tutela.api.consent import _json, request_body
from tutela.api.portal_schemas import (
    ChildOut,
    ChildView,
    EmailBody,
    ErasureOut,
    GrantOut,
    LinkBody,
    RevokedOut,
    ScopeBody,
    SentOut,
    SessionOut,
)
from tutela.api.rights import AuthError
from tutela.engine import Engine
from tutela.models import EstateConfig, ParentPortal, RateLimiter

SESSION = HTTPBearer(auto_error=False, description="a parent's session from POST /v1/portal/sessions")


def router(portal: ParentPortal) -> APIRouter:
    r = APIRouter()
    per_client = RateLimiter(limit=10, window=600)
    per_email = RateLimiter(limit=3, window=600)
    links = RateLimiter(limit=20, window=600)

    def limited(limiter: RateLimiter, key: str) -> JSONResponse | None:
        wait = limiter.hit(key)
        if not wait:
            return None
        return JSONResponse({"error": "RateLimited", "message": "too many attempts; try again later"},
                            status_code=429, headers={"Retry-After": str(wait)})

    def parent(request: Request, _declared: HTTPAuthorizationCredentials | None = Depends(SESSION)) -> tuple[str, str]:
        scheme, _, sid = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not sid.strip():
            raise AuthError(401, "Unauthorized", "a parent's session is required: `Authorization: Bearer <session>`")
        gid = portal.guardian(sid.strip())
        if gid is None:
            raise AuthError(403, "Forbidden", "unknown or expired session; sign in again")
        return gid, sid.strip()

    who = Depends(parent)

    def client(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    @r.post("/signin", response_model=SentOut, summary="Email the parent a sign-in link",
            openapi_extra=request_body(EmailBody, {"email": "parent@example.org"}))
    async def signin(request: Request) -> Any:
        b: EmailBody = await _json(request, EmailBody)
        key = hashlib.sha256(b.email.strip().lower().encode()).hexdigest()
        out = limited(per_client, client(request)) or limited(per_email, key)
        if out is not None:
            return out
        base = settings.text("TUTELA_PORTAL_LINK_BASE") or f"{str(request.base_url).rstrip('/')}/portal/link"
        await run_in_threadpool(portal.send_sign_in, b.email.strip(), base)
        return {"sent": "if_known"}

    @r.post("/sessions", status_code=201, response_model=SessionOut, summary="Use a sign-in link: a session",
            openapi_extra=request_body(LinkBody))
    async def session(request: Request) -> Any:
        b: LinkBody = await _json(request, LinkBody)
        out = limited(links, client(request))
        if out is not None:
            return out
        sid = await run_in_threadpool(portal.redeem, b.token)
        return {"session": sid, "expires_in": settings.positive_int("TUTELA_PORTAL_SESSION_HOURS", 12) * 3600}

    @r.delete("/session", status_code=200, response_model=RevokedOut, summary="Sign out (the session ends)")
    def sign_out(p: tuple[str, str] = who) -> Any:
        portal.sign_out(p[1])
        return {"revoked": ["session"]}

    @r.get("/children", response_model=list[ChildOut], summary="The parent's children")
    def children(p: tuple[str, str] = who) -> Any:
        return portal.children(p[0])

    @r.get("/children/{subject}", response_model=ChildView, summary="A child: categories, recipients, grants")
    def child(subject: str, p: tuple[str, str] = who) -> Any:
        return portal.child(p[0], subject)

    @r.post("/children/{subject}/grants", status_code=201, response_model=GrantOut,
            summary="Consent to a scope as the verified guardian", openapi_extra=request_body(ScopeBody))
    async def grant(subject: str, request: Request, p: tuple[str, str] = who) -> Any:
        b: ScopeBody = await _json(request, ScopeBody)
        return {"grant_id": await run_in_threadpool(portal.grant, p[0], subject, b.scope)}

    @r.post("/children/{subject}/revoke", response_model=RevokedOut, summary="Withdraw consent to a scope",
            openapi_extra=request_body(ScopeBody))
    async def revoke(subject: str, request: Request, p: tuple[str, str] = who) -> Any:
        b: ScopeBody = await _json(request, ScopeBody)
        return {"revoked": await run_in_threadpool(portal.revoke, p[0], subject, b.scope)}

    @r.post("/children/{subject}/access", summary="The child's data (an access request, run at once)")
    def access(subject: str, p: tuple[str, str] = who) -> dict[str, Any]:
        return portal.download(p[0], subject)

    @r.post("/children/{subject}/erasure", response_model=ErasureOut,
            summary="Delete the child's account and data (an erasure, run at once)")
    def erasure(subject: str, p: tuple[str, str] = who) -> Any:
        return portal.delete(p[0], subject)

    return r


def install(app: FastAPI, engine: Engine, estate: EstateConfig | None) -> None:
    """Mount the parent portal's API at /v1/portal."""
    portal = engine.portal(estate)
    app.include_router(router(portal), prefix="/v1/portal", tags=["parent portal"])
    app.router.on_shutdown.append(portal.close)
