"""The parent portal over HTTP (TestClient on the real app, a generated ClipStream estate, a real
SQLite state store, a real SMTP sink): the consent link's page, magic-link sign-in (single use,
expiring, rate limited), grants and revocations flipping the decision, download and deletion
through the rights desk, and the security matrix: every portal route, taken from the router, for
another parent's child answers 403/404; a form without its CSRF token answers 403."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from console_fixture import AS_OF, console_estate
from smtp_sink import Sink, smtp_sink
from tutela.consent import ConsentDesk, SmtpMailer
from tutela.engine import Engine
from tutela.store import StateStore
from tutela.web import create_app
from tutela.web.portal import LINKS_CLIENT, SIGNIN_CLIENT, SIGNIN_EMAIL

ANNA, BART = "anna.parent@example.org", "bart.parent@example.org"
LOCATION = {"category": "user.location.precise", "use": "functional"}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sink: Sink) -> Iterator[tuple[TestClient, Engine, Clock]]:
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    for limiter in (SIGNIN_CLIENT, SIGNIN_EMAIL, LINKS_CLIENT):
        limiter._hits.clear()
    with console_estate(tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state_url)
        eng = Engine()
        clock = Clock()
        eng.consent = ConsentDesk(eng.rulebook, StateStore(e.state_url), mailer=SmtpMailer(sink.host, sink.port),
                                  clock=clock)
        with TestClient(create_app(eng, estate=e.config(), as_of=AS_OF), base_url="https://testserver") as c:
            yield c, eng, clock
        eng.consent.close()


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def decide(eng: Engine, subject: str) -> str:
    return eng.decide({"subject": {"id": subject, "jurisdiction": "NL", "age": 12}, "act": LOCATION}).effect


def verify(app: TestClient, sink: Sink, email: str) -> None:
    """The parent opens the consent link: the page, the review (the link unused), consent to the account."""
    c = TestClient(app.app, base_url="https://testserver")
    form = c.get("/portal/consent")
    assert form.status_code == 200 and 'id="fragment-form"' in form.text
    review = c.post("/portal/consent/review", data={"csrf": csrf(form.text), "token": sink.token(email)})
    assert review.status_code == 200 and 'id="consent"' in review.text
    assert "checked" not in review.text.replace('type="checkbox"', "")  # nothing ticked for the parent
    done = c.post("/portal/consent/confirm", data={"csrf": csrf(review.text), "token": sink.token(email),
                                                   "scope": "account", "answer": "yes"})
    assert done.status_code == 200 and 'id="consent-done"' in done.text, done.text[:500]


def sign_in(app: TestClient, sink: Sink, email: str) -> TestClient:
    c = TestClient(app.app, base_url="https://testserver")
    page = c.get("/portal")
    sent = c.post("/portal/signin", data={"csrf": csrf(page.text), "email": email})
    assert sent.status_code == 200 and 'id="signin-sent"' in sent.text
    link = c.get("/portal/link")
    r = c.post("/portal/link", data={"csrf": csrf(link.text), "token": sink.token(email)}, follow_redirects=False)
    assert r.status_code == 303 and "tutela_parent" in r.headers["set-cookie"], r.text[:300]
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
    return c


def family(app: TestClient, eng: Engine, sink: Sink) -> tuple[TestClient, TestClient]:
    """Child 1 (Anna's) and child 2 (Bart's), each verified by the consent link; both parents signed in."""
    eng.consent.sign_up("1", "NL", 12, parent_email=ANNA)
    eng.consent.sign_up("2", "NL", 12, parent_email=BART)
    verify(app, sink, ANNA)
    verify(app, sink, BART)
    return sign_in(app, sink, ANNA), sign_in(app, sink, BART)


def test_grant_revoke_download_delete(world: tuple[TestClient, Engine, Clock], sink: Sink) -> None:
    app, eng, _ = world
    anna, _bart = family(app, eng, sink)
    home = anna.get("/portal")
    assert 'data-subject="1"' in home.text and 'data-subject="2"' not in home.text
    page = anna.get("/portal/children/1")
    assert page.status_code == 200 and "<code>user." in page.text
    assert 'id="recipients"' in page.text
    assert decide(eng, "1") == "deny"
    r = anna.post("/portal/children/1/grant", data={"csrf": csrf(page.text), "scope": "precise_location"})
    assert r.status_code == 200 and "Consent given" in r.text
    assert decide(eng, "1") != "deny"
    assert "You consented to: Precise geolocation" in sink.bodies(ANNA)[-1]
    r = anna.post("/portal/children/1/revoke", data={"csrf": csrf(r.text), "scope": "precise_location"})
    assert r.status_code == 200 and "withdrawn" in r.text
    assert decide(eng, "1") == "deny"
    assert re.search(r"location: <b>off</b>", r.text)  # a grant unlocks the setting; it never switched it on
    history = re.findall(r'<tr data-scope="precise_location"><td>.*?class="state">(\w+)',
                         r.text.split('id="history"')[1], re.S)
    assert history == ["revoked"]  # the history keeps the revoked grant
    got = anna.post("/portal/children/1/download", data={"csrf": csrf(r.text)})
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    export = json.loads(got.text)
    assert export["subject"] == "1" and export["complete"] is True and export["rows"]
    req = eng.requests().list(subject="1")
    assert req and all(x["requester"]["kind"] == "parent" and x["approval"] == "parent" and x["status"] == "done"
                       for x in req)
    refused = anna.post("/portal/children/1/delete", data={"csrf": csrf(r.text)})
    assert refused.status_code == 422 and "cannot be undone" in refused.text
    gone = anna.post("/portal/children/1/delete", data={"csrf": csrf(r.text), "understood": "yes"})
    assert gone.status_code == 200 and 'id="receipt">' in gone.text, gone.text[:500]
    assert re.search(r'id="receipt">[0-9a-f]{64}<', gone.text)


def _portal_routes(app: TestClient) -> list[tuple[str, str]]:
    """Every route of a child, as the portal's router declares them (not a list kept by hand)."""
    from tutela.web import portal
    from tutela.web.pages import Pages

    eng = Engine()
    out = []
    for r in portal.router(eng, Pages(None), eng.portal()).routes:
        if isinstance(r, Route) and r.path.startswith("/portal/children/{subject}"):
            out.extend((m, r.path) for m in sorted(r.methods or ()) if m != "HEAD")
    return out


