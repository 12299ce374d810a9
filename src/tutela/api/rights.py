"""Rights requests over HTTP, for staff: `/v1/requests` (create, list, show, approve, reject, extend, run, export).

Every route needs `Authorization: Bearer <token>` with a token from `TUTELA_STAFF_TOKENS`
(see tutela.api.auth): missing -> 401, unknown -> 403, both as JSON
`{error, message}`; with no tokens configured every route answers 403. Bad input is 422
naming the field, as everywhere in the API; a store that cannot be reached is 503 (the run
is recorded as failed and can be run again). A declared store with no location is 422
(`StoresMissing`) unless the run's body says `{"allow_partial": true}`; every response then
names the stores not searched (`result.stores`, `result.complete`, the export's `stores` and
`complete`, and the export's `x-export-complete` header). Nothing here logs a token or personal data.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from tutela.api import schemas
from tutela.api.auth import ENV, StaffConfigError, StaffTokens
from tutela.api.schemas import (
    NEW_REQUEST_EXAMPLE,
    STAFF_ERRORS,
    NoteBody,
    ReasonBody,
    RightsRequest,
    RunBody,
    request_body,
)
from tutela.engine import Engine
from tutela.errors import InputError, NotAllowed
from tutela.models import EstateConfig, NewRequest, RightsDesk, StaffAccounts, staff_may

_NEW = request_body(NewRequest, NEW_REQUEST_EXAMPLE)
_NOTE = request_body(NoteBody, {"note": "checked the parent's ID"}, required=False)
_REASON = request_body(ReasonBody, {"reason": "the subject could not be identified"})
_RUN = request_body(RunBody, {"allow_partial": False}, required=False)
BEARER = HTTPBearer(auto_error=False, description=f"a staff token from {ENV}")


class AuthError(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def install(app: FastAPI, engine: Engine, estate: EstateConfig | None) -> None:
    """Mount the rights-request routes on `app` at /v1/requests."""
    try:
        tokens = StaffTokens.from_env()
    except StaffConfigError as exc:
        raise InputError(str(exc), where=ENV, hint="entries look like `name=token` or `name=sha256:<hex>`") from None

    @app.exception_handler(AuthError)
    async def _auth_error(request: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return JSONResponse({"error": exc.error, "message": exc.message}, status_code=exc.status, headers=headers)

    app.include_router(router(engine, estate, tokens), prefix="/v1/requests", tags=["rights requests"])


def staff_auth(tokens: StaffTokens) -> Callable[..., str]:
    def who(request: Request, _declared: HTTPAuthorizationCredentials | None = Depends(BEARER)) -> str:
        header = request.headers.get("authorization", "")  # read here: our own 401/403 words
        scheme, _, token = header.partition(" ")
        if not header:
            raise AuthError(401, "Unauthorized", "a staff bearer token is required")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "Unauthorized", "use `Authorization: Bearer <token>`")
        if not tokens:
            raise AuthError(403, "Forbidden", f"no staff tokens are configured on this server ({ENV})")
        name = tokens.who(token.strip())
        if name is None:
            raise AuthError(403, "Forbidden", "the token is not a staff token")
        return name
    return who


def router(engine: Engine, estate: EstateConfig | None, tokens: StaffTokens) -> APIRouter:
    r = APIRouter(responses=STAFF_ERRORS)
    staff = Depends(staff_auth(tokens))
    lock = threading.Lock()
    holder: list[RightsDesk] = []

    def desk() -> RightsDesk:  # opened on first use: the decision API alone never touches the state store
        # (routes that read a body are async and hand the blocking work to the thread pool)
        with lock:
            if not holder:
                holder.append(engine.requests(estate))
            return holder[0]

    def may(who: str, action: str) -> None:
        """A token whose name is also a console account acts with that account's role (an auditor's
        token reads only); a name without an account keeps the full staff rights of a token."""
        account = StaffAccounts(desk().state).get(who)
        if account is not None and not staff_may(account.role, action):
            raise NotAllowed(f"`{who}` is {account.role}; {action} needs the role dpo or support", where="role")

    async def body(request: Request, required: bool = True) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            if required:
                raise InputError("a JSON body is required", where="body")
            return {}
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"body is not valid JSON: {exc}", where="body") from None
        if not isinstance(data, dict):
            raise InputError("the body must be a JSON object", where="body")
        return data

    @r.post("", status_code=201, openapi_extra=_NEW, response_model=RightsRequest,
            summary="Create an access or erasure request (awaits staff approval)")
    async def create(request: Request, who: str = staff) -> dict[str, Any]:
        data = await body(request)
        await run_in_threadpool(may, who, "requests.create")
        return await run_in_threadpool(lambda: desk().create(data, by=who))

    @r.get("", response_model=list[RightsRequest],
           summary="List rights requests with due date, extended and overdue flags")
    def list_(who: str = staff, status: str | None = None, kind: str | None = None,
              subject: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return desk().list(status=status, kind=kind, subject=subject, limit=limit)

    @r.get("/{request_id}", response_model=RightsRequest, summary="One request")
    def show(request_id: str, who: str = staff) -> dict[str, Any]:
        return desk().show(request_id)

    @r.post("/{request_id}/approve", openapi_extra=_NOTE, response_model=RightsRequest, summary="Approve (staff)")
    async def approve(request_id: str, request: Request, who: str = staff) -> dict[str, Any]:
        note = schemas.body(NoteBody, await body(request, required=False)).note
        await run_in_threadpool(may, who, "requests.decide")
        return await run_in_threadpool(lambda: desk().approve(request_id, by=who, note=note))

    @r.post("/{request_id}/reject", openapi_extra=_REASON, response_model=RightsRequest,
            summary="Reject, with a reason (staff)")
    async def reject(request_id: str, request: Request, who: str = staff) -> dict[str, Any]:
        reason = schemas.body(ReasonBody, await body(request)).reason
        await run_in_threadpool(may, who, "requests.decide")
        return await run_in_threadpool(lambda: desk().reject(request_id, by=who, reason=reason))

    @r.post("/{request_id}/extend", openapi_extra=_REASON, response_model=RightsRequest,
            summary="Extend the deadline once, where the law allows, with the reason told to the requester")
    async def extend(request_id: str, request: Request, who: str = staff) -> dict[str, Any]:
        reason = schemas.body(ReasonBody, await body(request)).reason
        await run_in_threadpool(may, who, "requests.decide")
        return await run_in_threadpool(lambda: desk().extend(request_id, by=who, reason=reason))

    @r.post("/{request_id}/run", openapi_extra=_RUN, response_model=RightsRequest,
            summary="Run an approved request against the estate ({allow_partial?}: run even if a declared "
                    "store cannot be searched; the result names it; {allow_unreachable?}: proceed past "
                    "collections no reference reaches)")
    async def run(request_id: str, request: Request, who: str = staff) -> dict[str, Any]:
        flags = schemas.body(RunBody, await body(request, required=False))
        await run_in_threadpool(may, who, "requests.run")
        return await run_in_threadpool(lambda: desk().run(request_id, allow_unreachable=flags.allow_unreachable,
                                                          allow_partial=flags.allow_partial))

    @r.get("/{request_id}/export", summary="The access export as JSON")
    def export(request_id: str, who: str = staff) -> Response:
        return _json(desk(), request_id)

    @r.get("/{request_id}/export.json", summary="The access export as JSON (download)")
    def export_json(request_id: str, who: str = staff) -> Response:
        resp = _json(desk(), request_id)
        resp.headers["content-disposition"] = f'attachment; filename="access-{request_id}.json"'
        return resp

    @r.get("/{request_id}/export.html", response_class=HTMLResponse, summary="The access export as a page")
    def export_html(request_id: str, who: str = staff) -> HTMLResponse:
        data, _digest = desk().export(request_id)
        return HTMLResponse(desk().export_html(request_id),
                            headers={"content-security-policy": "default-src 'none'; img-src data:; "
                                                                "style-src 'unsafe-inline'", **_completeness(data)})

    return r


def _json(desk: RightsDesk, request_id: str) -> Response:
    data, digest = desk.export(request_id)
    return Response(json.dumps(data, ensure_ascii=False, indent=1), media_type="application/json",
                    headers={"x-export-sha256": digest, **_completeness(data)})


def _completeness(data: dict[str, Any]) -> dict[str, str]:
    """`x-export-complete: true|false` and, when false, `x-export-not-searched: store, store`."""
    stores = data.get("stores")
    missing = [s["store"] for s in stores or [] if not s["searched"]]
    if stores is None:
        return {"x-export-complete": "unknown"}
    out = {"x-export-complete": "false" if missing else "true"}
    if missing:
        out["x-export-not-searched"] = ", ".join(missing)
    return out


