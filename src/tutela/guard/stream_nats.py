"""The stream guard as a NATS JetStream consumer: read one subject, publish guarded events to another.

At-least-once, and never unguarded:
  1. fetch a message (an Arrow IPC stream of event batches) from a durable pull consumer;
  2. guard it; publish the guarded batch to the output subject, with header
     `Nats-Msg-Id: <stream>:<sequence>` (JetStream drops a re-publish within its duplicate window)
     and `Tutela-Counts` (what was done and why, no personal data);
  3. only once JetStream has acknowledged that publish (PubAck), ack the input message.
A consumer killed anywhere in between leaves the input unacked: it is redelivered after `ack_wait`
and guarded again; nothing reaches the output subject but what the guard produced. A message that
is not a valid event batch is terminated (never redelivered, never published) and counted; when
the state file cannot be read, the message is nak'ed and comes back (the state is not its fault).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import nats
import pyarrow as pa
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from tutela.errors import InputError
from tutela.guard.stream import StreamGuard

log = logging.getLogger("tutela.guard.stream_nats")


@dataclass
class ConsumerStats:
    messages: int = 0
    events_in: int = 0
    events_out: int = 0
    terminated: int = 0
    redelivered: int = 0  # inputs seen again (an earlier consumer died before its ack)
    actions: dict[str, int] = field(default_factory=dict)


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(payload: bytes) -> pa.Table:
    try:
        return pa.ipc.open_stream(payload).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not an Arrow IPC stream: {type(exc).__name__}", where="message") from None


@dataclass
class NatsConsumer:
    guard: StreamGuard
    subject_in: str
    subject_out: str
    stream: str
    durable: str
    servers: str = "nats://127.0.0.1:4222"
    batch: int = 16
    ack_wait_s: float = 10.0
    idle_exit_s: float | None = None  # stop after this long without a message (None: run forever)
    on_message: Callable[[ConsumerStats], None] | None = None
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    async def run(self) -> ConsumerStats:
        nc = await nats.connect(self.servers, connect_timeout=5, max_reconnect_attempts=3)
        try:
            js = nc.jetstream()
            config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                                    ack_wait=self.ack_wait_s, max_deliver=-1)
            sub = await js.pull_subscribe(self.subject_in, durable=self.durable, stream=self.stream, config=config)
            idle = 0.0
            while self.idle_exit_s is None or idle < self.idle_exit_s:
                try:
                    msgs = await sub.fetch(self.batch, timeout=1.0)
                except (NatsTimeout, TimeoutError):  # nats-py raises either, by code path
                    idle += 1.0
                    continue
                idle = 0.0
                for msg in msgs:
                    await self._one(js, msg)
            return self.stats
        finally:
            await nc.close()  # every ack was confirmed (ack_sync); nothing is left to flush

    async def _one(self, js: JetStreamContext, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        try:
            state = self.guard.source.current()
        except InputError as exc:  # the state, not the message, is at fault: it comes back later
            log.warning("message %s left for redelivery: the state is unreadable at %s", seq, exc.where)
            await msg.nak(delay=1.0)
            return
        try:
            out = self.guard.guard(from_ipc(msg.data), where=f"message[{seq}]", state=state)
        except InputError as exc:  # logged by position only: the message may hold personal data
            log.warning("terminated message %s: %s at %s", seq, type(exc).__name__, exc.where)
            await msg.term()
            self.stats.terminated += 1
            return
        headers = {"Nats-Msg-Id": f"{self.stream}:{seq}", "Tutela-Counts": json.dumps(out.summary()),
                   "Tutela-State-Version": str(out.state_version)}
        payload = to_ipc(out.table)
        for attempt in range(1, 4):  # the same Nats-Msg-Id each time: JetStream keeps one copy
            try:
                await js.publish(self.subject_out, payload, timeout=10.0, headers=headers)  # waits for the PubAck
                break
            except (NatsTimeout, TimeoutError):
                if attempt == 3:
                    raise  # the input stays unacked and is redelivered
        await msg.ack_sync(timeout=10.0)
        self.stats.messages += 1
        self.stats.redelivered += msg.metadata.num_delivered > 1
        self.stats.events_in += sum(n for (a, _, _), n in out.counts.items() if a in ("keep", "drop"))
        self.stats.events_out += out.table.num_rows
        for (action, _, _), n in out.counts.items():
            self.stats.actions[action] = self.stats.actions.get(action, 0) + n
        if self.on_message is not None:
            self.on_message(self.stats)

    def run_sync(self) -> ConsumerStats:
        return asyncio.run(self.run())
