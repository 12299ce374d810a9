"""What every console page shares: the templates, the signed-in staff member, forms and errors.

    ctx = Depends(pages.signed_in)          # the Account, its session id and its CSRF token, or a redirect
    data = Depends(pages.form)              # an urlencoded form (64 KiB at most), every value a list
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from tutela.errors import InputError
from tutela.models import Office
from tutela.web import security

MAX_FORM = 64 * 1024
FLASH = {  # fixed messages after a POST (the page never echoes input back in a flash)
    "planned": "Dry run planned: the job awaits a second DPO's approval.",
    "approved": "Approved.", "started": "The job is running.", "audited": "The estate was audited again.",
    "created": "Request created: it awaits another staff member's approval.", "rejected": "Rejected.",
    "extended": "The deadline was extended.", "answered": "The request was answered.",
    "signedout": "Signed out.",
}


@dataclass(frozen=True)
class Ctx:
    who: Any  # tutela.models.StaffAccount (name, role)
    session_id: str
    csrf: str


class SignInNeeded(Exception):
    def __init__(self, next_path: str):
        super().__init__(next_path)
        self.next_path = next_path


class Pages:
    def __init__(self, office: Office | None):
        self.office = office
        self.env = Environment(loader=PackageLoader("tutela.web", "templates"),
                               autoescape=select_autoescape(default=True, default_for_string=True))

    def render(self, template: str, code: int = 200, /, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**ctx)
        return HTMLResponse(html, status_code=code, headers=security.HEADERS)

    def page(self, name: str, ctx: Ctx, request: Request, page: str, **more: Any) -> HTMLResponse:
        flash = FLASH.get(request.query_params.get("ok", ""))
        return self.render(name, who=ctx.who, csrf=ctx.csrf, page=page, flash=flash, **more)

    def context(self, request: Request) -> Ctx | None:
        sid = request.cookies.get(security.SESSION)
        who = self.office.account(sid) if self.office is not None else None
        return None if who is None or sid is None else Ctx(who, sid, security.session_token(sid))

    def signed_in(self, request: Request) -> Ctx:
        ctx = self.context(request)
        if ctx is None:
            raise SignInNeeded(request.url.path if request.method == "GET" else "/console")
        return ctx


async def form(request: Request) -> dict[str, list[str]]:
    """The urlencoded body of a form; an input error when it is too large or not text."""
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise InputError(f"the form is larger than {MAX_FORM // 1024} KiB", where="body")
    try:
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise InputError("the form is not valid urlencoded text", where="body") from None


def field(data: dict[str, list[str]], name: str, default: str = "") -> str:
    values = data.get(name)
    return values[0].strip() if values else default


def checked(ctx: Ctx, data: dict[str, list[str]]) -> None:
    """CsrfRejected unless the form carries this session's token."""
    security.check(ctx.csrf, field(data, "csrf") or None)


def redirect(path: str, ok: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?ok={ok}" if ok else path, status_code=303)


def signin_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/console/signin?next={quote(next_path, safe='/')}", status_code=303)
