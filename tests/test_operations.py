"""Operations: /healthz, /readyz (503 naming what is not ready), /metrics, and JSON log lines that
carry no personal data after a rights-request flow."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from test_ledger_callers import DENY
from test_requests_api import ALICE, BOB, TOKENS, auth
from test_requests_estate import Estate, make_estate
from tutela.api import create_app
from tutela.api.logs import JsonFormatter, log_config
from tutela.engine import Engine


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    monkeypatch.delenv("TUTELA_LEDGER_URL", raising=False)
    with make_estate("sqlite", tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state.url)
        monkeypatch.setenv("TUTELA_STAFF_TOKENS", TOKENS)
        yield e


def test_health_ready_and_metrics(estate: Estate) -> None:
    client = TestClient(create_app(Engine(), estate=estate.config()))
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and {c["check"] for c in ready.json()["checks"]} == {"rulebook", "state_store"}
    client.post("/v1/decisions", json=DENY)
    client.post("/v1/decisions", json={"requests": [DENY, DENY]})
    rid = client.post("/v1/requests", headers=auth(ALICE), json={"kind": "access", "subject": "1"}).json()["id"]
    from tutela.api.adreq import _EXAMPLE as BID  # the route's own documented example

    assert client.post("/v1/adreq/guard", json=BID).status_code == 200
    text = client.get("/metrics").text
    assert 'tutela_guard_requests_total{guard="adreq",outcome=' in text
    assert 'tutela_decisions_total{effect="deny"} 3.0' in text
    assert 'tutela_rights_requests_open{bucket="due_later"} 1.0' in text
    assert 'tutela_http_requests_total{route="/v1/decisions",status="2xx"} 2.0' in text
    assert rid not in text and "child1" not in text


def test_not_ready_names_what(estate: Estate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client = TestClient(create_app(Engine(), estate=estate.config()))
    monkeypatch.setenv("TUTELA_STATE", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("TUTELA_LEDGER_URL", f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}")
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["not_ready"] == ["state_store", "ledger"]


def test_logs_are_json_lines_without_personal_data(estate: Estate, caplog: pytest.LogCaptureFixture) -> None:
    assert log_config()["formatters"]["json"]["()"] is JsonFormatter
    formatter = JsonFormatter()
    client = TestClient(create_app(Engine(), estate=estate.config()))
    with caplog.at_level(logging.DEBUG):
        for subject in ("1", "2"):
            made = client.post("/v1/requests", headers=auth(ALICE), json={"kind": "access", "subject": subject})
            rid = made.json()["id"]
            client.post(f"/v1/requests/{rid}/approve", headers=auth(BOB))
            client.post(f"/v1/requests/{rid}/run", headers=auth(BOB))
            client.get(f"/v1/requests/{rid}/export", headers=auth(ALICE))
        client.get("/v1/requests?subject=2", headers=auth(ALICE))
    lines = [formatter.format(r) for r in caplog.records if not r.name.startswith("httpx")]  # the test client's own
    access = [json.loads(line) for line in lines if '"logger": "tutela.access"' in line]
    assert len(access) >= 9 and all(set(a) >= {"time", "level", "route", "status"} for a in access)
    assert {a["route"] for a in access} >= {"/v1/requests/{request_id}/run", "/v1/requests"}
    joined = "\n".join(lines)
    for personal in ("child1@example.test", "child2@example.test", "user1", "user2", "+316", "192.0.2.",
                     "subject=2", ALICE, BOB):
        assert personal not in joined


def test_tutela_serve_writes_json_lines_without_personal_data(estate: Estate) -> None:
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from test_requests_estate import REDIS

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cfg = estate.config()
    proc = subprocess.Popen([sys.executable, "-m", "tutela", "serve", "--port", str(port), "--estate", cfg.url,
                             "--media", str(cfg.media), "--redis", REDIS, "--redis-prefix", estate.prefix],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        assert httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "ready"
        rid = httpx.post(f"{base}/v1/requests", headers=auth(ALICE), json={"kind": "access", "subject": "1"},
                         timeout=30).json()["id"]
        httpx.post(f"{base}/v1/requests/{rid}/approve", headers=auth(BOB), timeout=30)
        assert httpx.post(f"{base}/v1/requests/{rid}/run", headers=auth(BOB), timeout=60).json()["status"] == "done"
        httpx.get(f"{base}/v1/requests?subject=1", headers=auth(ALICE), timeout=30)
        assert "tutela_decisions_total" in httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    routes = {r.get("route") for r in records}
    assert "/v1/requests/{request_id}/run" in routes and any(r["logger"].startswith("uvicorn") for r in records)
    text = err.decode() + out.decode()
    for personal in ("child1@example.test", "user1", "+316", "192.0.2.", "subject=1", rid, ALICE, BOB):
        assert personal not in text
