"""The neutral age gate page: `GET /age-gate` asks for a date of birth, `POST /age-gate` answers.

Neutral as the library is (tutela.age.gate): the page never shows the threshold or the age that
would pass, pre-fills nothing (no year, no day), offers one way on (no "I am over N" button);
a restricted result looks exactly like a standard one to the user ("You can continue"; the
experience is in `data-experience` for the app) and sticks to the browser's gate session, so
trying other dates changes nothing. A double-submit CSRF token guards the form; attempts are
rate limited per session and per client (429 with Retry-After).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tutela.engine import Engine
from tutela.errors import InputError
from tutela.models import AgeGate, RateLimited, age_from_env
from tutela.web import security
from tutela.web.pages import Pages, field, form

GATE_SESSION = "tutela_gate"
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def router(engine: Engine, pages: Pages, gate: AgeGate | None = None) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    the_gate = gate or AgeGate(age_from_env()[1])

    def show(request: Request, jurisdiction: str, status: int = 200, error: str = "",
             result: str = "") -> Response:
        token, new = security.form_token(request)
        resp = pages.render("age_gate.html", status, form_token=token, jurisdiction=jurisdiction, months=MONTHS,
                            error=error, result=result)
        if new:
            security.set_cookie(resp, request, security.FORM, token, max_age=3600)
        if not request.cookies.get(GATE_SESSION):
            security.set_cookie(resp, request, GATE_SESSION, secrets.token_urlsafe(24), max_age=365 * 86400)
        return resp

    @r.get("/age-gate")
    def page(request: Request, jurisdiction: str = "NL") -> Response:
        """The neutral age gate: asks for a date of birth, shows no threshold."""
        engine.age_threshold(jurisdiction)  # an unknown jurisdiction is a 422 naming it, before anyone types
        return show(request, jurisdiction)

    @r.post("/age-gate")
    def submit(request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """The age gate's answer (the same page for every result; it sticks to the browser)."""
        security.check(request.cookies.get(security.FORM), field(data, "csrf") or None)
        jurisdiction = field(data, "jurisdiction", "NL")[:6]
        threshold = engine.age_threshold(jurisdiction)
        session = request.cookies.get(GATE_SESSION) or ""
        if not 8 <= len(session) <= 200:
            return show(request, jurisdiction, 400, "Please allow cookies for this page and try again.")
        y, m, d = field(data, "year"), field(data, "month"), field(data, "day")
        birth = f"{y.zfill(4)}-{m.zfill(2)}-{d.zfill(2)}" if y.isdigit() and m.isdigit() and d.isdigit() else "x"
        try:
            result = the_gate.submit(session, security.client(request), birth, threshold)
        except RateLimited as exc:
            resp = show(request, jurisdiction, 429, "Too many attempts. Please try again later.")
            resp.headers["retry-after"] = str(exc.retry_after)
            return resp
        except InputError:
            return show(request, jurisdiction, 422, "Please enter a valid date of birth.")
        return show(request, jurisdiction, result=result.experience)

    return r