def test_a_parent_sees_only_their_own_children(world: tuple[TestClient, Engine, Clock], sink: Sink) -> None:
    app, eng, _ = world
    anna, bart = family(app, eng, sink)
    routes = _portal_routes(app)
    assert {p for _, p in routes} >= {"/portal/children/{subject}", "/portal/children/{subject}/grant",
                                      "/portal/children/{subject}/revoke", "/portal/children/{subject}/download",
                                      "/portal/children/{subject}/delete"}
    token = csrf(anna.get("/portal").text)
    form: dict[str, Any] = {"csrf": token, "scope": "precise_location", "understood": "yes"}
    for method, path in routes:
        for subject in ("2", "999999", "..%2F1"):  # another parent's child, nobody's, a crafted id
            url = path.replace("{subject}", subject)
            r = anna.request(method, url, data=form if method == "POST" else None)
            assert r.status_code in (403, 404), (method, url, r.status_code, r.text[:300])
            assert "Traceback" not in r.text
        anon = TestClient(app.app, base_url="https://testserver")
        r = anon.request(method, path.replace("{subject}", "1"), data=form if method == "POST" else None)
        assert r.status_code == 403, (method, path, r.status_code)
    # nothing happened to Bart's child
    assert [g.scope for g in eng.consent.grants("2")] == ["account"]
    assert eng.requests().list(subject="2") == []
    assert 'data-subject="2"' in bart.get("/portal").text


def test_forms_without_their_csrf_token_are_refused(world: tuple[TestClient, Engine, Clock], sink: Sink) -> None:
    app, eng, _ = world
    anna, _ = family(app, eng, sink)
    for method, path in _portal_routes(app):
        if method != "POST":
            continue
        url = path.replace("{subject}", "1")
        for data in ({"scope": "precise_location"}, {"csrf": "x" * 43, "scope": "precise_location"}):
            r = anna.post(url, data=data)
            assert r.status_code == 403 and "security token" in r.text, (url, r.status_code)
    assert [g.scope for g in eng.consent.grants("1")] == ["account"]
    out = anna.post("/portal/signout", data={})
    assert out.status_code == 403 and 'data-subject="1"' in anna.get("/portal").text  # still signed in
    fresh = TestClient(app.app, base_url="https://testserver")
    for path in ("/portal/signin", "/portal/link", "/portal/consent/review", "/portal/consent/confirm"):
        assert fresh.post(path, data={"email": ANNA, "token": "t" * 43}).status_code == 403, path


