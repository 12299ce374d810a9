"""Rights requests over HTTP: staff bearer tokens, the whole flow through TestClient, one real
uvicorn server, and the HTML export rendered by a real (headless) Chromium."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from test_requests_estate import REDIS, Estate, make_estate
from tutela.api import create_app
from tutela.api.auth import hash_token
from tutela.connectors.estate import EstateConfig
from tutela.engine import Engine

ALICE, BOB = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef"
TOKENS = f"alice={ALICE},bob={hash_token(BOB)}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    with make_estate("sqlite", tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state.url)
        monkeypatch.setenv("TUTELA_STAFF_TOKENS", TOKENS)
        yield e


@pytest.fixture
def client(estate: Estate, engine: Engine) -> TestClient:
    return TestClient(create_app(engine, estate=estate.config()))


ROUTES = [("post", "/v1/requests"), ("get", "/v1/requests"), ("get", "/v1/requests/x"),
          ("post", "/v1/requests/x/approve"), ("post", "/v1/requests/x/reject"), ("post", "/v1/requests/x/extend"),
          ("post", "/v1/requests/x/run"), ("get", "/v1/requests/x/export"), ("get", "/v1/requests/x/export.json"),
          ("get", "/v1/requests/x/export.html")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_staff_token(client: TestClient, method: str, path: str) -> None:
    cases = [({}, 401), ({"Authorization": "Basic YWxpY2U6eA=="}, 401), ({"Authorization": "Bearer "}, 401),
             (auth("not-a-staff-token-at-all"), 403), (auth(ALICE.upper()), 403)]
    for headers, status in cases:
        r = client.request(method, path, headers=headers, json={"kind": "access", "subject": "1"})
        assert r.status_code == status, (headers, r.text)
        body = r.json()
        assert set(body) == {"error", "message"} and ALICE not in r.text
    assert client.request(method, path, headers={}).headers.get("www-authenticate") == "Bearer"


def test_no_tokens_configured_means_no_access(estate: Estate, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUTELA_STAFF_TOKENS")
    c = TestClient(create_app(engine, estate=estate.config()))
    r = c.get("/v1/requests", headers=auth(ALICE))
    assert r.status_code == 403 and "no staff tokens" in r.json()["message"]
    assert c.get("/v1/health").status_code == 200  # the decision API does not need them


def test_the_whole_flow_over_http(client: TestClient, estate: Estate) -> None:
    r = client.post("/v1/requests", headers=auth(ALICE),
                    json={"kind": "access", "subject": "1", "requester": {"kind": "parent", "ref": "CASE-7"}})
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["status"] == "pending_approval" and req["created_by"] == "alice" and req["requester"]["kind"] == "parent"
    rid = req["id"]
    blocked = client.post(f"/v1/requests/{rid}/run", headers=auth(BOB))
    assert blocked.status_code == 422 and "not approved" in blocked.json()["message"]
    assert client.get(f"/v1/requests/{rid}/export.json", headers=auth(BOB)).status_code == 422
    ok = client.post(f"/v1/requests/{rid}/approve", headers=auth(BOB))
    assert ok.status_code == 200 and ok.json()["decided_by"] == "bob"
    done = client.post(f"/v1/requests/{rid}/run", headers=auth(BOB))
    assert done.status_code == 200 and done.json()["status"] == "done", done.text
    listed = client.get("/v1/requests", headers=auth(ALICE), params={"status": "done"}).json()
    assert [v["id"] for v in listed] == [rid] and set(listed[0]) >= {"due", "extended", "overdue", "status"}
    export = client.get(f"/v1/requests/{rid}/export.json", headers=auth(ALICE))
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    assert len(export.headers["x-export-sha256"]) == 64
    assert {c["name"] for c in export.json()["collections"]} >= {"accounts", "media", "watch_history"}
    page = client.get(f"/v1/requests/{rid}/export.html", headers=auth(ALICE))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "child1@example.test" in page.text and "child2@example.test" not in page.text
    assert not re.findall(r'(?:src|href)="(?!#|data:)', page.text)  # self-contained: no external assets
    assert client.get(f"/v1/requests/{rid}", headers=auth(ALICE)).json()["result"]["receipt"]["digest"]


def test_erasure_reject_and_extend_over_http(client: TestClient) -> None:
    rid = client.post("/v1/requests", headers=auth(ALICE),
                      json={"kind": "erasure", "subject": 2, "scope": "account"}).json()["id"]
    no_reason = client.post(f"/v1/requests/{rid}/reject", headers=auth(BOB), json={})
    assert no_reason.status_code == 422 and no_reason.json()["where"] == "body.reason"
    ext = client.post(f"/v1/requests/{rid}/extend", headers=auth(BOB), json={"reason": "several accounts"})
    assert ext.status_code == 200 and ext.json()["extended"]
    rej = client.post(f"/v1/requests/{rid}/reject", headers=auth(BOB), json={"reason": "identity not confirmed"})
    assert rej.status_code == 200 and rej.json()["status"] == "rejected"
    assert rej.json()["note"] == "extended by bob: several accounts; rejected: identity not confirmed"
    assert client.post(f"/v1/requests/{rid}/run", headers=auth(BOB)).status_code == 422


@pytest.mark.parametrize(("body", "where"), [
    (b"{not json", "body"),
    (b"[1]", "body"),
    (b'{"subject": "1"}', "body.kind"),
    (b'{"kind": "access", "subject": "424242"}', "body.subject"),
    (b'{"kind": "erasure", "subject": "1"}', "body.scope"),
    (b'{"kind": "access", "subject": "1", "received": "yesterday"}', "body.received"),
])
def test_bad_input_is_422_naming_the_field(client: TestClient, body: bytes, where: str) -> None:
    r = client.post("/v1/requests", headers={**auth(ALICE), "content-type": "application/json"}, content=body)
    assert r.status_code == 422 and r.json()["where"] == where, r.text
    assert client.get("/v1/requests", headers=auth(ALICE)).json() == []


def test_unknown_request_and_no_estate(client: TestClient, engine: Engine) -> None:
    r = client.get("/v1/requests/nope", headers=auth(ALICE))
    assert r.status_code == 422 and r.json()["where"] == "request_id"
    bare = TestClient(create_app(engine))
    r = bare.post("/v1/requests", headers=auth(ALICE), json={"kind": "access", "subject": "1"})
    assert r.status_code == 422 and "tutela serve --estate" in r.json()["hint"]


def test_a_store_down_is_503_and_recorded(estate: Estate, engine: Engine) -> None:
    import dataclasses

    good = TestClient(create_app(engine, estate=estate.config()))
    down = TestClient(create_app(engine, estate=dataclasses.replace(estate.config(), redis="redis://127.0.0.1:1/0")))
    rid = good.post("/v1/requests", headers=auth(ALICE), json={"kind": "access", "subject": "1"}).json()["id"]
    good.post(f"/v1/requests/{rid}/approve", headers=auth(BOB))
    r = down.post(f"/v1/requests/{rid}/run", headers=auth(BOB))
    assert r.status_code == 503 and r.json()["error"] == "ConnectorUnavailable"
    assert good.get(f"/v1/requests/{rid}", headers=auth(ALICE)).json()["status"] == "failed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: the export page must be checked in a real browser "
                    "(`bash scripts/ensure-services.sh` installs it, or `apt-get install -y chromium`)")
    return path


def test_real_server_and_the_page_in_a_real_browser(estate: Estate, tmp_path: Path) -> None:
    browser = _chromium()
    port = _free_port()
    cfg: EstateConfig = estate.config()
    proc = subprocess.Popen([sys.executable, "-m", "tutela", "serve", "--port", str(port), "--estate", cfg.url,
                             "--media", str(cfg.media), "--redis", REDIS, "--redis-prefix", estate.prefix],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1/requests"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                denied = httpx.get(base, timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        assert denied.status_code == 401 and denied.json()["error"] == "Unauthorized"
        assert httpx.get(base, headers=auth("wrong-token-000000000000")).status_code == 403
        rid = httpx.post(base, headers=auth(ALICE), json={"kind": "access", "subject": "1"}).json()["id"]
        assert httpx.post(f"{base}/{rid}/approve", headers=auth(BOB)).status_code == 200
        assert httpx.post(f"{base}/{rid}/run", headers=auth(BOB), timeout=60).json()["status"] == "done"
        page = httpx.get(f"{base}/{rid}/export.html", headers=auth(ALICE))
        assert page.status_code == 200
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert ALICE not in out and BOB not in out and "child1@example.test" not in out  # nothing secret or personal logged
    html = tmp_path / "export.html"
    html.write_text(page.text, "utf-8")
    shot = tmp_path / "page.png"
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", html.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<span id="subject">1</span>' in dom.stdout and "child1@example.test" in dom.stdout
    assert 'data-collection="watch_history"' in dom.stdout and "user.contact.email" in dom.stdout
    assert "child2@example.test" not in dom.stdout
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,2400", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(shot) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, tables and the inlined photos were drawn, not a blank page
