"""The console's pages for the privacy team: sign-in, overview, findings and remediation jobs
(requests, the rulebook, the data map, the ledger and the exports are in tutela.web.desk).

Every page needs a signed-in staff member; every form a CSRF token; every action is checked
against the staff member's role by the office (tutela.models.Office), and four-eyes below it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tutela.models import Office, RateLimiter, staff_may
from tutela.web import charts, security
from tutela.web.pages import Ctx, Pages, checked, field, form, redirect

SIGNIN_LIMIT_NAME = RateLimiter(limit=5, window=300)  # per account name
SIGNIN_LIMIT_CLIENT = RateLimiter(limit=20, window=300)  # per client address


def _safe_next(raw: str) -> str:
    """Only a path of this console (never another site) after sign-in."""
    return raw if raw.startswith("/console") and not raw.startswith("//") and "\\" not in raw else "/console"


def router(office: Office, pages: Pages) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    signed = Depends(pages.signed_in)
    body = Depends(form)

    @r.get("/console/signin")
    def signin_page(request: Request, next: str = "/console") -> Response:
        """The sign-in form."""
        if pages.context(request) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return _signin(request, next, "", "", 200)

    def _signin(request: Request, next_path: str, name: str, error: str, status: int) -> Response:
        token, new = security.form_token(request)
        resp = pages.render("signin.html", status, who=None, form_token=token, next=_safe_next(next_path),
                            name=name, error=error, flash=None)
        if new:
            security.set_cookie(resp, request, security.FORM, token, max_age=3600)
        return resp

    @r.post("/console/signin")
    def signin(request: Request, data: dict[str, list[str]] = body) -> Response:
        """Sign in (name, password; rate limited)."""
        security.check(request.cookies.get(security.FORM), field(data, "csrf") or None)
        name, password, nxt = field(data, "name")[:64], (data.get("password") or [""])[0], field(data, "next")
        wait = SIGNIN_LIMIT_CLIENT.hit(security.client(request)) or SIGNIN_LIMIT_NAME.hit(name.casefold())
        if wait:
            resp = _signin(request, nxt, name, f"Too many sign-in attempts; try again in {wait} s.", 429)
            resp.headers["retry-after"] = str(wait)
            return resp
        got = office.sign_in(name, password) if name and password else None
        if got is None:
            return _signin(request, nxt, name, "The name or the password is wrong.", 401)
        _account, sid = got
        resp = RedirectResponse(_safe_next(nxt), status_code=303)
        security.set_cookie(resp, request, security.SESSION, sid)
        return resp

    @r.post("/console/signout")
    def signout(request: Request, ctx: Ctx = signed, data: dict[str, list[str]] = body) -> Response:
        """Sign out: the session ends."""
        checked(ctx, data)
        office.sign_out(ctx.session_id)
        resp = RedirectResponse("/console/signin", status_code=303)
        resp.delete_cookie(security.SESSION, path="/", httponly=True, samesite="strict",
                           secure=security.secure(request))
        return resp

    @r.get("/console")
    def overview(request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """Open findings by severity (distinct children and subjects), trend over audits."""
        audit = office.current()
        s = audit["summary"]
        sev = [(k, int(v["children"]), k) for k, v in s["by_severity"].items()]
        open_requests = sum(1 for q in office.requests() if q["status"] in ("pending_approval", "approved", "failed"))
        return pages.page("overview.html", ctx, request, "overview", audit=audit, s=s, estate=office.estate_name,
                          open_requests=open_requests, can_audit=staff_may(ctx.who.role, "audit.run"),
                          chart_severity=charts.bars(sev, "children (distinct)", label_width=90),
                          chart_trend=charts.trend(office.trend()))

    @r.post("/console/audits")
    def audit_now(ctx: Ctx = signed, data: dict[str, list[str]] = body) -> Response:
        """Audit the estate again now (DPO)."""
        checked(ctx, data)
        office.run_audit(ctx.who)
        return redirect("/console", "audited")

    @r.get("/console/findings")
    def findings(request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """Findings sorted by risk, chart of every rule."""
        audit = office.current()
        found = [f for f in audit["findings"] if f["status"] == "open"]
        chart = charts.bars([(f["rule"], int(f["rows"]), f["severity"]) for f in found], "rows affected per rule")
        return pages.page("findings.html", ctx, request, "findings", audit=audit, findings=found, chart=chart,
                          legend=charts.legend(sorted({f["severity"] for f in found}, key=_sev_rank)),
                          can_plan=staff_may(ctx.who.role, "remediation.plan"))

    @r.get("/console/findings/{rule}")
    def finding(rule: str, request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """One finding: citation, countries, collections, example ids, the repair each category gets."""
        f = office.finding(rule)
        countries = sorted(f["countries"].items(), key=lambda kv: (-kv[1], kv[0]))
        colls = sorted(f["collections"].items(), key=lambda kv: (-kv[1], kv[0]))
        return pages.page("finding.html", ctx, request, "findings", f=f,
                          chart_countries=charts.bars([(k, v, f["severity"]) for k, v in countries], "subjects",
                                                      label_width=80),
                          chart_collections=charts.bars([(k, v, f["severity"]) for k, v in colls], "rows",
                                                        label_width=140),
                          can_plan=staff_may(ctx.who.role, "remediation.plan"))

    @r.post("/console/jobs")
    def plan(ctx: Ctx = signed, data: dict[str, list[str]] = body) -> Response:
        """Plan a dry-run remediation of the chosen findings (DPO; awaits a second DPO)."""
        checked(ctx, data)
        job = office.plan(ctx.who, [v.strip() for v in data.get("rules", []) if v.strip()])
        return redirect(f"/console/jobs/{job['job_id']}", "planned")

    @r.get("/console/jobs")
    def jobs(request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """Remediation jobs."""
        return pages.page("jobs.html", ctx, request, "jobs", jobs=office.jobs())

    @r.get("/console/jobs/{job_id}")
    def job(job_id: str, request: Request, ctx: Ctx = signed) -> HTMLResponse:
        """One job: its dry run, approval, live progress."""
        return pages.page("job.html", ctx, request, "jobs", j=office.job(job_id), **_may(ctx))

    @r.get("/console/jobs/{job_id}/progress.json")
    def progress(job_id: str, ctx: Ctx = signed) -> JSONResponse:
        """A job's live progress (JSON, for the page's script)."""
        j = office.job(job_id)
        return JSONResponse({"status": j["status"], "live": j["live"]}, headers={"cache-control": "no-store"})

    @r.post("/console/jobs/{job_id}/approve")
    def approve(job_id: str, ctx: Ctx = signed, data: dict[str, list[str]] = body) -> Response:
        """Approve a job (a DPO who did not plan it)."""
        checked(ctx, data)
        office.approve_job(ctx.who, job_id)
        return redirect(f"/console/jobs/{job_id}", "approved")

    @r.get("/console/jobs/{job_id}/execute")
    def confirm(job_id: str, request: Request, ctx: Ctx = signed) -> Response:
        """The confirmation before a job executes."""
        j = office.job(job_id)
        if j["status"] != "approved":
            return redirect(f"/console/jobs/{job_id}")
        rows = sum(int(s["rows"]) for s in j["planned"])
        return pages.page("confirm.html", ctx, request, "jobs", j=j, rows=rows)

    @r.post("/console/jobs/{job_id}/execute")
    def execute(job_id: str, ctx: Ctx = signed, data: dict[str, list[str]] = body) -> Response:
        """Execute an approved job (DPO; needs the confirmation)."""
        checked(ctx, data)
        if field(data, "confirm") != "yes":
            return redirect(f"/console/jobs/{job_id}/execute")
        office.start_job(ctx.who, job_id)
        return redirect(f"/console/jobs/{job_id}", "started")

    return r


def _may(ctx: Ctx) -> dict[str, Any]:
    return {k: staff_may(ctx.who.role, a) for k, a in (("can_approve", "remediation.approve"),
                                                       ("can_execute", "remediation.execute"))}


def _sev_rank(s: str) -> int:
    return {"critical": 0, "high": 1, "medium": 2, "low": 3}.get(s, 9)