def test_sign_in_links_are_single_use_expire_and_are_rate_limited(world: tuple[TestClient, Engine, Clock],
                                                                  sink: Sink) -> None:
    app, eng, clock = world
    eng.consent.sign_up("1", "NL", 12, parent_email=ANNA)
    verify(app, sink, ANNA)
    c = TestClient(app.app, base_url="https://testserver")
    page = c.get("/portal")
    c.post("/portal/signin", data={"csrf": csrf(page.text), "email": ANNA})
    token = sink.token(ANNA)
    assert token not in json.dumps([dict(r) for r in _rows(eng, "portal_signins")], default=str)  # only its hash
    ok = c.post("/portal/link", data={"csrf": csrf(page.text), "token": token}, follow_redirects=False)
    assert ok.status_code == 303
    again = TestClient(app.app, base_url="https://testserver")
    p2 = again.get("/portal")
    reused = again.post("/portal/link", data={"csrf": csrf(p2.text), "token": token}, follow_redirects=False)
    assert reused.status_code == 422 and "used or expired" in reused.text
    assert "tutela_parent" not in reused.headers.get("set-cookie", "")
    again.post("/portal/signin", data={"csrf": csrf(p2.text), "email": ANNA})
    late = sink.token(ANNA)
    clock.now += dt.timedelta(minutes=31)
    expired = again.post("/portal/link", data={"csrf": csrf(p2.text), "token": late}, follow_redirects=False)
    assert expired.status_code == 422 and "used or expired" in expired.text
    # a session expires too
    clock.now += dt.timedelta(hours=12)
    assert c.get("/portal/children/1").status_code == 403
    # an unknown address gets the same answer and no email
    before = len(sink.messages)
    r = again.post("/portal/signin", data={"csrf": csrf(p2.text), "email": "nobody@example.org"})
    assert r.status_code == 200 and 'id="signin-sent"' in r.text and len(sink.messages) == before
    # three emails per address per ten minutes
    third = again.post("/portal/signin", data={"csrf": csrf(p2.text), "email": ANNA})
    assert third.status_code == 200
    limited = again.post("/portal/signin", data={"csrf": csrf(p2.text), "email": ANNA})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


def _rows(eng: Engine, table: str) -> list[Any]:
    import sqlalchemy as sa

    with eng.consent.state.engine.connect() as conn:
        return list(conn.execute(sa.text(f"select * from {table}")).mappings().all())


def test_a_consent_link_is_refused_once_used(world: tuple[TestClient, Engine, Clock], sink: Sink) -> None:
    app, eng, _ = world
    eng.consent.sign_up("1", "NL", 12, parent_email=ANNA)
    verify(app, sink, ANNA)
    c = TestClient(app.app, base_url="https://testserver")
    form = c.get("/portal/consent")
    r = c.post("/portal/consent/review", data={"csrf": csrf(form.text), "token": sink.token(ANNA)})
    assert r.status_code == 422 and "used or expired" in r.text
    declined = c.post("/portal/consent/confirm", data={"csrf": csrf(form.text), "token": "x" * 43, "answer": "no"})
    assert declined.status_code == 200 and 'id="consent-declined"' in declined.text


def test_refusals_are_pages_and_nothing_changes(world: tuple[TestClient, Engine, Clock], sink: Sink) -> None:
    """A guardian not verified yet, a scope email plus cannot grant, a revocation with nothing live,
    an unknown scope: an HTML page naming the problem (403 or 422), never a 500, and no change."""
    app, eng, _ = world
    anna, _ = family(app, eng, sink)
    eng.consent.sign_up("3", "NL", 12, parent_email=ANNA)  # a second child, the link not opened yet
    page = anna.get("/portal/children/3")
    assert page.status_code == 200 and "no consent method has verified you" in page.text
    assert 'id="download"' not in page.text
    token = csrf(page.text)
    cases = [("/portal/children/3/grant", {"scope": "precise_location"}, 403, "has not verified you"),
             ("/portal/children/3/download", {}, 403, "has not verified you"),
             ("/portal/children/1/grant", {"scope": "targeted_ads"}, 403, "cannot give consent"),
             ("/portal/children/1/revoke", {"scope": "precise_location"}, 403, "no live grant"),
             ("/portal/children/1/grant", {"scope": "telepathy"}, 422, "telepathy")]
    for path, data, status, words in cases:
        r = anna.post(path, data={"csrf": token, **data})
        assert r.status_code == status and words in r.text, (path, r.status_code, r.text[:400])
        assert r.headers["content-type"].startswith("text/html")
    assert [g.scope for g in eng.consent.grants("1")] == ["account"] and eng.consent.grants("3") == []
    assert eng.requests().list(subject="3") == []


