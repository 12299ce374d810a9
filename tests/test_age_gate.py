"""The neutral age gate: birth date in, experience out; sticky; never the threshold; rate limited."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tutela.age import AgeGate, MemoryStore, RateLimited, RateLimiter, SqlStore
from tutela.api.app import create_app
from tutela.engine import Engine
from tutela.errors import InputError

TODAY = dt.date.today()


def born(years: int, days: int = 0) -> str:
    return (dt.date(TODAY.year - years, TODAY.month, min(TODAY.day, 28)) - dt.timedelta(days=days)).isoformat()


def test_a_child_is_restricted_and_an_older_retry_does_not_pass() -> None:
    gate = AgeGate(MemoryStore())
    first = gate.submit("session-0001", "203.0.113.9", born(12), threshold=16)
    again = gate.submit("session-0001", "203.0.113.9", born(30), threshold=16)
    assert first.public() == again.public() == {"experience": "restricted"}
    other = gate.submit("session-0002", "203.0.113.9", born(30), threshold=16)
    assert other.public() == {"experience": "standard"}
    down = gate.submit("session-0002", "203.0.113.9", born(12), threshold=16)  # the lowest wins
    assert down.public() == {"experience": "restricted"}


def test_the_gate_sticks_in_sqlite_across_gate_instances(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    assert AgeGate(SqlStore(url)).submit("session-0003", "c", born(12), 13).experience == "restricted"
    assert AgeGate(SqlStore(url)).submit("session-0003", "c", born(40), 13).experience == "restricted"


def test_errors_are_the_same_whatever_the_threshold() -> None:
    messages = set()
    for threshold, raw in itertools.product((13, 16, 18), ("2014-13-40", "tomorrow", (TODAY + dt.timedelta(days=1))
                                                           .isoformat(), "1800-01-01", 20140501)):
        gate = AgeGate(MemoryStore())
        with pytest.raises(InputError) as err:
            gate.submit("session-0004", "c", raw, threshold)
        messages.add((err.value.message, err.value.where, err.value.hint))
    assert messages == {("enter a valid date of birth", "birth_date", "YYYY-MM-DD")}


def test_rate_limited_per_session_and_per_client() -> None:
    clock = [0.0]
    gate = AgeGate(MemoryStore(), per_session=RateLimiter(3, 60, clock=lambda: clock[0]),
                   per_client=RateLimiter(5, 60, clock=lambda: clock[0]))
    for _ in range(3):
        gate.submit("session-0005", "198.51.100.1", born(30), 13)
    with pytest.raises(RateLimited) as err:
        gate.submit("session-0005", "198.51.100.1", born(30), 13)
    assert err.value.retry_after == 60 and "13" not in str(err.value)
    gate.submit("session-0006", "198.51.100.1", born(30), 13)
    with pytest.raises(RateLimited):  # the client's sixth attempt, whatever the session
        gate.submit("session-0007", "198.51.100.1", born(30), 13)
    clock[0] = 61.0
    assert gate.submit("session-0005", "198.51.100.1", born(30), 13).experience == "standard"


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(limit=2, window=60, capacity=100)
    for i in range(10_000):
        limiter.hit(f"k{i}")
    assert len(limiter) == 100


def test_threshold_comes_from_the_rulebook_age_of_consent() -> None:
    engine = Engine()
    assert engine.age_threshold("NL") == 16 and engine.age_threshold("GB") == 13


def test_api_gate_answers_only_the_experience_and_sticks() -> None:
    client = TestClient(create_app())
    child = client.post("/v1/age/gate", json={"session": "browser-0001", "birth_date": born(12),
                                              "jurisdiction": "NL"})
    assert child.status_code == 200 and child.json() == {"experience": "restricted"}
    retry = client.post("/v1/age/gate", json={"session": "browser-0001", "birth_date": born(40),
                                              "jurisdiction": "NL"})
    assert retry.json() == child.json()
    # 13 in GB: the threshold is not in the answer either way
    gb = client.post("/v1/age/gate", json={"session": "browser-0002", "birth_date": born(14), "jurisdiction": "GB"})
    assert gb.json() == {"experience": "standard"}
    for body in ({"session": "browser-0003", "birth_date": "01/05/2014", "jurisdiction": "NL"},
                 {"session": "browser-0003", "birth_date": 5, "jurisdiction": "GB"}):
        bad = client.post("/v1/age/gate", json=body)
        assert bad.status_code == 422
        assert bad.json() == {"error": "InputError", "message": "enter a valid date of birth", "where": "birth_date",
                              "hint": "YYYY-MM-DD"}
    unknown = client.post("/v1/age/gate", json={"session": "browser-0004", "birth_date": born(9),
                                                "jurisdiction": "ZZ"})
    assert unknown.status_code == 422 and unknown.json()["where"] == "jurisdiction"


def test_api_gate_rate_limit_is_429_with_retry_after() -> None:
    client = TestClient(create_app())
    codes = [client.post("/v1/age/gate", json={"session": "browser-0009", "birth_date": born(30),
                                               "jurisdiction": "NL"}).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    limited = client.post("/v1/age/gate", json={"session": "browser-0009", "birth_date": born(30),
                                                "jurisdiction": "NL"})
    assert int(limited.headers["retry-after"]) > 0 and "16" not in limited.text


def test_api_signal_with_session_joins_the_gate_result() -> None:
    client = TestClient(create_app())
    client.post("/v1/age/gate", json={"session": "device-0010", "birth_date": born(12), "jurisdiction": "NL"})
    r = client.post("/v1/age/signals", json={"kind": "google", "session": "device-0010",
                                             "signal": {"userStatus": "DECLARED", "ageLower": 18}})
    assert r.status_code == 200
    assert r.json()["record"]["lower"] == 18 and r.json()["held"]["lower"] == 12  # a declaration does not lift it
    assert client.post("/v1/age/gate", json={"session": "device-0010", "birth_date": born(40),
                                             "jurisdiction": "NL"}).json() == {"experience": "restricted"}
    bad = client.post("/v1/age/signals", json={"kind": "google", "signal": {"userStatus": "SUPERVISED"}})
    assert bad.status_code == 422 and bad.json()["where"] == "signal.ageLower"
    extra = client.post("/v1/age/signals", json={"kind": "google", "signal": {}, "colour": "blue"})
    assert extra.status_code == 422 and extra.json()["where"] == "body.colour"


def test_openapi_documents_the_age_routes_with_examples() -> None:
    schema = TestClient(create_app()).get("/openapi.json").json()
    for path in ("/v1/age/signals", "/v1/age/gate", "/v1/age/nonces"):
        assert path in schema["paths"]
    gate_body = schema["paths"]["/v1/age/gate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert gate_body["examples"][0]["jurisdiction"] == "NL"
