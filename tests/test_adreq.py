"""The ad-request guard through its library call, the CLI and the API: the COPPA baseline,
minors per jurisdiction, consent signals, GPC, refusal and bad input."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from importlib import resources
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from consent_encode import TC, encode_tc, encode_usnat
from tutela.api.app import create_app
from tutela.engine import Engine
from tutela.errors import InputError, RulebookError
from tutela.guard import guard_bid_request
from tutela.guard.adreq_reference import guard_reference
from tutela.guard.rules import FILE, load_adreq, parse_data

DAY = dt.date(2026, 12, 3)
PREBID = {
    "device.ifa",
    "device.macsha1",
    "device.dpidmd5",
    "device.geo.lat",
    "device.geo.lon",
    "device.geo.city",
    "device.geo.zip",
    "device.geo.metro",
    "user.id",
    "user.buyeruid",
    "user.yob",
    "user.gender",
}


def bid(**over: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "id": "r1",
        "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
        "device": {
            "ip": "203.0.113.77",
            "ipv6": "2001:db8:1:2:3:4:5:6",
            "ifa": "ifa",
            "macsha1": "m",
            "dpidmd5": "d",
            "geo": {
                "country": "USA",
                "region": "CA",
                "lat": 37.7,
                "lon": -122.4,
                "city": "SF",
                "zip": "94110",
                "metro": "807",
            },
        },
        "user": {
            "id": "u",
            "buyeruid": "b",
            "yob": 1990,
            "gender": "F",
            "eids": [{"source": "s"}],
            "data": [{"segment": [{"id": "7"}]}],
            "keywords": "k",
            "ext": {"custom": {"keep": True}},
        },
        "site": {"page": "https://example.com", "keywords": "sports"},
        "regs": {},
        "ext": {"prebid": {"x": 1}},
    }
    req.update(over)
    return req


def changed(result: Any) -> set[str]:
    return {c.path for c in result.changes}


def test_coppa_flag_does_prebid_scrub(engine: Engine) -> None:
    req = bid(regs={"coppa": 1})
    before = json.dumps(req, sort_keys=True)
    r = guard_bid_request(engine, req, on=DAY)
    assert r.outcome == "auction" and PREBID <= changed(r)
    assert r.request is not None
    assert r.request["device"]["ip"] == "203.0.113.0" and r.request["device"]["ipv6"] == "2001:db8:1:2:3:4::"
    assert r.request["device"]["geo"] == {"country": "USA", "region": "CA"}  # country-level geo kept
    assert r.request["user"]["ext"] == {"custom": {"keep": True}} and r.request["ext"] == {"prebid": {"x": 1}}
    assert json.dumps(req, sort_keys=True) == before  # the input is not mutated
    assert all("ADREQ.coppa-flag" in c.rules for c in r.changes)
    assert r.rules["ADREQ.coppa-flag"]["citation"]["url"].startswith("https://")


def test_us_child_gets_coppa_flag_and_scrub(engine: Engine) -> None:
    r = guard_bid_request(engine, bid(), subject={"jurisdiction": "US", "age": 10}, on=DAY)
    assert r.request is not None and r.request["regs"]["coppa"] == 1
    assert PREBID <= changed(r) and "user.eids" in changed(r)
    by = [d["id"] for d in r.rules["ADREQ.us-child-coppa"]["determined_by"]]
    assert by == ["US-COPPA.312-2"]


def test_eu_minor_profiling_ban_and_gdpr_flag(engine: Engine) -> None:
    req = bid()
    req["device"]["geo"] = {"country": "ITA", "lat": 45.0, "lon": 9.0}
    r = guard_bid_request(engine, req, subject={"age": 15}, on=DAY)
    assert r.request is not None and r.request["regs"]["gdpr"] == 1 and "coppa" not in r.request["regs"]
    assert {"user.data", "user.eids", "user.keywords", "site.keywords"} <= changed(r)
    assert [d["id"] for d in r.rules["ADREQ.profiling-ban"]["determined_by"]] == ["EU-DSA.art28-2"]


def test_brazil_minor_after_eca_digital(engine: Engine) -> None:
    before = guard_bid_request(engine, bid(), subject={"jurisdiction": "BR", "age": 15}, on=dt.date(2026, 3, 1))
    after = guard_bid_request(engine, bid(), subject={"jurisdiction": "BR", "age": 15}, on=DAY)
    assert "ADREQ.profiling-ban" not in before.rules
    assert [d["id"] for d in after.rules["ADREQ.profiling-ban"]["determined_by"]] == ["BR-ECADIGITAL.profiling-ads"]


def test_adult_in_us_passes_unchanged(engine: Engine) -> None:
    r = guard_bid_request(engine, bid(), subject={"jurisdiction": "US", "age": 30}, on=DAY)
    assert r.outcome == "auction" and r.changes == () and r.request == bid()


def test_unknown_age_is_not_a_known_minor(engine: Engine) -> None:
    req = bid()
    del req["user"]["yob"]
    r = guard_bid_request(engine, req, on=DAY)
    assert r.changes == () and any("age unknown" in n for n in r.notes)


def test_yob_gives_the_youngest_possible_age(engine: Engine) -> None:
    req = bid()
    req["user"]["yob"] = 2013  # 12 or 13 on the day: treated as 12, a child in the US
    r = guard_bid_request(engine, req, on=DAY)
    assert r.facts["age"] == 12 and r.facts["age_source"] == "user.yob" and r.facts["us_child"]


def test_gpc_in_california_honoured_and_unverified_state_not(engine: Engine) -> None:
    r = guard_bid_request(engine, bid(), gpc=True, subject={"jurisdiction": "US-CA", "age": 30}, on=DAY)
    assert "ADREQ.gpc.US-CA" in r.rules and {"device.ifa", "user.eids"} <= changed(r)
    tx = bid()
    tx["device"]["geo"]["region"] = "TX"
    r = guard_bid_request(engine, tx, gpc=True, subject={"age": 30}, on=DAY)
    assert r.changes == () and any("ADREQ.gpc.US-TX" in n and "not enforced" in n for n in r.notes)


def test_tcf_without_purpose_2_refuses(engine: Engine) -> None:
    req = bid(regs={"gdpr": 1})
    req["user"]["consent"] = encode_tc(TC(consents=(1,)))
    r = guard_bid_request(engine, req, subject={"jurisdiction": "DE", "age": 30}, on=DAY)
    assert r.outcome == "refuse" and r.request is None and "ADREQ.tcf-no-basic-ads" in r.rules


def test_tcf_full_consent_keeps_ids_for_consenting_adult(engine: Engine) -> None:
    req = bid(regs={"gdpr": 1})
    req["device"]["geo"] = {"country": "DEU", "lat": 52.5, "lon": 13.4}
    req["user"]["consent"] = encode_tc(TC(consents=tuple(range(1, 12)), special=(1,)))
    grants = [
        {"scopes": ["marketing"], "by": "self", "assurance": "declared"},
        {"scopes": ["device_access"], "by": "self", "assurance": "declared"},
    ]
    r = guard_bid_request(engine, req, subject={"age": 30, "grants": grants}, on=DAY)
    assert r.outcome == "auction" and "user.eids" not in changed(r), r.rules.keys()


def test_usnat_known_child_without_consent(engine: Engine) -> None:
    usnat = encode_usnat(1, [0] * 9, [0] * 16, [0, 1, 0], [0, 1, 0, 0])
    header = "DBABLA"  # sections: 7
    r = guard_bid_request(engine, bid(regs={"gpp": f"{header}~{usnat}", "gpp_sid": [7]}), on=DAY)
    assert "ADREQ.usnat-known-child" in r.rules and PREBID - {"user.yob"} <= changed(r)


@pytest.mark.parametrize(
    "mutate, where",
    [
        (lambda r: r.update(device={"ip": 12}), "device.ip"),
        (lambda r: r.update(device={"ip": "300.1.1.1"}), "device.ip"),
        (lambda r: r.update(user=[]), "user"),
        (lambda r: r.update(regs={"coppa": "1"}), "regs.coppa"),
        (
            lambda r: r.update(regs={"gpp_sid": [7], "gpp": "DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"}),
            "regs.gpp_sid",
        ),
        (lambda r: r["user"].update(consent="CPXxRfAPXx"), "user.consent"),
        (lambda r: r.pop("imp"), "imp"),
    ],
)
def test_bad_input_names_the_path(engine: Engine, mutate: Any, where: str) -> None:
    req = bid()
    mutate(req)
    with pytest.raises(InputError) as err:
        guard_bid_request(engine, req, on=DAY)
    assert err.value.where == where


def test_cli_exit_codes(tmp_path: Any) -> None:
    cmd = [sys.executable, "-m", "tutela", "adreq", "guard", "--format", "json"]
    ok = subprocess.run(cmd, input=json.dumps(bid(regs={"coppa": 1})), capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)["outcome"] == "auction"
    bad = subprocess.run(cmd, input='{"id": 1, "imp": []}', capture_output=True, text=True, check=False)
    assert bad.returncode == 3 and json.loads(bad.stdout)["where"] == "id"
    req = bid(regs={"gdpr": 1})
    req["user"]["consent"] = encode_tc(TC(consents=(1,)))
    path = tmp_path / "req.json"
    path.write_text(json.dumps(req))
    refused = subprocess.run([*cmd[:-2], str(path)], capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "refuse" in refused.stdout


def test_api(engine: Engine) -> None:
    client = TestClient(create_app(engine))
    r = client.post(
        "/v1/adreq/guard",
        json={"request": bid(), "subject": {"jurisdiction": "US-CA", "age": 30}},
        headers={"Sec-GPC": "1"},
    )
    assert r.status_code == 200 and r.json()["outcome"] == "auction"
    assert "ADREQ.gpc.US-CA" in r.json()["rules"]
    bad = client.post("/v1/adreq/guard", json={"request": {"id": "x", "imp": [], "device": {"ip": []}}})
    assert bad.status_code == 422 and bad.json()["where"] == "device.ip"
    assert "/v1/adreq/guard" in client.get("/openapi.json").json()["paths"]


def test_explanation_carries_paths_not_values(engine: Engine) -> None:
    r = guard_bid_request(engine, bid(regs={"coppa": 1}), on=DAY)
    text = json.dumps([c.to_dict() for c in r.changes]) + json.dumps(r.notes)
    for secret in ("ifa", "203.0.113.77", "94110", "SF"):
        assert f'"{secret}"' not in text


def _data_text() -> str:
    return resources.files("tutela.data").joinpath("adreq.yaml").read_text("utf-8")


def test_data_file_errors_name_file_and_key() -> None:
    raw = yaml.safe_load(_data_text())
    raw["rules"][0]["when"] = "sometimes"
    with pytest.raises(RulebookError) as err:
        parse_data(raw)
    assert err.value.where == f"{FILE}: rules.0.when"
    raw = yaml.safe_load(_data_text())
    raw["rules"][0]["citation"]["colour"] = "red"
    with pytest.raises(RulebookError, match="unknown field"):
        parse_data(raw)


def test_api_example_is_a_working_request(engine: Engine) -> None:
    client = TestClient(create_app(engine))
    schema = client.get("/openapi.json").json()["components"]["schemas"]["GuardIn"]
    r = client.post("/v1/adreq/guard", json=schema["example"])
    assert r.status_code == 200 and r.json()["outcome"] == "auction"
    assert {c["path"] for c in r.json()["changes"]} >= {"device.ifa", "user.id", "user.eids", "device.geo.lat"}


def test_india_children_rules_apply_only_once_in_force(engine: Engine) -> None:
    subject = {"jurisdiction": "IN", "age": 15}
    before = guard_bid_request(engine, bid(), subject=subject, on=DAY)
    after = guard_bid_request(engine, bid(), subject=subject, on=dt.date(2027, 6, 1))
    assert "ADREQ.profiling-ban" not in before.rules
    assert [d["id"] for d in after.rules["ADREQ.profiling-ban"]["determined_by"]] == ["IN-DPDP.s9-3"]


def test_subject_age_range_and_birth_date_and_bad_subject(engine: Engine) -> None:
    r = guard_bid_request(engine, bid(), subject={"jurisdiction": "US", "age_range": [10, 14]}, on=DAY)
    assert r.facts["age"] == 10 and r.facts["us_child"]
    r = guard_bid_request(engine, bid(), subject={"jurisdiction": "US", "birth_date": "2014-12-04"}, on=DAY)
    assert r.facts["age"] == 11
    with pytest.raises(InputError) as err:
        guard_bid_request(engine, bid(), subject={"jurisdiction": "ZZ", "age": 9}, on=DAY)
    assert err.value.where == "subject.jurisdiction"
    with pytest.raises(InputError) as err:
        guard_bid_request(engine, bid(), subject={"age": "nine"}, on=DAY)
    assert err.value.where == "subject.age"


def test_precise_geo_needs_its_own_consent_in_the_eu(engine: Engine) -> None:
    req = bid(regs={"gdpr": 1})
    req["device"]["geo"] = {"country": "ITA", "lat": 45.0, "lon": 9.0, "city": "Milano"}
    req["user"]["consent"] = encode_tc(TC(consents=tuple(range(1, 12)), special=(1,)))
    grants = [{"scopes": ["marketing"], "by": "self"}]
    r = guard_bid_request(engine, req, subject={"age": 30, "grants": grants}, on=DAY)
    assert {"device.geo.lat", "device.geo.lon", "device.geo.city"} <= changed(r) and "user.eids" not in changed(r)
    by = [d["id"] for d in r.rules["ADREQ.precise-geo-unlawful"]["determined_by"]]
    assert "EU-EPRIVACY.art5-3.location" in by
    with_location = {"age": 30, "grants": [*grants, {"scopes": ["location"], "by": "self"}]}
    r = guard_bid_request(engine, req, subject=with_location, on=DAY)
    assert "ADREQ.precise-geo-unlawful" not in r.rules


def test_api_refusal_has_null_request(engine: Engine) -> None:
    req = bid(regs={"gdpr": 1})
    req["user"]["consent"] = encode_tc(TC(consents=(1,)))
    r = TestClient(create_app(engine)).post("/v1/adreq/guard", json={"request": req, "subject": {"jurisdiction": "DE"}})
    assert r.status_code == 200 and r.json()["outcome"] == "refuse" and r.json()["request"] is None
    assert "ADREQ.tcf-no-basic-ads" in r.json()["rules"]


def test_a_removed_object_takes_its_children_with_it(engine: Engine) -> None:
    data = load_adreq()
    rules = list(data.rules)
    rules[0] = rules[0].model_copy(update={"remove": ("user_ext", *rules[0].remove)})
    fields = {**data.fields, "user_ext": ("user.ext",)}
    custom = data.model_copy(update={"rules": tuple(rules), "fields": fields})
    req = bid(regs={"coppa": 1})
    req["user"]["ext"]["eids"] = [1]
    fast = guard_bid_request(engine, req, on=DAY, data=custom)
    assert fast.request is not None and "ext" not in fast.request["user"]
    assert fast.to_dict() == guard_reference(engine, req, on=DAY, data=custom).to_dict()