def test_only_a_parents_own_request_skips_the_staff_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`approval="parent"` is for a request a parent raised; any other request waits for staff."""
    from tutela.errors import InputError

    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    with console_estate(tmp_path, accounts=30) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state_url)
        rights = Engine().requests(e.config())
        with pytest.raises(InputError) as err:
            rights.create({"kind": "access", "subject": "1"}, by="guardian:x", approval="parent")
        assert err.value.where == "body.requester.kind"
        staff = rights.create({"kind": "access", "subject": "1", "requester": {"kind": "parent"}}, by="sam")
        own = rights.create({"kind": "access", "subject": "1", "requester": {"kind": "parent"}}, by="guardian:x",
                            approval="parent")
        assert (staff["status"], staff["approval"]) == ("pending_approval", "staff")
        assert (own["status"], own["approval"], own["decided_by"]) == ("approved", "parent", "guardian:x")
        assert rights.list(subject="1", status="approved")[0]["id"] == own["id"]
        rights.close()


def test_a_mail_relay_that_does_not_answer_is_a_503_and_no_link_exists(world: tuple[TestClient, Engine, Clock],
                                                                       sink: Sink) -> None:
    app, eng, _ = world
    eng.consent.sign_up("1", "NL", 12, parent_email=ANNA)
    verify(app, sink, ANNA)
    from smtp_sink import free_port

    eng.consent.mailer = SmtpMailer("127.0.0.1", free_port())  # nothing listens there
    c = TestClient(app.app, base_url="https://testserver")
    page = c.get("/portal")
    r = c.post("/portal/signin", data={"csrf": csrf(page.text), "email": ANNA})
    assert r.status_code == 503 and "cannot send" in r.text and "Traceback" not in r.text
    assert _rows(eng, "portal_signins") == []  # the link was never stored: no partial write


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_the_portal_facade_on_each_state_store(tmp_path: Path, sink: Sink, kind: str) -> None:
    """Sign-in links, sessions, children and grants on SQLite, PostgreSQL and MariaDB state stores."""
    from contextlib import nullcontext

    from estate_fixture import server_database
    from tutela.errors import InputError, NotAllowed

    ctx = nullcontext(f"sqlite:///{tmp_path / 'state.db'}") if kind == "sqlite" else server_database(kind)
    with ctx as url:
        eng = Engine()
        clock = Clock()
        eng.consent = ConsentDesk(eng.rulebook, StateStore(url), mailer=SmtpMailer(sink.host, sink.port), clock=clock)
        portal = eng.portal()
        eng.consent.sign_up("c1", "NL", 12, parent_email=ANNA)
        eng.consent.sign_up("c2", "NL", 12, parent_email=BART)
        eng.consent.confirm(sink.token(ANNA))
        assert portal.send_sign_in(ANNA.upper(), "https://app.example/portal/link") is True  # the address, any case
        assert portal.send_sign_in("nobody@example.org", "https://app.example/portal/link") is False
        token = sink.token(ANNA)
        sid = portal.redeem(token)
        with pytest.raises(InputError, match="used or expired"):
            portal.redeem(token)
        gid = portal.guardian(sid)
        assert gid is not None and [c["subject"] for c in portal.children(gid)] == ["c1"]
        with pytest.raises(NotAllowed):
            portal.child(gid, "c2")
        clock.now += dt.timedelta(minutes=5)
        portal.grant(gid, "c1", "precise_location")
        assert decide(eng, "c1") != "deny"
        portal.revoke(gid, "c1", "precise_location")
        assert decide(eng, "c1") == "deny"
        states = [(g["scope"], g["state"]) for g in portal.child(gid, "c1")["grants"]]
        assert states == [("precise_location", "revoked"), ("account", "active")]
        portal.sign_out(sid)
        assert portal.guardian(sid) is None
        eng.consent.close()
