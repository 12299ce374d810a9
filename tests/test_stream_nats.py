"""The NATS JetStream consumer against a real nats-server: a consumer process killed with SIGKILL
mid-stream and restarted loses no event and leaks none unguarded (duplicates allowed, counted)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nats
import pyarrow.parquet as pq
import pytest
from nats.js.api import StreamConfig

from tutela.engine import Engine
from tutela.guard.stream_config import Keyring
from tutela.guard.stream_nats import from_ipc, to_ipc
from tutela.guard.stream_synth import synthetic_events, synthetic_state

SERVER = "nats://127.0.0.1:4222"
KEY_TEXT = "k1:" + "3c" * 16
MESSAGES, PER_MESSAGE = 1200, 10


def _up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def nats_server() -> None:
    if not _up():  # as scripts/ensure-services.sh does in `make test`
        subprocess.run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec",
                        "/usr/sbin/nats-server", "--", "-a", "127.0.0.1", "-p", "4222", "-js",
                        "-sd", "/var/lib/nats-server"], check=False)
        for _ in range(50):
            if _up():
                break
            time.sleep(0.1)
    assert _up(), "nats-server is not running on 127.0.0.1:4222"


async def _setup(tag: str, payloads: list[bytes]) -> None:
    nc = await nats.connect(SERVER)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=f"TIN_{tag}", subjects=[f"tin.{tag}"]))
    await js.add_stream(StreamConfig(name=f"TOUT_{tag}", subjects=[f"tout.{tag}"], duplicate_window=600.0))
    for p in payloads:
        await js.publish(f"tin.{tag}", p)
    await nc.drain()


async def _out_count(tag: str) -> int:
    nc = await nats.connect(SERVER)
    info = await nc.jetstream().stream_info(f"TOUT_{tag}")
    await nc.drain()
    return int(info.state.messages)


async def _read_out(tag: str) -> tuple[list[Any], Any]:
    nc = await nats.connect(SERVER)
    js = nc.jetstream()
    sub = await js.pull_subscribe(f"tout.{tag}", durable=f"check_{tag}", stream=f"TOUT_{tag}")
    msgs: list[Any] = []
    while True:
        try:
            got = await sub.fetch(200, timeout=2.0)
        except (nats.errors.TimeoutError, TimeoutError):
            break
        for m in got:
            await m.ack()
        msgs += got
    consumer = await js.consumer_info(f"TIN_{tag}", "guard")
    await nc.drain()
    return msgs, consumer


async def _cleanup(tag: str) -> None:
    nc = await nats.connect(SERVER)
    js = nc.jetstream()
    for name in (f"TIN_{tag}", f"TOUT_{tag}"):
        await js.delete_stream(name)
    await nc.drain()


def _consumer(tag: str, state: Path, idle_exit: float | None = None,
              log: Path | None = None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "tutela", "stream", "nats", "--from", f"tin.{tag}", "--to", f"tout.{tag}",
           "--stream", f"TIN_{tag}", "--durable", "guard", "--state", str(state), "--server", SERVER,
           "--batch", "4", "--ack-wait", "2", "--format", "json"]
    if idle_exit is not None:
        cmd += ["--idle-exit", str(idle_exit)]
    env = {**os.environ, "TUTELA_STREAM_KEYS": KEY_TEXT}
    err = log.open("wb") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err)


def test_sigkill_mid_stream_loses_nothing_and_leaks_nothing(engine: Engine, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    state = synthetic_state(300, seed=21)
    state_path = tmp_path / "state.parquet"
    pq.write_table(state, state_path)
    batches = [synthetic_events(300, PER_MESSAGE, seed=100 + i) for i in range(MESSAGES)]
    asyncio.run(_setup(tag, [to_ipc(b) for b in batches]))
    try:
        first = _consumer(tag, state_path)
        deadline = time.monotonic() + 240
        while asyncio.run(_out_count(tag)) < MESSAGES // 10:
            assert first.poll() is None, "the consumer died on its own"
            assert time.monotonic() < deadline, "the consumer made no progress"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        at_kill = asyncio.run(_out_count(tag))
        assert at_kill < MESSAGES, "the kill came after the end: not mid-stream"
        second = _consumer(tag, state_path, idle_exit=4, log=tmp_path / "second.log")
        out, _ = second.communicate(timeout=400)
        assert second.returncode == 0, (tmp_path / "second.log").read_text()[-3000:]
        stats = json.loads(out)
        assert stats["terminated"] == 0 and stats["messages"] > 0
        msgs, consumer = asyncio.run(_read_out(tag))
        assert consumer.num_pending == 0 and consumer.num_ack_pending == 0  # every input acked

        guard = engine.stream_guard(state, keys=Keyring.parse(KEY_TEXT))
        expected: dict[int, dict[str, Any]] = {}
        for b in batches:
            for row in guard.guard(b).table.to_pylist():
                expected[row["event_id"]] = row
        seen: dict[int, int] = {}
        for m in msgs:
            for row in from_ipc(m.data).to_pylist():
                assert row["event_id"] in expected, "an event the guard drops reached the output"
                assert row == expected[row["event_id"]], "an output event is not as the guard makes it"
                seen[row["event_id"]] = seen.get(row["event_id"], 0) + 1
        assert set(seen) == set(expected), "a guarded event was lost"
        duplicates = sum(n - 1 for n in seen.values())
        assert len(msgs) >= MESSAGES  # one output per input (dropped-only batches publish empty)
        print(f"killed at {at_kill}/{MESSAGES} outputs; {len(msgs)} output messages; "
              f"{duplicates} duplicate events; the restarted consumer guarded {stats['messages']} message(s), "
              f"{stats['redelivered']} of them redelivered")
    finally:
        asyncio.run(_cleanup(tag))


def test_a_bad_message_is_terminated_not_published(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    state = synthetic_state(20, seed=2)
    pq.write_table(state, tmp_path / "state.parquet")
    good = to_ipc(synthetic_events(20, 5, seed=3))
    asyncio.run(_setup(tag, [b"not arrow at all", good]))
    try:
        proc = _consumer(tag, tmp_path / "state.parquet", idle_exit=3, log=tmp_path / "consumer.log")
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, (tmp_path / "consumer.log").read_text()[-3000:]
        assert b'"terminated": 1' in out and b'"messages": 1' in out
        msgs, consumer = asyncio.run(_read_out(tag))
        assert len(msgs) == 1 and consumer.num_ack_pending == 0
    finally:
        asyncio.run(_cleanup(tag))
