"""The OpenAPI document is a typed contract: every request body and response has a schema that
resolves, the staff routes declare bearer auth (the Authorize button of /docs), and every
example in the document works when sent as-is."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from test_requests_api import ALICE, BOB, auth, client, estate  # noqa: F401  (fixtures)

# consent routes whose credential is in the request itself: the link's token, the webhook's signature
CONSENT_OPEN = ("/v1/consent/defaults", "/v1/consent/links/", "/v1/consent/webhooks/")


@pytest.fixture
def doc(client: TestClient) -> dict[str, Any]:  # noqa: F811
    return dict(client.get("/openapi.json").json())


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_body_and_response_is_typed_and_every_ref_resolves(doc: dict[str, Any]) -> None:
    comps = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in comps, ref
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                for media, spec in op["requestBody"]["content"].items():
                    if media == "application/json":
                        assert spec["schema"] != {"type": "object"}, f"{method} {path}: a bare object body"
            ok = op["responses"].get("200") or op["responses"].get("201")
            assert ok is not None, f"{method} {path}"
            if path.startswith("/v1/requests") and "export" not in path:
                assert ok["content"]["application/json"]["schema"], f"{method} {path}: untyped response"


def test_staff_routes_declare_bearer_auth(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            secured = bool(op.get("security"))
            consent_staff = path.startswith("/v1/consent") and not path.startswith(CONSENT_OPEN)
            parent = path.startswith("/v1/portal") and path not in ("/v1/portal/signin", "/v1/portal/sessions")
            assert secured == (path.startswith(("/v1/requests", "/v1/evidence")) or consent_staff or parent), \
                f"{method} {path}"


def test_every_example_works_as_sent_from_docs(client: TestClient, doc: dict[str, Any]) -> None:  # noqa: F811
    paths = doc["paths"]
    example = paths["/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]["example"]
    r = client.post("/v1/decisions", json=example)
    assert r.status_code == 200 and r.json()["effect"] == "deny"
    new = paths["/v1/requests"]["post"]["requestBody"]["content"]["application/json"]["example"]
    made = client.post("/v1/requests", json=new, headers=auth(ALICE))
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    note = paths["/v1/requests/{request_id}/approve"]["post"]["requestBody"]["content"]["application/json"]
    approved = client.post(f"/v1/requests/{rid}/approve", json=note["example"], headers=auth(BOB))
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    run = paths["/v1/requests/{request_id}/run"]["post"]["requestBody"]["content"]["application/json"]["example"]
    ran = client.post(f"/v1/requests/{rid}/run", json={**run, "allow_partial": True}, headers=auth(BOB))
    assert ran.status_code == 200 and ran.json()["status"] == "done", ran.text
    reason = paths["/v1/requests/{request_id}/reject"]["post"]["requestBody"]["content"]["application/json"]
    other = client.post("/v1/requests", json=new, headers=auth(ALICE)).json()["id"]
    rejected = client.post(f"/v1/requests/{other}/reject", json=reason["example"], headers=auth(BOB))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
