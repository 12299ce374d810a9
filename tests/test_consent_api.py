"""The consent API end to end through FastAPI's TestClient: sign-up by the platform, the emailed link
(real SMTP sink), peek and confirm, decisions read the stored grants, revocation, staff routes,
the signed provider webhook (bad signature, stale timestamp, replay, image fields never stored)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from smtp_sink import Sink, free_port, smtp_sink
from test_consent import PARENT, Clock, make
from tutela.api import create_app
from tutela.consent import ConsentDesk, sign

STAFF = "platform-token-0123456789abcdef"
SECRET = "webhook-secret-0123456789"
H = {"Authorization": f"Bearer {STAFF}"}
SIGNUP = {"subject": "child-1", "jurisdiction": "NL", "age": 12, "parent_email": PARENT, "scopes": ["precise_location"]}
LOCATION = {"subject": {"id": "child-1", "jurisdiction": "NL", "age": 12},
            "act": {"category": "user.location.precise", "use": "functional"}}
IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk-MARKER-IMAGE"


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, ConsentDesk, Sink, Path]]:
    monkeypatch.setenv("TUTELA_STAFF_TOKENS", f"platform={STAFF}")
    monkeypatch.setenv("TUTELA_CONSENT_WEBHOOK_SECRET", SECRET)
    with smtp_sink() as sink:
        eng, desk = make(f"sqlite:///{tmp_path / 'state.db'}", sink, Clock())
        yield TestClient(create_app(eng)), desk, sink, tmp_path
        desk.close()


def effect(client: TestClient) -> str:
    r = client.post("/v1/decisions", json=LOCATION)
    assert r.status_code == 200, r.text
    return str(r.json()["effect"])


def signed(body: dict[str, Any], desk: ConsentDesk, skew: int = 0, key: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    ts = int(desk.clock().replace(tzinfo=dt.UTC).timestamp()) + skew
    return raw, {"x-tutela-timestamp": str(ts), "x-tutela-signature": sign(raw, ts, key.encode()),
                 "content-type": "application/json"}


def test_sign_up_link_decision_revocation_over_http(api: tuple[TestClient, ConsentDesk, Sink, Path]) -> None:
    client, _desk, sink, _ = api
    r = client.post("/v1/consent/signups", json=SIGNUP, headers=H)
    assert r.status_code == 201, r.text
    assert r.json()["mode"] == "data_lite" and r.json()["settings"]["location"] == "off"
    assert effect(client) == "deny"
    token = sink.token(PARENT)
    for _ in range(2):  # looking does not use the link (mail scanners open links)
        peek = client.post("/v1/consent/links/peek", json={"token": token})
        assert peek.status_code == 200
        assert [s["scope"] for s in peek.json()["scopes"]] == ["account", "precise_location"]
    assert {m["method"]: m["cannot_grant"] for m in peek.json()["methods"]}["email_plus"] == []
    done = client.post("/v1/consent/links/confirm", json={"token": token})
    assert done.status_code == 200 and done.json()["granted"] == ["account", "precise_location"]
    assert client.post("/v1/consent/links/confirm", json={"token": token}).status_code == 422  # single use
    assert effect(client) != "deny"
    grants = client.get("/v1/consent/subjects/child-1/grants", headers=H).json()
    assert {g["scope"]: g["state"] for g in grants} == {"account": "active", "precise_location": "active"}
    r = client.post("/v1/consent/subjects/child-1/revoke", json={"scope": "precise_location"}, headers=H)
    assert r.status_code == 200 and len(r.json()["revoked"]) == 1
    assert effect(client) == "deny"
    again = client.post("/v1/consent/subjects/child-1/revoke", json={"scope": "precise_location"}, headers=H)
    assert again.status_code == 403


def test_staff_routes_need_a_token_and_open_routes_do_not(api: tuple[TestClient, ConsentDesk, Sink, Path]) -> None:
    client, *_ = api
    for method, path in [("post", "/v1/consent/signups"), ("get", "/v1/consent/requests/x"),
                         ("get", "/v1/consent/guardians/x/children"),
                         ("get", "/v1/consent/subjects/x/grants"), ("post", "/v1/consent/subjects/x/revoke"),
                         ("post", "/v1/consent/subjects/x/settings"), ("post", "/v1/consent/notices"),
                         ("post", "/v1/consent/requests/x/signed-form")]:
        assert client.request(method, path, json={}).status_code == 401
        assert client.request(method, path, json={}, headers={"Authorization": "Bearer nope-nope-nope-nope"}
                              ).status_code == 403
    d = client.get("/v1/consent/defaults", params={"jurisdiction": "GB", "age": 14})
    assert d.status_code == 200 and d.json()["settings"]["profile_visibility"] == "private"
    assert any("Standard 7" in c["section"] for c in d.json()["citations"])
    bad = client.get("/v1/consent/defaults", params={"jurisdiction": "XX", "age": 14})
    assert bad.status_code == 422 and bad.json()["where"] == "jurisdiction"
    r = client.post("/v1/consent/signups", json={**SIGNUP, "age": "twelve"}, headers=H)
    assert r.status_code == 422 and r.json()["where"] == "body.age"
    r = client.post("/v1/consent/signups", json={**SIGNUP, "scopes": ["location"]}, headers=H)
    assert r.status_code == 422 and r.json()["where"] == "scopes[1]"
    assert client.post("/v1/consent/links/peek", json={"token": "not-a-real-token-at-all"}).status_code == 422
    assert client.post("/v1/consent/links/confirm", json={}).json()["where"] == "body.token"


def test_an_unverified_adult_gets_403_and_a_signed_form_verifies_a_parent(
        api: tuple[TestClient, ConsentDesk, Sink, Path]) -> None:
    client, desk, *_ = api
    rid = client.post("/v1/consent/signups", json=SIGNUP, headers=H).json()["request"]["request_id"]
    adult = client.post("/v1/consent/subjects/child-1/guardians", json={"email": "adult@example.net"}, headers=H)
    loosen = {"setting": "location", "value": "precise", "actor": f"guardian:{adult.json()['guardian_id']}"}
    r = client.post("/v1/consent/subjects/child-1/settings", json=loosen, headers=H)
    assert r.status_code == 403 and r.json()["error"] == "ConsentRefused"
    form = client.post(f"/v1/consent/requests/{rid}/signed-form", json={"reference": "form-118"}, headers=H)
    assert form.status_code == 200 and form.json()["method"] == "signed_form"
    parent = form.json()  # the request's guardian is now verified
    assert parent["granted"] == ["account", "precise_location"]
    gid = client.get(f"/v1/consent/requests/{rid}", headers=H).json()["guardian_id"]
    ok = client.post("/v1/consent/subjects/child-1/settings", json={**loosen, "actor": f"guardian:{gid}"}, headers=H)
    assert ok.status_code == 200 and ok.json()["settings"]["location"] == "precise"
    kids = client.get(f"/v1/consent/guardians/{gid}/children", headers=H).json()
    assert kids == [{"subject": "child-1", "verified": True, "jurisdiction": "NL", "mode": "full"}]
    stranger = client.get(f"/v1/consent/guardians/{adult.json()['guardian_id']}/children", headers=H).json()
    assert [k["verified"] for k in stranger] == [False]
    assert client.get("/v1/consent/guardians/nobody/children", headers=H).json() == []
    assert desk.guardian_by_email(" Parent@Example.org ") == gid and desk.guardian_by_email("x@y.z") is None
    back = client.post("/v1/consent/subjects/child-1/settings", json={**loosen, "value": "off"}, headers=H)
    assert back.status_code == 200  # any linked adult may raise privacy
    assert client.post("/v1/consent/subjects/child-1/settings", json=loosen, headers=H).status_code == 403


def test_the_provider_webhook(api: tuple[TestClient, ConsentDesk, Sink, Path]) -> None:
    client, desk, _sink, tmp = api
    up = client.post("/v1/consent/signups", json={**SIGNUP, "scopes": ["third_party_disclosure"]}, headers=H).json()
    event = {"event_id": "evt-000001", "request_id": up["request"]["request_id"], "method": "government_id",
             "outcome": "passed", "reference": "chk-7", "document_image": IMAGE, "selfie": IMAGE,
             "images": [IMAGE], "holder": {"name": "Jane Doe", "portrait": IMAGE}}
    raw, headers = signed(event, desk)
    forged = {**headers, "x-tutela-signature": "sha256=00"}
    bad = client.post("/v1/consent/webhooks/idcheck", content=raw, headers=forged)
    assert bad.status_code == 422 and bad.json()["where"] == "header.x-tutela-signature"
    other_key = client.post("/v1/consent/webhooks/idcheck", content=raw, headers=signed(event, desk,
                                                                                         key="x" * 20)[1])
    assert other_key.status_code == 422
    stale = client.post("/v1/consent/webhooks/idcheck", content=raw, headers=signed(event, desk, skew=-301)[1])
    assert stale.status_code == 422 and "tolerance" in stale.json()["message"]
    ok = client.post("/v1/consent/webhooks/idcheck", content=raw, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["granted"] == ["account", "third_party_disclosure"]
    replay = client.post("/v1/consent/webhooks/idcheck", content=raw, headers=headers)
    assert replay.status_code == 422 and "replay" in replay.json()["message"]
    # the image and the holder's name reached nothing: not the state store, not any file
    for f in tmp.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert b"MARKER-IMAGE" not in data and b"Jane Doe" not in data, f
    rows = desk.state.engine.connect().exec_driver_sql("SELECT * FROM consent_evidence").all()
    assert [(r.method, r.outcome, r.reported_by, r.reference) for r in rows] == [("government_id", "passed",
                                                                                   "idcheck", "chk-7")]


def test_a_link_method_cannot_arrive_by_webhook(api: tuple[TestClient, ConsentDesk, Sink, Path]) -> None:
    client, desk, *_ = api
    up = client.post("/v1/consent/signups", json=SIGNUP, headers=H).json()
    raw, headers = signed({"event_id": "evt-000002", "request_id": up["request"]["request_id"],
                           "method": "email_plus", "outcome": "passed"}, desk)
    r = client.post("/v1/consent/webhooks/idcheck", content=raw, headers=headers)
    assert r.status_code == 422 and r.json()["where"] == "method"


def test_link_routes_are_rate_limited(api: tuple[TestClient, ConsentDesk, Sink, Path]) -> None:
    client, *_ = api
    codes = [client.post("/v1/consent/links/peek", json={"token": f"guess-{i:04d}"}).status_code for i in range(21)]
    assert codes[:20] == [422] * 20 and codes[20] == 429
    r = client.post("/v1/consent/links/confirm", json={"token": "guess-0000"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_tutelas_logs_carry_no_token_address_or_subject(api: tuple[TestClient, ConsentDesk, Sink, Path],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    client, _desk, sink, _ = api
    caplog.set_level(logging.DEBUG)
    client.post("/v1/consent/signups", json=SIGNUP, headers=H)
    token = sink.token(PARENT)
    client.post("/v1/consent/links/peek", json={"token": token})
    client.post("/v1/consent/links/confirm", json={"token": token})
    client.post("/v1/consent/links/confirm", json={"token": token})  # refused: single use
    client.post("/v1/consent/subjects/child-1/revoke", json={"scope": "precise_location"}, headers=H)
    effect(client)
    # the test's own HTTP client and SMTP sink log what they send and receive; everything else is Tutela's
    assert caplog.records  # the run did log (the client and the sink at least)
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "mail.log", "asyncio"))]
    text = "\n".join(r.getMessage() for r in ours)
    for secret in (token, PARENT, "child-1", STAFF):
        assert secret not in text


def test_a_real_server_with_the_settings_from_the_environment(tmp_path: Path) -> None:
    """`tutela serve` as deployed: state store, SMTP server, staff tokens and webhook secret all from
    the environment; the parent's link arrives by SMTP; its output holds no secret or address."""
    with smtp_sink() as sink:
        port = free_port()
        env = {**os.environ, "TUTELA_STATE": f"sqlite:///{tmp_path / 'state.db'}", "TUTELA_SMTP_HOST": sink.host,
               "TUTELA_SMTP_PORT": str(sink.port), "TUTELA_STAFF_TOKENS": f"platform={STAFF}",
               "TUTELA_CONSENT_WEBHOOK_SECRET": SECRET}
        proc = subprocess.Popen([sys.executable, "-m", "tutela", "serve", "--port", str(port)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/v1/health", timeout=5)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.3)
            up = httpx.post(f"{base}/v1/consent/signups", json=SIGNUP, headers=H, timeout=30)
            assert up.status_code == 201, up.text

            def decide_() -> str:
                return str(httpx.post(f"{base}/v1/decisions", json=LOCATION, timeout=30).json()["effect"])

            assert decide_() == "deny"
            token = sink.token(PARENT)
            assert httpx.post(f"{base}/v1/consent/links/confirm", json={"token": token}, timeout=30).status_code == 200
            assert decide_() != "deny"
            assert httpx.post(f"{base}/v1/consent/subjects/child-1/revoke", json={"scope": "precise_location"},
                              headers=H, timeout=30).status_code == 200
            assert decide_() == "deny"
        finally:
            proc.terminate()
            out = proc.communicate(timeout=10)[0].decode()
    for secret in (token, PARENT, STAFF, SECRET, "child-1"):
        assert secret not in out
