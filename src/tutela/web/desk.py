"""The console's pages for rights requests, the rulebook, the data map, the ledger, consent,
the CSV exports and the current audit report (`/report`)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tutela.engine import Engine
from tutela.errors import InputError
from tutela.models import Office, staff_may
from tutela.web import charts, security
from tutela.web.pages import Ctx, Pages, checked, field, form, redirect

ACTIONS = {"approve": "approved", "reject": "rejected", "extend": "extended"}


def _cell(v: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if v is None else str(v)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows([[_cell(v) for v in row] for row in rows])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"', **security.HEADERS})


def router(engine: Engine, office: Office, pages: Pages) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    signed = Depends(pages.signed_in)
    body = Depends(form)

    @r.get("/console/requests")
    def requests(request: Request, ctx: Ctx = signed, status: str | None = None) -> HTMLResponse:
        """Rights-request queue with deadline timers."""
        return pages.page("requests.html", ctx, request, "requests", requests=office.requests(status),
                          can_create=staff_may(ctx.who.role, "requests.create"))

    @r.post("/console/requests")
    def create(ctx: Ctx = signed, data: dict[str, list[str]] = body) -> Response:
        """Create a rights request (DPO, support)."""
        checked(ctx, data)
        req: dict[str, Any] = {"kind": field(data, "kind"), "subject": field(data, "subject")}
        for key in ("scope", "jurisdiction"):
            if field(data, key):
                req[key] = field(data, key)
        if field(data, "ref"):
            req["requester"] = {"kind": "staff", "ref": field(data, "ref")}
        made = office.create_request(ctx.who, req)
        return redirect(f"/console/requests/{made['id']}", "created")

    @r.get("/console/requests/{request_id}")
    def show(request_id: str, request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """One rights request."""
        role = ctx.who.role
        return pages.page("request.html", ctx, request, "requests", r=office.request(request_id),
                          can_decide=staff_may(role, "requests.decide"), can_run=staff_may(role, "requests.run"))

    @r.post("/console/requests/{request_id}/{action}")
    def act(request_id: str, action: str, ctx: Ctx = signed, data: dict[str, list[str]] = body) -> Response:
        """Approve (not its creator), reject, extend or run a request (DPO, support)."""
        checked(ctx, data)
        if action == "run":
            office.run_request(ctx.who, request_id)
            return redirect(f"/console/requests/{request_id}", "answered")
        if action not in ACTIONS:
            raise InputError(f"unknown action `{action}`", where="path", hint="approve, reject, extend or run")
        office.decide_request(ctx.who, request_id, action, field(data, "text"))
        return redirect(f"/console/requests/{request_id}", ACTIONS[action])

    @r.get("/console/export/findings.csv")
    def findings_csv(ctx: Ctx = signed) -> Response:
        """The latest audit's findings as CSV."""
        audit = office.current()
        rows = [[f["rule"], f["title"], f["severity"], f["status"], f["children"], f["subjects"], f["rows"],
                 ";".join(f"{k}={v}" for k, v in sorted(f["countries"].items())), f["citation"]["instrument"],
                 f["citation"]["section"], f["citation"]["url"], audit["at"]] for f in audit["findings"]]
        return _csv("findings.csv", ["rule", "title", "severity", "status", "children", "subjects", "rows",
                                     "countries", "instrument", "section", "url", "audited_at"], rows)

    @r.get("/console/export/requests.csv")
    def requests_csv(ctx: Ctx = signed) -> Response:
        """Rights requests as CSV."""
        cols = ["id", "kind", "scope", "subject", "jurisdiction", "status", "received", "due", "days_left",
                "overdue", "extended", "answered_late", "created_by", "decided_by", "completed_at"]
        return _csv("requests.csv", cols, [[q.get(c) for c in cols] for q in office.requests()])

    @r.get("/console/datamap")
    def datamap(request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """The data map as a graph."""
        dm = office.datamap()
        return pages.page("datamap.html", ctx, request, "datamap", dm=dm, chart=charts.graph(dm))

    @r.get("/console/rulebook")
    def rulebook(request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """Rulebook browser: jurisdictions."""
        return pages.page("rulebook.html", ctx, request, "rulebook", jurisdictions=office.rulebook(),
                          version=engine.version, day=office.day())

    @r.get("/console/rulebook/{code}")
    def jurisdiction(code: str, request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """One jurisdiction: consent ages, rules, citations, effective dates, legal status."""
        return pages.page("jurisdiction.html", ctx, request, "rulebook", j=office.jurisdiction(code), day=office.day())

    @r.get("/console/ledger")
    def ledger(request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """Ledger verification summary."""
        report: dict[str, Any] | None = None
        missing = ""
        try:
            with Engine.ledger(create=False) as book:
                report = book.verify().to_dict()
        except InputError as exc:
            missing = f"No ledger to verify yet ({exc.message})."
        return pages.page("ledger.html", ctx, request, "ledger", report=report, missing=missing)

    @r.get("/console/consent")
    def consent(request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """Consent funnel (no consent data yet)."""
        return pages.page("consent.html", ctx, request, "consent")

    @r.get("/report")
    def report() -> HTMLResponse:
        """The audit report of the estate as it is now (the latest audit, re-run when the estate changed)."""
        found, day = office.report_findings()
        return HTMLResponse(engine.report_html(found, office.estate.url, day))

    return r
