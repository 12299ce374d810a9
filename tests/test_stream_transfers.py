"""The transfer gate in the stream guard (vectorised against the per-row oracle on generated
batches), and the stream guard over the API: Arrow IPC and JSON lines, counts, 413/415/422."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_stream_guard import DAY0, KEYS, TS, state_table, subjects
from tutela.engine import Engine
from tutela.errors import InputError
from tutela.guard.stream_config import KINDS, keys_from_env
from tutela.guard.stream_reference import reference_guard
from tutela.transfers import Registry, TransferGate
from tutela.transfers.models import Recipient

RECIPIENTS = (  # every mechanism, TIAs near the generated days, staff in a third country
    {"id": "eirvault", "name": "Eirvault Storage", "kind": "processor", "country": "IE"},
    {"id": "mumbai", "name": "Mumbai Moderation", "kind": "processor", "country": "IN"},
    {"id": "bengaluru", "name": "Bengaluru T&S", "kind": "processor", "country": "IN", "scc_module": "C2P",
     "tia_date": "2026-03-01"},
    {"id": "bayline", "name": "Bayline Analytics", "kind": "processor", "country": "US", "dpf_certified": True},
    {"id": "lonestar", "name": "Lone Star", "kind": "third_party", "country": "US"},
    {"id": "shibuya", "name": "Shibuya", "kind": "processor", "country": "JP"},
    {"id": "staff-cn", "name": "Support (Shanghai)", "kind": "remote_staff", "country": "CN", "scc_module": "C2C",
     "tia_date": "2025-06-01", "scc_signed": "2025-05-01"},
    {"id": "group-sg", "name": "Group SG", "kind": "processor", "country": "SG", "bcr_approved": "2026-06-01",
     "tia_date": "2026-01-01"},
)
IDS = [r["id"] for r in RECIPIENTS]


@pytest.fixture(scope="module")
def gate(engine: Engine) -> TransferGate:
    return TransferGate(engine.rulebook, Registry(tuple(Recipient.model_validate(r) for r in RECIPIENTS), "test"))


def events_table(rows: list[dict[str, Any]], extra: bool = False) -> pa.Table:
    cols = {
        "event_id": pa.array(list(range(len(rows))), pa.int64()),
        "subject_id": pa.array([r["subject_id"] for r in rows], pa.string()),
        "ts": pa.array([r["ts"] for r in rows], TS),
        "kind": pa.array([r["kind"] for r in rows], pa.string()),
        "recipient": pa.array([r.get("recipient") for r in rows], pa.string()),
        "recipient_id": pa.array([r.get("recipient_id") for r in rows], pa.string()),
        "ip": pa.array([r.get("ip") for r in rows], pa.string()),
        "device_id": pa.array([r.get("device_id") for r in rows], pa.string()),
    }
    if extra:
        cols["free_text"] = pa.array(["x"] * len(rows))
    return pa.table(cols)


@st.composite
def batches(draw: st.DrawFn) -> tuple[pa.Table, pa.Table]:
    people = draw(st.lists(subjects(), min_size=1, max_size=6))
    for i, p in enumerate(people):
        p["subject_id"] = f"s{i}"
    ids = [p["subject_id"] for p in people]
    evs = draw(st.lists(st.fixed_dictionaries({
        "subject_id": st.sampled_from([*ids, "stranger"]), "kind": st.sampled_from(KINDS),
        "ts": st.integers(0, 2 * 365 * 24 * 60).map(lambda m: DAY0 + dt.timedelta(minutes=m)),
        "recipient": st.sampled_from([None, "first_party", "processor", "third_party"]),
        "recipient_id": st.sampled_from([None, *IDS]),
        "ip": st.one_of(st.none(), st.ip_addresses().map(str)),
        "device_id": st.one_of(st.none(), st.sampled_from(["d1", "d2"]))}), max_size=30))
    return state_table(people), events_table(evs, extra=draw(st.booleans()))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches())
def test_gated_fast_path_agrees_with_the_oracle(engine: Engine, gate: TransferGate,
                                                batch: tuple[pa.Table, pa.Table]) -> None:
    state, evs = batch
    guard = engine.stream_guard(state, keys=KEYS, transfers=gate)
    fast = guard.guard(evs)
    rows, counts = reference_guard(engine.rulebook, guard.cfg, state, evs, KEYS, registry=gate.registry)
    assert fast.table.to_pylist() == rows
    assert fast.counts == counts
    assert fast.counts[("keep", "event", "")] + sum(
        n for (a, _, _), n in fast.counts.items() if a == "drop") == evs.num_rows


@pytest.mark.parametrize("dense", [True, False])
def test_gated_synthetic_day_agrees_with_the_oracle(engine: Engine, gate: TransferGate, dense: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from tutela.guard import stream_transfers
    from tutela.guard.stream_synth import synthetic_events, synthetic_state

    if not dense:  # distinct combinations by sorting, as for a huge state or a long span of days
        monkeypatch.setattr(stream_transfers, "_DENSE_LIMIT", 0)

    state = synthetic_state(300, seed=8, random_masks=True)
    guard = engine.stream_guard(state, keys=KEYS, transfers=gate)
    for seed in (9, 10):  # the second batch reuses the gate's answers
        evs = synthetic_events(300, 2000, seed=seed)
        rng = np.random.default_rng(seed)
        codes = pa.array(rng.integers(0, len(IDS) + 1, evs.num_rows).astype(np.int32),
                         mask=rng.random(evs.num_rows) < 0.2)
        evs = evs.append_column("recipient_id", pa.DictionaryArray.from_arrays(codes, pa.array([*IDS, "Shibuya"])))
        fast = guard.guard(evs)
        rows, counts = reference_guard(engine.rulebook, guard.cfg, state, evs, KEYS, registry=gate.registry)
        assert fast.table.to_pylist() == rows and fast.counts == counts
        assert counts[("drop", "event", "transfer_denied")] > 100  # e.g. EU children's data to Mumbai
        assert {"mumbai", "shibuya", None} <= set(fast.table.column("recipient_id").to_pylist())


def _event(subject: str, recipient_id: str | None, day: dt.date = dt.date(2026, 3, 10)) -> dict[str, Any]:
    return {"subject_id": subject, "kind": "watch", "recipient": "processor", "recipient_id": recipient_id,
            "ts": dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)}


def test_denied_transfers_are_dropped_and_counted(engine: Engine, gate: TransferGate) -> None:
    everything = (1 << 13) - 1
    state = state_table([{"subject_id": "nl-child", "jurisdiction": "NL", "age": 12, "grants": everything,
                          "grant_by": "parent", "assurance": "verified"},
                         {"subject_id": "us-adult", "jurisdiction": "US", "age": 30, "grants": everything,
                          "grant_by": "self"}])
    guard = engine.stream_guard(state, keys=KEYS, transfers=gate)
    late = dt.date(2026, 7, 1)  # the Shanghai TIA of 2025-06-01 is 395 days old
    evs = events_table([_event("nl-child", "mumbai"), _event("nl-child", "eirvault"), _event("nl-child", "shibuya"),
                        _event("nl-child", "staff-cn", late), _event("us-adult", "mumbai"), _event("nl-child", None),
                        _event("nl-child", "staff-cn")])
    out = guard.guard(evs)
    assert out.counts[("drop", "event", "transfer_denied")] == 2  # mumbai (no SCC) and staff-cn (TIA stale)
    rows = out.table.to_pylist()
    kept = [r["recipient_id"] for r in rows if r["subject_id"] == "nl-child"]
    assert kept == ["eirvault", "shibuya", None, "staff-cn"]  # in input order
    assert [r["recipient_id"] for r in rows if r["subject_id"] == "us-adult"] == ["mumbai"]  # no regime: allowed


def test_coming_of_age_on_29_february_changes_the_answer_on_the_day(engine: Engine) -> None:
    stale = Registry((Recipient(id="in", name="IN", kind="processor", country="IN", scc_module="C2P",
                                tia_date=dt.date(2024, 9, 16)),), "test")
    gate = TransferGate(engine.rulebook, stale)
    state = state_table([{"subject_id": "leap", "jurisdiction": "NL", "birth_date": dt.date(2008, 2, 29)},
                         {"subject_id": "fixed", "jurisdiction": "NL", "age": 17}])
    days = [dt.date(2026, 2, 27), dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
    evs = events_table([_event(s, "in", d) for d in days for s in ("leap", "fixed")])
    guard = engine.stream_guard(state, keys=KEYS, transfers=gate)
    out = guard.guard(evs)
    rows, counts = reference_guard(engine.rulebook, guard.cfg, state, evs, KEYS, registry=stale)
    assert out.table.to_pylist() == rows and out.counts == counts
    # a child (stale TIA: denied) until 1 March 2026, the first day of 18 in a common year; the fixed 17 always
    assert counts[("drop", "event", "transfer_denied")] == 2 + 4


def test_events_naming_recipients_need_a_gate_and_known_ids(engine: Engine, gate: TransferGate) -> None:
    state = state_table([{"subject_id": "a", "jurisdiction": "NL", "age": 12}])
    with pytest.raises(InputError, match="no transfer registry") as e:
        engine.stream_guard(state, keys=KEYS).guard(events_table([_event("a", "mumbai")]))
    assert e.value.where == "events.recipient_id"
    with pytest.raises(InputError, match="unknown recipient `ghost`") as e2:
        engine.stream_guard(state, keys=KEYS, transfers=gate).guard(
            events_table([_event("a", "mumbai"), _event("a", "ghost")]))
    assert e2.value.where == "events[1].recipient_id"


# -- the stream guard over the API -----------------------------------------------------------

ARROW = "application/vnd.apache.arrow.stream"


@pytest.fixture()
def client(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from fastapi.testclient import TestClient

    from tutela.api import create_app

    state = state_table([{"subject_id": "nl-child", "jurisdiction": "NL", "age": 12, "grants": 0b1,
                          "grant_by": "parent", "assurance": "verified"},
                         {"subject_id": "us-adult", "jurisdiction": "US", "age": 30, "grants": 0b1111111,
                          "grant_by": "self"}])
    pq.write_table(state, tmp_path / "state.parquet")
    registry = tmp_path / "recipients.yml"
    registry.write_text("version: 1\nrecipients:\n" + "".join(f"  - {json.dumps(r)}\n" for r in RECIPIENTS), "utf-8")
    monkeypatch.setenv("TUTELA_STREAM_STATE", str(tmp_path / "state.parquet"))
    monkeypatch.setenv("TUTELA_STREAM_KEYS", "k1:" + "ab" * 16)
    monkeypatch.setenv("TUTELA_TRANSFER_REGISTRY", str(registry))
    return TestClient(create_app(engine))


def _arrow(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def test_api_guards_arrow_in_arrow_out(client: Any, engine: Engine, gate: TransferGate) -> None:
    evs = events_table([_event("nl-child", "mumbai"), _event("us-adult", "lonestar"), _event("us-adult", None),
                        _event("stranger", None)])
    r = client.post("/v1/stream/guard", content=_arrow(evs), headers={"content-type": ARROW})
    assert r.status_code == 200 and r.headers["content-type"] == ARROW
    out = pa.ipc.open_stream(r.content).read_all()
    counts = json.loads(r.headers["tutela-counts"])
    # the same as the library call under the same state and keys
    state = pq.read_table(os.environ["TUTELA_STREAM_STATE"])
    lib = engine.stream_guard(state, keys=keys_from_env(), transfers=gate).guard(evs)
    assert out.to_pylist() == lib.table.to_pylist() and counts == lib.summary()
    assert {"action": "drop", "field": "event", "reason": "transfer_denied", "events": 1} in counts
    assert r.headers["tutela-state-version"] == "1"


def test_api_guards_json_lines(client: Any) -> None:
    lines = [{"event_id": 1, "subject_id": "us-adult", "ts": "2026-03-10T09:00:00Z", "kind": "location_ping",
              "lat": 52.37311, "lon": 4.89221, "ip": "203.0.113.77", "recipient_id": "bayline"},
             {"event_id": 2, "subject_id": "nl-child", "ts": "2026-03-10T09:00:00", "kind": "watch",
              "recipient": "processor", "recipient_id": "mumbai"},
             {"event_id": 3, "subject_id": "us-adult", "ts": "2026-03-10T09:00:00+02:00", "kind": "watch",
              "notes": {"free": "text"}}]
    body = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    r = client.post("/v1/stream/guard", content=body, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200
    out = [json.loads(x) for x in r.text.splitlines()]
    assert [o["event_id"] for o in out] == [1, 3]
    assert out[0]["ts"] == "2026-03-10T09:00:00Z" and out[1]["ts"] == "2026-03-10T07:00:00Z"
    assert "notes" not in out[1] and out[0]["retain_until"].endswith("Z")
    counts = json.loads(r.headers["tutela-counts"])
    assert {"action": "drop_column", "field": "notes", "reason": "not-in-stream-guard-schema", "events": 3} in counts
    assert {"action": "drop", "field": "event", "reason": "transfer_denied", "events": 1} in counts


@pytest.mark.parametrize("ctype, body, where, message", [
    (ARROW, b"not arrow at all", "body", "not an Arrow IPC stream"),
    ("application/x-ndjson", b'{"subject_id": "a", "ts": "2026-03-10T09:00:00Z", "kind": "watch"}\n[1]\n',
     "body line 2", "JSON object"),
    ("application/x-ndjson", b'{"subject_id": "a", "ts": "yesterday", "kind": "watch"}\n', "body line 1.ts",
     "ISO 8601"),
    ("application/x-ndjson", b'{"subject_id": "a", "ts": "2026-03-10T09:00:00Z", "kind": "watch", "lat": "52"}',
     "body line 1.lat", "number"),
    ("application/x-ndjson", b'{"subject_id": "a", "ts": "2026-03-10T09:00:00Z"}\n', "body", "missing column `kind`"),
    ("application/x-ndjson", b'{"subject_id": "a", "ts": "2026-03-10T09:00:00Z", "kind": "dance"}\n',
     "events[0].kind", "unknown kind"),
    ("application/x-ndjson", b'{"subject_id": "a", "ts": "2026-03-10T09:00:00Z", "kind": "watch", '
                             b'"recipient_id": "ghost"}\n', "body[0].recipient_id", "unknown recipient"),
    ("application/x-ndjson", b"\n\n", "body", "no events"),
    ("application/x-ndjson", b"", "body", "empty body"),
])
def test_api_bad_input_is_422_naming_what(client: Any, ctype: str, body: bytes, where: str, message: str) -> None:
    r = client.post("/v1/stream/guard", content=body, headers={"content-type": ctype})
    assert r.status_code == 422, r.text
    assert message in r.json()["message"] and r.json()["where"] == where


def test_api_missing_arrow_column_and_limits(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    no_kind = pa.table({"subject_id": ["a"], "ts": pa.array([dt.datetime(2026, 3, 1, tzinfo=dt.UTC)], TS)})
    r = client.post("/v1/stream/guard", content=_arrow(no_kind), headers={"content-type": ARROW})
    assert r.status_code == 422 and "missing column `kind`" in r.json()["message"]
    r = client.post("/v1/stream/guard", content=b"{}", headers={"content-type": "text/csv"})
    assert r.status_code == 415 and ARROW in r.json()["hint"]
    monkeypatch.setenv("TUTELA_STREAM_MAX_BYTES", "100")
    big = events_table([_event("us-adult", None)] * 50)
    r = client.post("/v1/stream/guard", content=_arrow(big), headers={"content-type": ARROW})
    assert r.status_code == 413 and r.json()["error"] == "TooLarge"
    monkeypatch.delenv("TUTELA_STREAM_MAX_BYTES")
    monkeypatch.delenv("TUTELA_STREAM_STATE")
    r = client.post("/v1/stream/guard", content=_arrow(big), headers={"content-type": ARROW})
    assert r.status_code == 422 and r.json()["where"] == "TUTELA_STREAM_STATE"


def test_cli_stream_guard_with_a_registry(engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from cli_inprocess import run_cli

    monkeypatch.setenv("TUTELA_STREAM_KEYS", "k1:" + "ab" * 16)
    pq.write_table(state_table([{"subject_id": "a", "jurisdiction": "NL", "age": 30, "grants": (1 << 13) - 1,
                                 "grant_by": "self"}]), tmp_path / "state.parquet")
    pq.write_table(events_table([_event("a", "mumbai"), _event("a", "shibuya")]), tmp_path / "events.parquet")
    registry = tmp_path / "recipients.yml"
    registry.write_text("version: 1\nrecipients:\n" + "".join(f"  - {json.dumps(r)}\n" for r in RECIPIENTS), "utf-8")
    args = ["stream", "guard", "--in", str(tmp_path / "events.parquet"), "--state", str(tmp_path / "state.parquet"),
            "--out", str(tmp_path / "out.parquet"), "--format", "json"]
    code, out, _ = run_cli(capsys, monkeypatch, *args, "--registry", str(registry))
    assert code == 0 and json.loads(out)["events_out"] == 1
    assert pq.read_table(tmp_path / "out.parquet").column("recipient_id").to_pylist() == ["shibuya"]
    assert {"action": "drop", "field": "event", "reason": "transfer_denied", "events": 1} in json.loads(out)["counts"]
    code, out, _ = run_cli(capsys, monkeypatch, *args)  # recipients named but no registry: refused
    assert code == 3 and "no transfer registry" in json.loads(out)["message"]


def test_spark_gates_like_the_library(engine: Engine, gate: TransferGate) -> None:
    from tutela.connectors.spark import local_session
    from tutela.guard.stream_spark import guard_dataframe

    state = state_table([{"subject_id": "a", "jurisdiction": "NL", "age": 30, "grants": (1 << 13) - 1,
                          "grant_by": "self"}])
    evs = events_table([_event("a", r) for r in (*IDS, None)]).drop_columns(["ip", "device_id"])
    evs = evs.set_column(evs.column_names.index("ts"), "ts", evs.column("ts").cast(pa.timestamp("us", "UTC")))
    df = local_session().createDataFrame(evs.to_pandas()).repartition(2)
    got = sorted((r.asDict()["event_id"], r.asDict()["recipient_id"]) for r in
                 guard_dataframe(df, state, keys=KEYS, transfers=gate).collect())
    lib = engine.stream_guard(state, keys=KEYS, transfers=gate).guard(evs)
    assert got == sorted((r["event_id"], r["recipient_id"]) for r in lib.table.to_pylist())
    assert lib.counts[("drop", "event", "transfer_denied")] == 3  # Mumbai, Lone Star; the BCRs of 2026-06-01
