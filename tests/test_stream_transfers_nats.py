"""`tutela stream nats --registry`: the JetStream consumer drops events whose recipient the transfer
gate denies, against a real nats-server (the helpers and the server fixture of test_stream_nats)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from test_stream_nats import KEY_TEXT, SERVER, _cleanup, _read_out, _setup
from test_stream_nats import nats_server as nats_server  # the module's server, started if down
from tutela.guard.stream_nats import from_ipc, to_ipc

TS = pa.timestamp("ms", tz="UTC")


def _batch(recipients: list[str | None]) -> pa.Table:
    n = len(recipients)
    return pa.table({"event_id": pa.array(range(n), pa.int64()), "subject_id": ["a"] * n,
                     "ts": pa.array([dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)] * n, TS), "kind": ["watch"] * n,
                     "recipient": ["processor"] * n, "recipient_id": pa.array(recipients, pa.string())})


def test_nats_consumer_gates_recipients(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    pq.write_table(pa.table({"subject_id": ["a"], "jurisdiction": ["NL"], "age": pa.array([30], pa.int64()),
                             "grants": pa.array([(1 << 13) - 1], pa.int64()), "grant_by": ["self"]}),
                   tmp_path / "state.parquet")
    registry = tmp_path / "recipients.yml"
    registry.write_text("version: 1\nrecipients:\n"
                        "  - {id: mumbai, name: Mumbai Moderation, kind: processor, country: IN}\n"
                        "  - {id: shibuya, name: Shibuya, kind: processor, country: JP}\n", "utf-8")
    asyncio.run(_setup(tag, [to_ipc(_batch(["mumbai", "shibuya", None])), to_ipc(_batch(["ghost"]))]))
    try:
        cmd = [sys.executable, "-m", "tutela", "stream", "nats", "--from", f"tin.{tag}", "--to", f"tout.{tag}",
               "--stream", f"TIN_{tag}", "--durable", "guard", "--state", str(tmp_path / "state.parquet"),
               "--server", SERVER, "--idle-exit", "3", "--registry", str(registry), "--format", "json"]
        proc = subprocess.run(cmd, env={**os.environ, "TUTELA_STREAM_KEYS": KEY_TEXT}, capture_output=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        stats = json.loads(proc.stdout)
        assert stats["messages"] == 1 and stats["terminated"] == 1  # the unknown recipient's batch: refused
        msgs, consumer = asyncio.run(_read_out(tag))
        assert len(msgs) == 1 and consumer.num_ack_pending == 0
        assert [r["recipient_id"] for r in from_ipc(msgs[0].data).to_pylist()] == ["shibuya", None]
        counts = json.loads(msgs[0].headers["Tutela-Counts"])
        assert {"action": "drop", "field": "event", "reason": "transfer_denied", "events": 1} in counts
    finally:
        asyncio.run(_cleanup(tag))
