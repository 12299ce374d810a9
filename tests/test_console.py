"""The console over HTTP (TestClient on the real app, a generated ClipStream estate, a real
SQLite state store, Redis): sign-in, cookies, CSRF, rate limits, the role matrix on every POST,
four-eyes through the pages and the API, exports, and pages that show the estate as it is now."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from console_fixture import AS_OF, PASSWORD, ConsoleEstate, console_estate
from tutela.engine import Engine
from tutela.web import create_app
from tutela.web.console import SIGNIN_LIMIT_CLIENT, SIGNIN_LIMIT_NAME

ALICE_TOKEN, BOB_TOKEN = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef"
AUD_TOKEN = "aud-token-0123456789abcdef0"


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleEstate]:
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TUTELA_STAFF_TOKENS", f"alice={ALICE_TOKEN},bob={BOB_TOKEN},aud={AUD_TOKEN}")
    with console_estate(tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state_url)
        yield e


@pytest.fixture
def app(estate: ConsoleEstate, engine: Engine) -> Iterator[TestClient]:
    SIGNIN_LIMIT_NAME._hits.clear()
    SIGNIN_LIMIT_CLIENT._hits.clear()
    with TestClient(create_app(engine, estate=estate.config(), as_of=AS_OF), base_url="https://testserver") as c:
        yield c


def token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def sign_in(base: TestClient, name: str) -> TestClient:
    c = TestClient(base.app, base_url="https://testserver")
    page = c.get("/console/signin")
    r = c.post("/console/signin", data={"csrf": token(page.text), "name": name, "password": PASSWORD})
    assert r.status_code == 200 and 'id="who">' + name in r.text, r.text[:300]
    return c


def post(c: TestClient, path: str, **data: str | list[str]) -> httpx.Response:
    page = c.get("/console")
    r: httpx.Response = c.post(path, data={"csrf": token(page.text), **data}, follow_redirects=True)
    return r


def test_pages_need_a_session_and_cookies_are_strict(app: TestClient) -> None:
    r = app.get("/console/findings", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/signin?next=/console/findings"
    for path in ("/report", "/console/export/findings.csv", "/console/export/requests.csv"):
        assert app.get(path, follow_redirects=False).status_code == 303, path  # findings are for staff only
    assert app.get("/report", follow_redirects=False).headers["location"] == "/console/signin?next=/report"
    page = app.get("/console/signin")
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]
    r = app.post("/console/signin", data={"csrf": token(page.text), "name": "alice", "password": PASSWORD,
                                          "next": "https://evil.example/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console"  # never off-site after sign-in
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("tutela_session=") and all(f in cookie for f in ("HttpOnly", "SameSite=strict", "Secure"))
    assert "content-security-policy" in page.headers and page.headers["x-frame-options"] == "DENY"
    plain = TestClient(app.app, base_url="http://testserver").get("/console/signin")
    assert "Secure" not in plain.headers["set-cookie"]  # plain http (no TLS proxy setting): not Secure


def test_sign_in_failures_csrf_and_rate_limit(app: TestClient) -> None:
    page = app.get("/console/signin")
    csrf = token(page.text)
    wrong = app.post("/console/signin", data={"csrf": csrf, "name": "alice", "password": "nope-nope-nope"})
    assert wrong.status_code == 401 and "The name or the password is wrong." in wrong.text
    for bad in ({}, {"csrf": "forged" * 8}):
        r = app.post("/console/signin", data={**bad, "name": "alice", "password": PASSWORD})
        assert r.status_code == 403 and "security token is missing or does not match" in r.text
    for _ in range(5):  # five attempts per name in five minutes
        app.post("/console/signin", data={"csrf": csrf, "name": "bob", "password": "guess-guess-guess"})
    limited = app.post("/console/signin", data={"csrf": csrf, "name": "bob", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0  # the right password too
    assert "Too many sign-in attempts" in limited.text


def test_csrf_is_checked_on_every_signed_in_form(app: TestClient) -> None:
    alice = sign_in(app, "alice")
    for path in ("/console/audits", "/console/jobs", "/console/requests", "/console/signout"):
        for data in ({}, {"csrf": "0" * 64}):
            r = alice.post(path, data=data)
            assert r.status_code == 403 and "security token is missing or does not match" in r.text, path
    assert alice.get("/console").status_code == 200  # still signed in: a rejected sign-out changed nothing
    post(alice, "/console/signout")
    assert alice.get("/console", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(("who", "path", "data"), [
    ("aud", "/console/audits", {}), ("aud", "/console/jobs", {"rules": "x"}),
    ("aud", "/console/requests", {"kind": "access", "subject": "1"}),
    ("aud", "/console/requests/x/approve", {}), ("aud", "/console/requests/x/run", {}),
    ("aud", "/console/jobs/x/approve", {}), ("aud", "/console/jobs/x/execute", {"confirm": "yes"}),
    ("sam", "/console/audits", {}), ("sam", "/console/jobs", {"rules": "x"}),
    ("sam", "/console/jobs/x/approve", {}), ("sam", "/console/jobs/x/execute", {"confirm": "yes"}),
])
def test_role_matrix_on_the_pages(app: TestClient, who: str, path: str, data: dict[str, str]) -> None:
    c = sign_in(app, who)
    r = post(c, path, **data)
    assert r.status_code == 403, (path, r.text[:300])
    assert "needs the role" in r.text


def test_four_eyes_and_current_state_through_the_pages(app: TestClient) -> None:
    alice, bob = sign_in(app, "alice"), sign_in(app, "bob")
    overview = alice.get("/console").text
    rules_before = int(re.search(r'id="n-rules">(\d+)<', overview).group(1))  # type: ignore[union-attr]  # re.search: the page must hold it
    children = int(re.search(r'id="n-children">([\d,]+)<', overview).group(1).replace(",", ""))  # type: ignore[union-attr]  # re.search: the page must hold it
    assert rules_before > 0 and children > 0
    findings = alice.get("/console/findings").text
    first = re.search(r'href="/console/findings/([^"]+)"', findings).group(1)  # type: ignore[union-attr]  # re.search: the page must hold it
    detail = alice.get(f"/console/findings/{first}").text
    assert "sev-critical" in detail and 'id="citation"' in detail and 'id="repairs"' in detail
    every = re.findall(r'name="rules" value="([^"]+)"', findings)
    planned = post(alice, "/console/jobs", rules=every)
    assert planned.status_code == 200 and "pending_approval" in planned.text
    job = re.search(r"/console/jobs/([0-9a-f]{16})", str(planned.url)).group(1)  # type: ignore[union-attr]  # re.search: the page must hold it
    assert 'id="four-eyes"' in planned.text and 'id="approve"' not in planned.text
    own = post(alice, f"/console/jobs/{job}/approve")
    assert own.status_code == 403 and "four-eyes: `alice` created job" in own.text
    early = post(bob, f"/console/jobs/{job}/execute", confirm="yes")
    assert early.status_code == 422 and "only an approved job can start" in early.text
    assert post(bob, f"/console/jobs/{job}/approve").status_code == 200
    unconfirmed = post(bob, f"/console/jobs/{job}/execute")
    assert "I have read the plan" in unconfirmed.text  # back to the confirmation
    assert post(bob, f"/console/jobs/{job}/execute", confirm="yes").status_code == 200
    deadline = time.monotonic() + 300
    while True:
        live = bob.get(f"/console/jobs/{job}/progress.json").json()
        if (live["live"] and live["live"]["message"] == "done") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert live["status"] == "done", live
    after = alice.get("/console").text
    assert 'id="n-rules">0<' in after and 'id="n-children">0<' in after
    assert 'id="n-rules">0</b>rules breached' in alice.get("/report").text  # /report is the current state too
    csv_rows = list(csv.reader(io.StringIO(alice.get("/console/export/findings.csv").text)))
    assert csv_rows == [["rule", "title", "severity", "status", "children", "subjects", "rows", "countries",
                         "instrument", "section", "url", "audited_at"]]


def test_four_eyes_on_requests_through_the_pages_and_the_api(app: TestClient) -> None:
    sam, alice, aud = sign_in(app, "sam"), sign_in(app, "alice"), sign_in(app, "aud")
    made = post(sam, "/console/requests", kind="access", subject="1", ref="T-7")
    assert made.status_code == 200 and "pending_approval" in made.text
    rid = re.search(r"/console/requests/([0-9a-f]{16})", str(made.url)).group(1)  # type: ignore[union-attr]  # re.search: the page must hold it
    assert post(sam, f"/console/requests/{rid}/approve").status_code == 403
    assert post(alice, f"/console/requests/{rid}/approve").status_code == 200
    done = post(alice, f"/console/requests/{rid}/run")
    assert 'id="request-status">done<' in done.text
    queue = aud.get("/console/requests").text
    assert rid in queue and 'id="new-request"' not in queue  # the auditor reads, cannot create
    rows = list(csv.DictReader(io.StringIO(aud.get("/console/export/requests.csv").text)))
    assert [(r["id"], r["status"], r["created_by"], r["decided_by"]) for r in rows] == [(rid, "done", "sam", "alice")]
    bad = post(sam, "/console/requests", kind="erasure", subject="1")
    assert bad.status_code == 422 and "an erasure needs a `scope`" in bad.text
    api = TestClient(app.app)
    made_api = api.post("/v1/requests", json={"kind": "access", "subject": "2"},
                        headers={"Authorization": f"Bearer {ALICE_TOKEN}"}).json()
    own = api.post(f"/v1/requests/{made_api['id']}/approve", headers={"Authorization": f"Bearer {ALICE_TOKEN}"})
    assert own.status_code == 403 and own.json()["error"] == "NotAllowed"
    assert "four-eyes" in own.json()["message"]
    ok = api.post(f"/v1/requests/{made_api['id']}/approve", headers={"Authorization": f"Bearer {BOB_TOKEN}"})
    assert ok.status_code == 200 and ok.json()["decided_by"] == "bob"
    auditor = {"Authorization": f"Bearer {AUD_TOKEN}"}  # the token of a console auditor reads, changes nothing
    assert api.get("/v1/requests", headers=auditor).status_code == 200
    for path, body in (("/v1/requests", {"kind": "access", "subject": "3"}),
                       (f"/v1/requests/{made_api['id']}/run", {}), (f"/v1/requests/{rid}/reject", {"reason": "x"})):
        refused = api.post(path, json=body, headers=auditor)
        assert refused.status_code == 403 and refused.json()["error"] == "NotAllowed", path
        assert "`aud` is auditor" in refused.json()["message"]


def test_read_pages_and_csv_cells_are_safe(app: TestClient) -> None:
    aud = sign_in(app, "aud")
    for path, marker in (("/console/datamap", "<svg"), ("/console/rulebook", 'id="jurisdictions"'),
                         ("/console/rulebook/NL", "Age of digital consent"), ("/console/ledger", 'id="ledger-status"'),
                         ("/console/consent", 'id="consent-asked"'), ("/console/evidence", 'id="evidence-download"'),
                         ("/console/jobs", 'id="jobs"')):
        r = aud.get(path)
        assert r.status_code == 200 and marker in r.text, path
    missing = aud.get("/console/rulebook/XX")
    assert missing.status_code == 422 and "XX" in missing.text and "Traceback" not in missing.text
    assert aud.get("/console/findings/NOPE").status_code == 422
    from tutela.web.desk import _cell

    assert [_cell(v) for v in ("=HYPERLINK(1)", "+1", "-1", "@x", "plain", None, 3)] == [
        "'=HYPERLINK(1)", "'+1", "'-1", "'@x", "plain", "", "3"]


def test_an_auditor_can_post_nothing_but_sign_out(app: TestClient) -> None:
    """Every POST route of the console, found in the app itself, refuses an auditor with 403."""
    from tutela.web import console, desk
    from tutela.web.pages import Pages

    aud = sign_in(app, "aud")
    # the routers are only walked for their routes here: no office or pages object is needed
    routers = [console.router(None, Pages(None)), desk.router(Engine(), None, Pages(None))]  # type: ignore[arg-type]
    routes = [r.path for router in routers for r in router.routes if isinstance(r, APIRoute)
              and "POST" in (r.methods or ()) and r.path not in ("/console/signin", "/console/signout")]
    assert len(routes) >= 6
    for path in routes:
        concrete = path.replace("{action}", "approve").replace("{job_id}", "x").replace("{request_id}", "x")
        r = post(aud, concrete, rules="x", kind="access", subject="1", confirm="yes")
        assert r.status_code == 403 and "aud` is auditor" in r.text, (path, r.text[:300])


def test_the_evidence_pack_downloads_from_the_console_and_verifies(app: TestClient, tmp_path: Path) -> None:
    import zipfile

    from tutela.engine import Engine

    aud = sign_in(app, "aud")  # read-only staff may take the pack: counts and pseudonyms only
    r = aud.get("/console/evidence/pack.zip", params={"since": "2026-01-01", "until": "2026-12-31"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert 'filename="tutela-evidence-2026-01-01-2026-12-31.zip"' in r.headers["content-disposition"]
    pack = tmp_path / "pack.zip"
    pack.write_bytes(r.content)
    assert Engine().evidence.verify(pack).ok
    with zipfile.ZipFile(pack) as z:
        assert "index.html" in z.namelist() and "consent.json" in z.namelist()
    bad = aud.get("/console/evidence/pack.zip", params={"since": "2026-13-01", "until": "2026-12-31"})
    assert bad.status_code == 422 and "expected YYYY-MM-DD" in bad.text
    backwards = aud.get("/console/evidence/pack.zip", params={"since": "2026-12-31", "until": "2026-01-01"})
    assert backwards.status_code == 422 and "starts" in backwards.text
