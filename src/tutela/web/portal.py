"""The parent portal (`/portal`, docs/portal.md): a parent signs in by a magic link, sees each of
their children's data categories, recipients and grants (with history), grants and revokes
scopes, downloads the child's data and deletes it. The consent link's page (`/portal/consent`)
lives here too.

Links carry their token in the URL fragment, which browsers never send: the page's script moves it
into a form and POSTs it, so no server or proxy log holds it. Forms before sign-in carry a
double-submit token, signed-in forms the session's (web/security.py); sign-in requests and link
uses are rate limited per client and per address.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from tutela import settings
from tutela.engine import Engine
from tutela.errors import InputError, NotAllowed
from tutela.models import ParentPortal, RateLimiter
from tutela.web import security
from tutela.web.pages import Pages, field, form

PARENT = "tutela_parent"  # the portal's session cookie (the console's is separate)
SIGNIN_CLIENT = RateLimiter(limit=10, window=600)  # sign-in emails per client address
SIGNIN_EMAIL = RateLimiter(limit=3, window=600)  # sign-in emails per address (its digest is the key)
LINKS_CLIENT = RateLimiter(limit=20, window=600)  # links used (sign-in or consent) per client address
FLASH = {"granted": "Consent given. A confirmation email is on its way.", "revoked": "Consent withdrawn: it stopped "
         "counting at once.", "signedout": "Signed out."}


class Parent:
    def __init__(self, gid: str, sid: str):
        self.gid, self.sid, self.csrf = gid, sid, security.session_token(sid)


def router(engine: Engine, pages: Pages, portal: ParentPortal) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    def render(request: Request, name: str, status: int = 200, parent: Parent | None = None,
               **ctx: Any) -> Response:
        token, new = security.form_token(request)
        flash = FLASH.get(request.query_params.get("ok", ""))
        resp = pages.render(name, status, who=None, page="portal", flash=flash, form_token=token,
                            csrf=parent.csrf if parent else token, signed_in=parent is not None, **ctx)
        if new:
            security.set_cookie(resp, request, security.FORM, token, max_age=3600)
        return resp

    def limited(request: Request, limiter: RateLimiter, key: str, page: str, **ctx: Any) -> Response | None:
        wait = limiter.hit(key)
        if not wait:
            return None
        resp = render(request, page, 429, error="Too many attempts. Please try again later.", **ctx)
        resp.headers["retry-after"] = str(wait)
        return resp

    def parent(request: Request) -> Parent | None:
        sid = request.cookies.get(PARENT)
        gid = portal.guardian(sid)
        return None if gid is None or sid is None else Parent(gid, sid)

    def signed_in(request: Request) -> Parent:
        who = parent(request)
        if who is None:
            raise NotAllowed("sign in to the parent portal first", where="session",
                             hint="ask for a sign-in link at /portal")
        return who

    def double_submit(request: Request, data: dict[str, list[str]]) -> None:
        security.check(request.cookies.get(security.FORM), field(data, "csrf") or None)

    @r.get("/consent")
    def consent_link() -> RedirectResponse:
        """Consent emails point here by default: on to the portal's page (the browser keeps the fragment)."""
        return RedirectResponse("/portal/consent", status_code=303)

    @r.get("/portal")
    def home(request: Request) -> Response:
        """Signed in: the parent's children; otherwise the sign-in form."""
        who = parent(request)
        if who is None:
            return render(request, "portal_signin.html")
        return render(request, "portal_home.html", parent=who, children=portal.children(who.gid))

    @r.post("/portal/signin")
    def signin(request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """Email a sign-in link when the address is a parent's the consent store knows (same answer either way)."""
        double_submit(request, data)
        email = field(data, "email")[:254]
        if "@" not in email:
            return render(request, "portal_signin.html", 422, error="Please enter your email address.")
        key = hashlib.sha256(email.lower().encode()).hexdigest()
        for limiter, k in ((SIGNIN_CLIENT, security.client(request)), (SIGNIN_EMAIL, key)):
            out = limited(request, limiter, k, "portal_signin.html")
            if out is not None:
                return out
        base = settings.text("TUTELA_PORTAL_LINK_BASE") or f"{str(request.base_url).rstrip('/')}/portal/link"
        portal.send_sign_in(email, base)
        return render(request, "portal_signin.html", sent=True)

    @r.get("/portal/link")
    def link_page(request: Request) -> Response:
        """The sign-in link's page: its script posts the fragment's token."""
        return render(request, "portal_fragment.html", action="/portal/link", heading="Signing you in")

    @r.post("/portal/link")
    def use_link(request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """Use a sign-in link (single use, expiring): a session cookie, then the portal."""
        double_submit(request, data)
        out = limited(request, LINKS_CLIENT, security.client(request), "portal_signin.html")
        if out is not None:
            return out
        try:
            sid = portal.redeem(field(data, "token"))
        except InputError:
            return render(request, "portal_signin.html", 422, error="This sign-in link is used or expired. "
                          "Ask for a new one below.")
        resp = RedirectResponse("/portal", status_code=303)
        hours = settings.positive_int("TUTELA_PORTAL_SESSION_HOURS", 12)
        security.set_cookie(resp, request, PARENT, sid, max_age=hours * 3600)
        return resp

    @r.post("/portal/signout")
    def signout(request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """End the parent's session (on the server too)."""
        who = signed_in(request)
        security.check(who.csrf, field(data, "csrf") or None)
        portal.sign_out(who.sid)
        resp = RedirectResponse("/portal?ok=signedout", status_code=303)
        resp.delete_cookie(PARENT, path="/")
        return resp

    # -- the consent link -------------------------------------------------------------------
    @r.get("/portal/consent")
    def consent_page(request: Request) -> Response:
        """The consent link's page: its script posts the fragment's token for review."""
        return render(request, "portal_fragment.html", action="/portal/consent/review",
                      heading="Your consent is asked")

    @r.post("/portal/consent/review")
    def consent_review(request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """What the link asks for (the link stays unused): each scope to tick, or not."""
        double_submit(request, data)
        out = limited(request, LINKS_CLIENT, security.client(request), "portal_consent.html", ask=None)
        if out is not None:
            return out
        token = field(data, "token")
        try:
            ask = engine.consent.peek(token)
        except InputError:
            return render(request, "portal_consent.html", 422, ask=None,
                          error="This consent link is used or expired. Ask your child's app for a new one.")
        return render(request, "portal_consent.html", ask=ask, token=token)

    @r.post("/portal/consent/confirm")
    def consent_confirm(request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """The parent's answer: consent to the ticked scopes (the link is used), or none (it stays unused)."""
        double_submit(request, data)
        token = field(data, "token")
        if field(data, "answer") != "yes":
            return render(request, "portal_consent.html", ask=None, declined=True)
        chosen = [s for s in data.get("scope", []) if s]
        if not chosen:
            ask = engine.consent.peek(token)
            return render(request, "portal_consent.html", 422, ask=ask, token=token,
                          error="Tick what you agree to, or choose “I do not consent”.")
        try:
            done = engine.consent.confirm(token, scopes=chosen)
        except InputError as exc:
            if exc.where != "token":
                raise
            return render(request, "portal_consent.html", 422, ask=None,
                          error="This consent link is used or expired. Ask your child's app for a new one.")
        return render(request, "portal_consent.html", ask=None, done=done,
                      titles={s: engine.consent.book.scopes[s].title for s in done["granted"]})

    # -- a child ---------------------------------------------------------------------------
    @r.get("/portal/children/{subject}")
    def child(subject: str, request: Request) -> Response:
        """One child's data categories, recipients, grants (with history) and choices."""
        who = signed_in(request)
        return render(request, "portal_child.html", parent=who, child=portal.child(who.gid, subject))

    def posted(request: Request, data: dict[str, list[str]]) -> Parent:
        who = signed_in(request)
        security.check(who.csrf, field(data, "csrf") or None)
        return who

    @r.post("/portal/children/{subject}/grant")
    def grant(subject: str, request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """Give consent to one scope, as the child's verified guardian."""
        who = posted(request, data)
        portal.grant(who.gid, subject, field(data, "scope"))
        return RedirectResponse(f"/portal/children/{subject}?ok=granted", status_code=303)

    @r.post("/portal/children/{subject}/revoke")
    def revoke(subject: str, request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """Withdraw consent to one scope: it stops counting at once."""
        who = posted(request, data)
        portal.revoke(who.gid, subject, field(data, "scope"))
        return RedirectResponse(f"/portal/children/{subject}?ok=revoked", status_code=303)

    @r.post("/portal/children/{subject}/download")
    def download(subject: str, request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """The child's data as a JSON file (an access request, run at once)."""
        who = posted(request, data)
        export = portal.download(who.gid, subject)
        body = json.dumps(export, indent=2, default=str, ensure_ascii=False)
        return Response(body, media_type="application/json", headers={
            **security.HEADERS, "content-disposition": 'attachment; filename="child-data.json"'})

    @r.post("/portal/children/{subject}/delete")
    def delete(subject: str, request: Request, data: dict[str, list[str]] = Depends(form)) -> Response:
        """Delete the child's account and data (an erasure, run at once); the receipt."""
        who = posted(request, data)
        if field(data, "understood") != "yes":
            return render(request, "portal_child.html", 422, parent=who, child=portal.child(who.gid, subject),
                          error="Tick the box to confirm that the deletion cannot be undone.")
        done = portal.delete(who.gid, subject)
        return render(request, "portal_deleted.html", parent=who, subject=subject, done=done)

    return r
