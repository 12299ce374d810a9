"""The HTTP API: routes through FastAPI's TestClient, and one real uvicorn server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from tutela.api import create_app
from tutela.engine import Engine

REQ = {"subject": {"jurisdiction": "US-CA", "age": 15},
       "act": {"category": "user.behavior.browsing_history", "use": "third_party_sharing.sale",
               "recipient": "third_party", "at": "2026-12-01"}}


@pytest.fixture(scope="module")
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine))


def test_single_decision(client: TestClient) -> None:
    r = client.post("/v1/decisions", json=REQ)
    assert r.status_code == 200
    body = r.json()
    assert body["effect"] == "deny"
    assert [d["id"] for d in body["determining"]] == ["US-CA-CCPA.1798-120-c.13to15"]
    assert body["missing"][0]["scope"] == "sale_sharing" and body["missing"][0]["by"] == "self"


def test_batch_json(client: TestClient) -> None:
    ok = {**REQ, "subject": {**REQ["subject"], "grants": [{"scopes": ["sale_sharing"], "by": "self"}]}}
    r = client.post("/v1/decisions", json={"requests": [REQ, ok]})
    assert r.status_code == 200
    assert [d["effect"] for d in r.json()["decisions"]] == ["deny", "allow"]


def test_batch_arrow(client: TestClient) -> None:
    import datetime as dt

    table = pa.table({
        "jurisdiction": ["US-CA", "US-CA", "NL"],
        "age": [15, 15, 12],
        "category": ["user.behavior.browsing_history"] * 2 + ["user.location.precise"],
        "use": ["third_party_sharing.sale"] * 2 + ["essential.service"],
        "recipient": ["third_party", "third_party", "first_party"],
        "at": pa.array([dt.date(2026, 12, 1)] * 3, pa.date32()),
        "grants": ["", "sale_sharing:self:declared", "location:parent:verified"],
    })
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    r = client.post("/v1/decisions", content=sink.getvalue().to_pybytes(),
                    headers={"content-type": "application/vnd.apache.arrow.stream"})
    assert r.status_code == 200, r.text
    out = pa.ipc.open_stream(r.content).read_all()
    assert out.column("effect").to_pylist() == ["deny", "allow", "allow_with_obligations"]
    assert out.column("determining").to_pylist()[0] == "US-CA-CCPA.1798-120-c.13to15"


@pytest.mark.parametrize(("body", "where"), [
    ({"subject": {"jurisdiction": "XX", "age": 3}, "act": REQ["act"]}, "subject.jurisdiction"),
    ({"subject": {"jurisdiction": "NL", "age": "old"}, "act": REQ["act"]}, "subject.age"),
    ({"subject": {"jurisdiction": "NL", "age": 3}, "act": {**REQ["act"], "at": "2026-02-30"}}, "act.at"),
    ({"subject": {"jurisdiction": "NL", "age": 3}, "act": {**REQ["act"], "category": "user.nope"}}, "act.category"),
    ({"requests": [REQ, {"subject": {"jurisdiction": "NL"}, "act": REQ["act"]}]}, "[1].subject"),
    ([1, 2], "(request)"),
])
def test_bad_input_is_422_naming_the_field(client: TestClient, body: object, where: str) -> None:
    r = client.post("/v1/decisions", json=body)
    assert r.status_code == 422
    assert r.json()["where"].startswith(where)


def test_not_json_and_not_arrow(client: TestClient) -> None:
    r = client.post("/v1/decisions", content=b"{oops", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["where"] == "body"
    r = client.post("/v1/decisions", content=b"junk", headers={"content-type": "application/vnd.apache.arrow.stream"})
    assert r.status_code == 422


def test_docs_page_works_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "/static/swagger/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    js = client.get("/static/swagger/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000


def test_jurisdictions_and_openapi(client: TestClient) -> None:
    assert len(client.get("/v1/jurisdictions").json()) >= 45
    assert client.get("/v1/jurisdictions/US-IL").json()["rules"][0]["citation"]["url"].startswith("https://")
    assert client.get("/v1/jurisdictions/ZZ").status_code == 422
    spec = client.get("/openapi.json").json()
    assert "/v1/decisions" in spec["paths"] and "DecisionRequest" in spec["components"]["schemas"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tutela_serve_answers_over_http() -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tutela", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/v1/decisions", json=REQ, timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["effect"] == "deny"
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
