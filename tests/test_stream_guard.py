"""The stream guard: the vectorised path against the per-row oracle on generated batches, the
unknown-subject rule, pseudonym keys and rotation, revocation within the stated bound, bad input."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutela.engine import Engine
from tutela.errors import InputError, RulebookError
from tutela.guard import StreamGuard, stream_apply
from tutela.guard.stream_config import KINDS, UNKNOWN_SUBJECT, Keyring, keys_from_env
from tutela.guard.stream_reference import reference_guard
from tutela.guard.stream_synth import synthetic_events, synthetic_state

KEYS = Keyring.parse("k2:" + "11" * 16 + ",k1:" + "22" * 16)
TS = pa.timestamp("ms", tz="UTC")
JURS = ["US", "US-CA", "GB", "DE", "FR", "IT", "PT", "IN", "BR", "NL"]
DAY0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def state_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({
        "subject_id": pa.array([r["subject_id"] for r in rows], pa.string()),
        "jurisdiction": pa.array([r["jurisdiction"] for r in rows], pa.string()),
        "birth_date": pa.array([r.get("birth_date") for r in rows], pa.date32()),
        "age": pa.array([r.get("age") for r in rows], pa.int64()),
        "grants": pa.array([r.get("grants", 0) for r in rows], pa.int64()),
        "grant_by": pa.array([r.get("grant_by") for r in rows], pa.string()),
        "assurance": pa.array([r.get("assurance") for r in rows], pa.string()),
        "separate": pa.array([r.get("separate", 0) for r in rows], pa.int64()),
        "version": pa.array([r.get("version", 1) for r in rows], pa.int64()),
    })


def events_table(rows: list[dict[str, Any]], extra: bool = False) -> pa.Table:
    cols = {
        "event_id": pa.array(list(range(len(rows))), pa.int64()),
        "subject_id": pa.array([r["subject_id"] for r in rows], pa.string()),
        "ts": pa.array([r["ts"] for r in rows], TS),
        "kind": pa.array([r["kind"] for r in rows], pa.string()),
        "recipient": pa.array([r.get("recipient") for r in rows], pa.string()),
        "lat": pa.array([r.get("lat") for r in rows], pa.float64()),
        "lon": pa.array([r.get("lon") for r in rows], pa.float64()),
        "ip": pa.array([r.get("ip") for r in rows], pa.string()),
        "device_id": pa.array([r.get("device_id") for r in rows], pa.string()),
    }
    if extra:
        cols["free_text"] = pa.array(["x"] * len(rows))
    return pa.table(cols)


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, Any]:
    mask = draw(st.integers(0, (1 << 13) - 1))
    row: dict[str, Any] = {"jurisdiction": draw(st.sampled_from(JURS)), "grants": mask,
                           "separate": mask & draw(st.integers(0, (1 << 13) - 1)),
                           "grant_by": draw(st.sampled_from(["self", "parent"])) if mask else None,
                           "assurance": draw(st.sampled_from([None, "declared", "confirmed", "verified"]))}
    age = draw(st.one_of(st.none(), st.integers(0, 40),
                         st.dates(dt.date(1990, 1, 1), dt.date(2026, 12, 31))))
    if isinstance(age, dt.date):
        row["birth_date"] = age
    else:
        row["age"] = age
    return row


@st.composite
def events(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    loc = draw(st.one_of(st.none(), st.tuples(st.floats(-90, 90), st.floats(-180, 180))))
    ip = draw(st.one_of(st.none(), st.ip_addresses().map(str)))
    return {"subject_id": draw(st.sampled_from([*ids, "stranger"])), "kind": draw(st.sampled_from(KINDS)),
            "ts": DAY0 + dt.timedelta(minutes=draw(st.integers(0, 2 * 365 * 24 * 60))),
            "recipient": draw(st.sampled_from([None, "first_party", "processor", "third_party"])),
            "lat": loc[0] if loc else None, "lon": loc[1] if loc else None, "ip": ip,
            "device_id": draw(st.one_of(st.none(), st.sampled_from(["d1", "d2", "d3"])))}


@st.composite
def batches(draw: st.DrawFn) -> tuple[pa.Table, pa.Table]:
    people = draw(st.lists(subjects(), min_size=1, max_size=6))
    for i, p in enumerate(people):
        p["subject_id"] = f"s{i}"
    ids = [p["subject_id"] for p in people]
    evs = draw(st.lists(events(ids), min_size=0, max_size=30))
    return state_table(people), events_table(evs, extra=draw(st.booleans()))


def guard_of(engine: Engine, state: pa.Table | Path, **kw: Any) -> StreamGuard:
    return engine.stream_guard(state, keys=kw.pop("keys", KEYS), **kw)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches())
def test_fast_path_agrees_with_the_oracle(engine: Engine, batch: tuple[pa.Table, pa.Table]) -> None:
    state, evs = batch
    guard = guard_of(engine, state)
    fast = guard.guard(evs)
    rows, counts = reference_guard(engine.rulebook, guard.cfg, state, evs, KEYS)
    assert fast.table.to_pylist() == rows
    assert fast.counts == counts
    assert fast.counts[("keep", "event", "")] + sum(
        n for (a, _, _), n in fast.counts.items() if a == "drop") == evs.num_rows


def test_agrees_on_a_synthetic_day_twice_with_the_plan_cache(engine: Engine) -> None:
    state = synthetic_state(300, seed=3, random_masks=True)
    guard = guard_of(engine, state)
    for seed in (4, 5):  # the second batch reuses plans made for the first
        evs = synthetic_events(300, 1500, seed=seed)
        fast = guard.guard(evs)
        rows, counts = reference_guard(engine.rulebook, guard.cfg, state, evs, KEYS)
        assert fast.table.to_pylist() == rows and fast.counts == counts
        acts = {a for a, _, _ in fast.counts}
        assert {"drop", "keep", "coarsen", "pseudonymise", "retain"} <= acts


def _one(subject_id: str = "a", kind: str = "watch", **kw: Any) -> pa.Table:
    return events_table([{"subject_id": subject_id, "kind": kind, "ts": dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC),
                          "lat": 52.3731, "lon": 4.8922, "ip": "198.51.100.77", "device_id": "dev-1",
                          "recipient": "first_party", **kw}])


US_CHILD = {"subject_id": "a", "jurisdiction": "US", "birth_date": dt.date(2016, 3, 1), "grants": 0b11,
            "grant_by": "parent", "assurance": "verified"}


def test_unknown_subject_is_dropped_and_counted(engine: Engine) -> None:
    out = guard_of(engine, state_table([US_CHILD])).guard(_one("nobody"))
    assert out.table.num_rows == 0
    assert out.counts[("drop", "event", UNKNOWN_SUBJECT)] == 1


def test_subject_without_an_age_is_treated_as_unknown(engine: Engine) -> None:
    row = {**US_CHILD, "birth_date": None}
    out = guard_of(engine, state_table([row])).guard(_one())
    assert out.table.num_rows == 0 and out.counts[("drop", "event", UNKNOWN_SUBJECT)] == 1


def test_pseudonyms_verify_and_survive_rotation(engine: Engine) -> None:
    old = Keyring.parse("k1:" + "22" * 16)
    # a DE adult who consented to everything but device access (ePrivacy Art. 5(3)): the device id
    # may not be read as it is, its pseudonym may
    adult = {"subject_id": "a", "jurisdiction": "DE", "age": 30, "grants": 0x1FFF & ~(1 << 8), "grant_by": "self"}
    before = guard_of(engine, state_table([adult]), keys=old).guard(_one()).table.to_pylist()
    after = guard_of(engine, state_table([adult])).guard(_one()).table.to_pylist()
    assert len(before) == len(after) == 1
    assert before[0]["key_id"] == "k1" and after[0]["key_id"] == "k2"
    assert before[0]["device_id"] != after[0]["device_id"] != "dev-1"
    assert KEYS.verify("device_id", "dev-1", before[0]["device_id"], "k1")  # old ids still verify
    assert KEYS.verify("device_id", "dev-1", after[0]["device_id"], "k2")
    assert not KEYS.verify("device_id", "dev-2", after[0]["device_id"], "k2")
    assert not KEYS.verify("device_id", "dev-1", after[0]["device_id"], "k9")


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUTELA_STREAM_KEYS", raising=False)
    with pytest.raises(InputError, match="no pseudonym key"):
        keys_from_env()
    monkeypatch.setenv("TUTELA_STREAM_KEYS", "k3:" + "ab" * 16)
    assert keys_from_env().current == "k3"
    monkeypatch.setenv("TUTELA_STREAM_KEYS", "k3:short")
    with pytest.raises(InputError, match="bad key entry"):
        keys_from_env()


def test_revocation_takes_effect_within_the_refresh_bound(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "state.parquet"
    pq.write_table(state_table([US_CHILD]), path)
    bound_ms = 150
    guard = guard_of(engine, path, refresh_ms=bound_ms)
    assert guard.guard(_one()).table.num_rows == 1  # parental consent: the watch event flows
    tmp = tmp_path / "state.tmp.parquet"
    pq.write_table(state_table([{**US_CHILD, "grants": 0, "grant_by": None, "version": 2}]), tmp)
    os.replace(tmp, path)  # the revocation, written atomically
    revoked_at = time.monotonic()
    guard.guard(_one())  # within the bound the old state may still answer (no assertion on it)...
    time.sleep(max(0.0, revoked_at + bound_ms / 1000 - time.monotonic()) + 0.001)
    for _ in range(3):  # ...after it, never an allow
        out = guard.guard(_one())
        assert out.table.num_rows == 0 and out.state_version == 2
        assert out.counts[("drop", "event", "US-COPPA.312-5-a-1")] == 1


def test_set_state_is_in_force_at_once_and_never_goes_back(engine: Engine) -> None:
    guard = guard_of(engine, state_table([{**US_CHILD, "version": 5}]))
    assert guard.guard(_one()).table.num_rows == 1
    guard.set_state(state_table([{**US_CHILD, "grants": 0, "grant_by": None, "version": 6}]))
    assert guard.guard(_one()).table.num_rows == 0
    with pytest.raises(InputError, match="older than the current"):
        guard.set_state(state_table([{**US_CHILD, "version": 4}]))
    assert guard.guard(_one()).table.num_rows == 0


def test_iterator_api(engine: Engine) -> None:
    state = synthetic_state(50, seed=1)
    guard = guard_of(engine, state)
    batches = [b for seed in (1, 2, 3) for b in synthetic_events(50, 200, seed=seed).to_batches()]
    outs = list(guard.guard_iter(batches))
    assert len(outs) == len(batches)
    assert sum(o.table.num_rows for o in outs) == sum(o.counts[("keep", "event", "")] for o in outs)
    out_batches = list(guard.record_batches(batches))
    assert sum(b.num_rows for b in out_batches) == sum(o.table.num_rows for o in outs)
    assert all(isinstance(b, pa.RecordBatch) for b in out_batches)


@pytest.mark.parametrize(("change", "where"), [
    ({"kind": "telepathy"}, "events[0].kind"),
    ({"recipient": "the moon"}, "events[0].recipient"),
    ({"lat": 91.0}, "events[0].lat"),
    ({"ip": "999.1.1.1"}, "events[0].ip"),
])
def test_bad_events_name_the_row(engine: Engine, change: dict[str, Any], where: str) -> None:
    guard = guard_of(engine, state_table([{**US_CHILD, "jurisdiction": "DE", "birth_date": None, "age": 30}]))
    with pytest.raises(InputError) as err:
        guard.guard(_one(**change))
    assert err.value.where == where


def test_bad_event_columns(engine: Engine) -> None:
    guard = guard_of(engine, state_table([US_CHILD]))
    with pytest.raises(InputError, match="missing column `kind`"):
        guard.guard(_one().drop_columns(["kind"]))
    with pytest.raises(InputError, match="`ts` must be a timestamp"):
        guard.guard(_one().set_column(2, "ts", pa.array(["yesterday"])))
    with pytest.raises(InputError, match="together"):
        guard.guard(_one().drop_columns(["lon"]))


@pytest.mark.parametrize(("change", "message"), [
    ({"jurisdiction": "XX"}, "unknown jurisdiction `XX`"),
    ({"grants": 1 << 20}, "out of range"),
    ({"grant_by": "uncle"}, "grant_by"),
    ({"assurance": "vibes"}, "unknown assurance"),
    ({"age": 7}, "not both"),
])
def test_bad_state_rows_fail_the_whole_load(engine: Engine, change: dict[str, Any], message: str) -> None:
    rows = [{**US_CHILD, "subject_id": "ok"}, {**US_CHILD, **change}]
    with pytest.raises(InputError, match=message) as err:
        guard_of(engine, state_table(rows))
    assert (err.value.where or "").startswith("state[1]")


def test_duplicate_subjects_and_bad_config(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="listed twice"):
        guard_of(engine, state_table([US_CHILD, US_CHILD]))
    cfg = tmp_path / "guard.yaml"
    cfg.write_text("version: 1\nkinds: {}\n")
    with pytest.raises(RulebookError):
        guard_of(engine, state_table([US_CHILD]), config=cfg)


def test_the_sorting_path_for_huge_states_agrees_too(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """States too big for the per-day maps take the sorting path: same rows, same counts."""
    monkeypatch.setattr(stream_apply, "_DENSE_LIMIT", 64)
    state = synthetic_state(120, seed=8, random_masks=True)
    guard = guard_of(engine, state)
    for seed in (9, 10):
        evs = synthetic_events(120, 800, seed=seed)
        fast = guard.guard(evs)
        rows, counts = reference_guard(engine.rulebook, guard.cfg, state, evs, KEYS)
        assert fast.table.to_pylist() == rows and fast.counts == counts


def test_an_unreadable_state_file_is_an_error_until_it_reads(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "state.parquet"
    pq.write_table(state_table([US_CHILD]), path)
    guard = guard_of(engine, path, refresh_ms=10)
    assert guard.guard(_one()).table.num_rows == 1
    path.write_bytes(b"half a parquet file")  # a non-atomic writer caught mid-write
    time.sleep(0.02)
    for _ in range(2):  # at every check, not once: never silently on with the older state
        with pytest.raises(InputError, match="not a Parquet or Arrow file"):
            guard.guard(_one())
        time.sleep(0.02)
    pq.write_table(state_table([{**US_CHILD, "grants": 0, "grant_by": None, "version": 2}]), path)
    time.sleep(0.02)
    assert guard.guard(_one()).table.num_rows == 0
