"""The parent portal's API (`/v1/portal`) on the real app: sign-in link to session, a parent's
children only (403 for any other account, 401 without a session), grant and revoke flipping the
decision, access and erasure through the rights desk, a used link refused, sign-out ending the
session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from console_fixture import AS_OF, console_estate
from smtp_sink import Sink, smtp_sink
from test_portal import LOCATION, Clock
from tutela.consent import ConsentDesk, SmtpMailer
from tutela.engine import Engine
from tutela.store import StateStore
from tutela.web import create_app

ANNA, BART = "anna.api@example.org", "bart.api@example.org"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Engine, Sink]]:
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    with smtp_sink() as sink, console_estate(tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state_url)
        eng = Engine()
        eng.consent = ConsentDesk(eng.rulebook, StateStore(e.state_url), mailer=SmtpMailer(sink.host, sink.port),
                                  clock=Clock())
        with TestClient(create_app(eng, estate=e.config(), as_of=AS_OF), base_url="https://testserver") as c:
            yield c, eng, sink
        eng.consent.close()


def session(c: TestClient, sink: Sink, email: str) -> dict[str, str]:
    assert c.post("/v1/portal/signin", json={"email": email}).json() == {"sent": "if_known"}
    r = c.post("/v1/portal/sessions", json={"token": sink.token(email)})
    assert r.status_code == 201, r.text
    return {"authorization": f"Bearer {r.json()['session']}"}


def test_the_portal_api(world: tuple[TestClient, Engine, Sink]) -> None:
    c, eng, sink = world
    for subject, email in (("1", ANNA), ("2", BART)):
        eng.consent.sign_up(subject, "NL", 12, parent_email=email)
        eng.consent.confirm(sink.token(email))
    anna = session(c, sink, ANNA)
    used = c.post("/v1/portal/sessions", json={"token": sink.token(ANNA)})
    assert used.status_code == 422 and used.json()["where"] == "token"
    assert c.get("/v1/portal/children").status_code == 401
    assert c.get("/v1/portal/children", headers={"authorization": "Bearer " + "x" * 43}).status_code == 403
    assert [k["subject"] for k in c.get("/v1/portal/children", headers=anna).json()] == ["1"]
    for method, path, body in (("GET", "", None), ("POST", "/grants", {"scope": "precise_location"}),
                               ("POST", "/revoke", {"scope": "account"}), ("POST", "/access", None),
                               ("POST", "/erasure", None)):
        r = c.request(method, f"/v1/portal/children/2{path}", headers=anna, json=body)
        assert r.status_code == 403, (path, r.text)
    view = c.get("/v1/portal/children/1", headers=anna).json()
    assert view["verified"] and view["categories"] and view["recipients"]

    def decide() -> str:
        return eng.decide({"subject": {"id": "1", "jurisdiction": "NL", "age": 12}, "act": LOCATION}).effect

    assert decide() == "deny"
    assert c.post("/v1/portal/children/1/grants", headers=anna, json={"scope": "precise_location"}).status_code == 201
    assert decide().startswith("allow")
    refused = c.post("/v1/portal/children/1/grants", headers=anna, json={"scope": "targeted_ads"})
    assert refused.status_code == 403 and "cannot give consent" in refused.json()["message"]
    assert c.post("/v1/portal/children/1/revoke", headers=anna, json={"scope": "precise_location"}).status_code == 200
    assert decide() == "deny"
    export = c.post("/v1/portal/children/1/access", headers=anna)
    assert export.status_code == 200 and export.json()["subject"] == "1" and export.json()["complete"] is True
    gone = c.post("/v1/portal/children/1/erasure", headers=anna)
    assert gone.status_code == 200 and gone.json()["status"] == "done", gone.text
    assert [g.scope for g in eng.consent.grants("2")] == ["account"]  # Bart's child untouched
    assert c.delete("/v1/portal/session", headers=anna).status_code == 200
    assert c.get("/v1/portal/children", headers=anna).status_code == 403
    bad = c.post("/v1/portal/signin", json={"email": 5})
    assert bad.status_code == 422 and bad.json()["where"] == "body.email"
