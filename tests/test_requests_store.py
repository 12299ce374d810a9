"""A rights request's life: approval before anything runs, rejection, extension, deadlines from the
estate's jurisdiction, bad input naming the field with nothing written, failures recorded."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_requests_estate import Estate, approved, file_state, make_estate, read_all, redis_state, split
from tutela.engine import Engine
from tutela.errors import InputError, StoreUnavailable
from tutela.rights.desk import RightsDesk
from tutela.store.state import now


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    with make_estate("sqlite", tmp_path) as e:
        yield e


@pytest.fixture
def desk(estate: Estate, engine: Engine) -> Iterator[RightsDesk]:
    d = estate.desk(engine)
    yield d
    d.close()


def snapshot(estate: Estate) -> tuple[Any, ...]:
    return read_all(estate.url), file_state(estate.media), redis_state(estate.prefix), estate.state.receipts()


def test_nothing_runs_before_staff_approval(desk: RightsDesk, estate: Estate) -> None:
    before = snapshot(estate)
    r = desk.create({"kind": "erasure", "subject": "2", "scope": "account"}, by="alice")
    assert r["status"] == "pending_approval" and r["approval"] == "staff" and r["created_by"] == "alice"
    with pytest.raises(InputError, match="not approved yet"):
        desk.run(r["id"])
    assert snapshot(estate) == before
    assert desk.show(r["id"])["status"] == "pending_approval" and not desk.show(r["id"])["running"]
    ok = desk.approve(r["id"], by="bob", note="parent verified by phone")
    assert ok["status"] == "approved" and ok["decided_by"] == "bob"
    with pytest.raises(InputError, match="cannot approve"):
        desk.approve(r["id"], by="bob")
    assert desk.run(r["id"])["status"] == "done"
    with pytest.raises(InputError, match="is done; it cannot run"):
        desk.run(r["id"])


def test_rejected_requests_never_run(desk: RightsDesk, estate: Estate) -> None:
    before = snapshot(estate)
    r = desk.create({"kind": "access", "subject": "3"}, by="alice")
    with pytest.raises(InputError, match="needs a reason"):
        desk.reject(r["id"], by="bob", reason="  ")
    out = desk.reject(r["id"], by="bob", reason="requester is not the parent")
    assert out["status"] == "rejected" and "not the parent" in out["note"] and not out["overdue"]
    for step in (lambda: desk.approve(r["id"], by="bob"), lambda: desk.run(r["id"])):
        with pytest.raises(InputError):
            step()
    with pytest.raises(InputError, match="has not run yet"):
        desk.export(r["id"])
    assert snapshot(estate) == before


def _last(day: int, month: int) -> dt.date:
    """The latest date with this day and month that is not after today (within a year)."""
    today = now().date()
    d = dt.date(today.year, month, day)
    return d if d <= today else dt.date(today.year - 1, month, day)


def test_deadlines_follow_the_subjects_jurisdiction(desk: RightsDesk) -> None:
    today = now().date()
    nl = desk.create({"kind": "access", "subject": "1"}, by="alice")
    assert nl["jurisdiction"] == "NL" and [b["id"] for b in nl["deadline"]] == ["EU-GDPR.art12-3"]
    jan31 = _last(31, 1)
    late = desk.create({"kind": "access", "subject": "1", "received": jan31.isoformat()}, by="alice")
    feb = dt.date(jan31.year, 3, 1) - dt.timedelta(days=1)
    assert late["due"] == feb.isoformat() and late["overdue"] == (today > feb)
    ca = desk.create({"kind": "erasure", "subject": "3", "scope": "data"}, by="alice")
    assert ca["jurisdiction"] == "US-CA" and ca["no_fixed_period"]  # a child under 13: COPPA §312.6 too
    assert ca["due"] == (today + dt.timedelta(days=45)).isoformat()
    adult = desk.create({"kind": "access", "subject": "4"}, by="alice")
    assert adult["due"] is None and not adult["no_fixed_period"] and adult["deadline"] == []
    gb = desk.create({"kind": "access", "subject": "1", "jurisdiction": "GB"}, by="alice")
    assert gb["jurisdiction"] == "GB" and gb["deadline"][0]["id"].startswith("UK-GDPR.")
    listed = {v["id"]: v for v in desk.list()}
    assert set(listed) == {nl["id"], late["id"], ca["id"], adult["id"], gb["id"]}
    assert [v["id"] for v in desk.list(kind="erasure")] == [ca["id"]]


def test_overdue_and_one_extension(desk: RightsDesk) -> None:
    today = now().date()
    old = desk.create({"kind": "access", "subject": "1",
                       "received": (today - dt.timedelta(days=40)).isoformat()}, by="alice")
    assert old["overdue"] and [v["id"] for v in desk.list(status="pending_approval") if v["overdue"]] == [old["id"]]
    with pytest.raises(InputError, match="too late to extend"):
        desk.extend(old["id"], by="bob", reason="complex")
    fresh = desk.create({"kind": "access", "subject": "1"}, by="alice")
    longer = desk.extend(fresh["id"], by="bob", reason="several requests at once")
    assert longer["extended"] and longer["due"] > fresh["due"] and "several requests" in longer["note"]
    with pytest.raises(InputError, match="already extended"):
        desk.extend(fresh["id"], by="bob", reason="again")
    adult = desk.create({"kind": "access", "subject": "4"}, by="alice")
    with pytest.raises(InputError, match="no law that applies"):
        desk.extend(adult["id"], by="bob", reason="complex")


@pytest.mark.parametrize(("body", "where", "message"), [
    ({"subject": "1"}, "body.kind", "field required"),
    ({"kind": "delete", "subject": "1"}, "body.kind", "input should be"),
    ({"kind": "access", "subject": ""}, "body.subject", "at least 1 character"),
    ({"kind": "access", "subject": "1; DROP TABLE accounts"}, "body.subject", "pattern"),
    ({"kind": "erasure", "subject": "1"}, "body.scope", "needs a `scope`"),
    ({"kind": "access", "subject": "1", "scope": "account"}, "body.scope", "for erasures"),
    ({"kind": "erasure", "subject": "1", "scope": "everything"}, "body.scope", "input should be"),
    ({"kind": "access", "subject": "1", "received": "2026-02-30"}, "body.received", "date"),
    ({"kind": "access", "subject": "1", "received": "2999-01-01"}, "body.received", "in the future"),
    ({"kind": "access", "subject": "1", "requester": {"kind": "neighbour"}}, "body.requester.kind", "input should"),
    ({"kind": "access", "subject": "1", "colour": "red"}, "body.colour", "unknown field"),
    ({"kind": "access", "subject": "1", "jurisdiction": "XX"}, "body.jurisdiction", "unknown jurisdiction"),
    ({"kind": "access", "subject": "999"}, "body.subject", "unknown subject `999`"),
    (["access"], "body", "JSON object"),
])
def test_bad_input_names_the_field_and_writes_nothing(desk: RightsDesk, estate: Estate, body: Any, where: str,
                                                      message: str) -> None:
    before = snapshot(estate)
    with pytest.raises(InputError) as err:
        desk.create(body, by="alice")
    assert err.value.where == where and message in err.value.message
    assert desk.list() == [] and snapshot(estate) == before


def test_unknown_request_and_bad_filters(desk: RightsDesk) -> None:
    for call in (lambda: desk.show("nope"), lambda: desk.approve("nope", by="bob"), lambda: desk.run("nope")):
        with pytest.raises(InputError, match="no rights request `nope`"):
            call()
    with pytest.raises(InputError, match="unknown status"):
        desk.list(status="open")
    with pytest.raises(InputError, match="between 1 and 1000"):
        desk.list(limit=0)


def test_data_scope_follows_the_data_maps_masking_rules(desk: RightsDesk, estate: Estate) -> None:
    rid = approved(desk, {"kind": "erasure", "subject": "2", "scope": "data"})
    desk.run(rid)
    after = read_all(estate.url)
    sent = [m for m in after["messages"] if m["sender_id"] == 2]
    assert [m["body"] for m in sent] == ["[erased]", "[erased]"]  # the thread stays, rewritten
    assert [m["recipient_id"] for m in sent] == [3, 3]  # the other party's id is preserved
    assert [a for a in after["accounts"] if a["account_id"] == 2] == []  # accounts: `delete` override
    assert [t["account_id"] for t in after["transfers"]] == [1, 2, 3]


def test_a_lost_store_fails_the_run_cleanly_and_a_rerun_completes(estate: Estate, engine: Engine) -> None:
    good = estate.desk(engine)
    bad = engine.requests(dataclasses.replace(estate.config(), redis="redis://127.0.0.1:1/0"), state=estate.state)
    try:
        rid = approved(good, {"kind": "erasure", "subject": "1", "scope": "account"})
        before = snapshot(estate)
        with pytest.raises(StoreUnavailable, match="cannot reach Redis"):
            bad.run(rid)
        failed = good.show(rid)
        assert failed["status"] == "failed" and "Redis" in failed["error"] and not failed["running"]
        assert snapshot(estate) == before  # every store is checked before anything is written
        assert good.run(rid)["status"] == "done"
        _, others_after = split(read_all(estate.url), 1)
        assert others_after == split(before[0], 1)[1]
    finally:
        good.close()
        bad.close()


def test_a_request_runs_only_against_its_estate(desk: RightsDesk, engine: Engine, tmp_path: Path) -> None:
    rid = approved(desk, {"kind": "access", "subject": "1"})
    with make_estate("sqlite", tmp_path / "other") as other:
        other_desk = engine.requests(other.config(), state=desk.state)
        try:
            with pytest.raises(InputError, match="another estate"):
                other_desk.run(rid)
        finally:
            other_desk.close()
    assert desk.show(rid)["status"] == "approved"
