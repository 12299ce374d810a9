"""Web pages: the privacy team's console (`/console`), the current audit report (`/report`)
and the neutral age gate (`/age-gate`), served beside the API (docs/console.md).

    app = create_app(engine, estate=EstateConfig(url))     # the API + the console for that estate

Shared infrastructure for pages (a later parent portal uses it too): Jinja2 templates in
`templates/` under one phone-readable layout, session and CSRF cookies (`security`), sign-in
rate limits, HTML error pages; the pages call only tutela.engine and tutela.models.
"""

from __future__ import annotations

import datetime as dt
import inspect
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from tutela.api import create_app as api_app
from tutela.engine import Engine
from tutela.errors import InputError, NotAllowed, StoreUnavailable, TutelaError
from tutela.models import ConsentRefused, EstateConfig
from tutela.web import age_gate, console, desk, portal, security
from tutela.web.pages import Pages, SignInNeeded, signin_redirect

HERE = Path(__file__).resolve().parent
PAGES = ("/console", "/age-gate", "/report", "/portal", "/consent")


def create_app(engine: Engine | None = None, report: Path | None = None, estate: EstateConfig | None = None,
               as_of: dt.date | None = None) -> FastAPI:
    """The API; with an estate, also the console, the current report at `/report` and `/` -> `/console`
    (without one, `report` is served as a file, as the API alone does). The age gate page always."""
    eng = engine or Engine()
    app = api_app(eng, report=report if estate is None else None, estate=estate)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    if estate is None:
        pages = Pages(None)
        app.include_router(age_gate.router(eng, pages))
        app.include_router(portal.router(eng, pages, eng.portal()))
        _errors(app, pages)
        return app
    office = eng.office(estate, as_of=as_of)
    pages = Pages(office)
    app.include_router(console.router(office, pages))
    app.include_router(desk.router(eng, office, pages))
    app.include_router(age_gate.router(eng, pages))
    parents = eng.portal(estate)
    app.include_router(portal.router(eng, pages, parents))
    _errors(app, pages)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    app.router.on_shutdown.append(office.close)
    app.router.on_shutdown.append(parents.close)
    return app


def _errors(app: FastAPI, pages: Pages) -> None:
    """HTML error pages for the pages (the API keeps its JSON errors)."""
    api_handler = app.exception_handlers[TutelaError]

    def error_page(request: Request, status: int, heading: str, message: str, where: str | None = None,
                   hint: str | None = None) -> Response:
        ctx = pages.context(request) if pages.office is not None else None
        return pages.render("error.html", status, who=ctx.who if ctx else None, csrf=ctx.csrf if ctx else "",
                            page="", flash=None, status=status, heading=heading, message=message, where=where,
                            hint=hint, back="/portal" if request.url.path.startswith("/portal") else None)

    async def tutela_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TutelaError)
        if not request.url.path.startswith(PAGES):
            out = api_handler(request, exc)
            return await out if inspect.isawaitable(out) else out
        status = (403 if isinstance(exc, NotAllowed) else 422 if isinstance(exc, InputError)
                  else 503 if isinstance(exc, StoreUnavailable) else 500)
        heading = {403: "Not allowed", 422: "That did not work", 503: "A store is unavailable"}.get(status, "Error")
        return error_page(request, status, heading, exc.message, exc.where, exc.hint)

    api_refused = app.exception_handlers.get(ConsentRefused)

    async def refused(request: Request, exc: Exception) -> Response:
        """The consent API answers a refusal in JSON; a page shows it (403) like any other error."""
        assert isinstance(exc, ConsentRefused)
        if api_refused is not None and not request.url.path.startswith(PAGES):
            out = api_refused(request, exc)
            return await out if inspect.isawaitable(out) else out
        return error_page(request, 403, "Not allowed", exc.message, exc.where, exc.hint)

    async def csrf_error(request: Request, exc: Exception) -> Response:
        return error_page(request, 403, "Form rejected", security.CsrfRejected.message)

    async def sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        return signin_redirect(exc.next_path)

    app.add_exception_handler(TutelaError, tutela_error)
    app.add_exception_handler(ConsentRefused, refused)
    app.add_exception_handler(security.CsrfRejected, csrf_error)
    app.add_exception_handler(SignInNeeded, sign_in)
