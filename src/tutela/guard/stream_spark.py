"""The stream guard inside Spark: `DataFrame.mapInArrow`, one guard per Python worker.

    spark = tutela.connectors.spark.local_session()
    guarded = guard_dataframe(events_df, state_table)    # a lazy DataFrame; write it to the lake

Each Python worker builds its own Engine and guard once (the compiled rulebook is not shipped;
the state travels as Arrow IPC bytes). Keys: given `keys`, they travel with the task (fine for
local mode, where the task never leaves the machine); without, each worker reads
TUTELA_STREAM_KEYS (set `spark.executorEnv.TUTELA_STREAM_KEYS` on a cluster). With a transfer
gate, its registry travels as JSON and each worker gates `recipient_id` against it.
Per-batch counts stay on the workers (Spark has no side channel for them here); the guarded rows
are the output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from tutela.guard.stream import StreamGuard
from tutela.guard.stream_config import Keyring
from tutela.guard.stream_events import KNOWN
from tutela.policy import CompiledPolicy
from tutela.rulebook import load_rulebook
from tutela.taxonomy import load_taxonomy
from tutela.transfers import Recipient, Registry, TransferGate

_GUARDS: dict[bytes, StreamGuard] = {}  # per worker process: state digest -> guard
IDENTIFIERS = ("subject_id", "device_id", "ip")


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _worker_guard(state: bytes, keys: str | None, registry: str | None = None) -> StreamGuard:
    key = state + (keys or "").encode() + b"\x00" + (registry or "").encode()
    guard = _GUARDS.get(key)
    if guard is None:
        table = pa.ipc.open_stream(state).read_all()
        policy = CompiledPolicy(load_rulebook(), load_taxonomy())
        gate = None
        if registry is not None:
            data = json.loads(registry)
            reg = Registry(tuple(Recipient.model_validate(r) for r in data["recipients"]), data["source"],
                           data["tia_review_days"])
            gate = TransferGate(policy.book, reg)
        guard = _GUARDS[key] = StreamGuard.build(policy, table, keys=Keyring.parse(keys) if keys else None,
                                                 transfers=gate)
    return guard


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    cols = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def guard_dataframe(df: Any, state: pa.Table, keys: Keyring | None = None,
                    transfers: TransferGate | None = None) -> Any:
    """`df` a Spark DataFrame of events (columns as in `stream_events`); the guarded DataFrame.
    `transfers`: the gate for events that name a `recipient_id`."""
    fields = [StructField(f.name, StringType() if f.name in IDENTIFIERS else f.dataType, True)
              for f in df.schema.fields if f.name in KNOWN]
    schema = StructType([*fields, StructField("retain_until", TimestampType(), True),
                         StructField("key_id", StringType(), True)])
    state_bytes = _ipc(state)
    key_text = None
    if keys is not None:  # the current key first, as TUTELA_STREAM_KEYS has it
        key_text = ",".join([f"{keys.current}:{keys.secret.hex()}"]
                            + [f"{k}:{v.hex()}" for k, v in keys.keys.items() if k != keys.current])

    registry = None
    if transfers is not None:
        r = transfers.registry
        registry = json.dumps({"source": r.source, "tia_review_days": r.tia_review_days,
                               "recipients": [x.model_dump(mode="json") for x in r]})

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        guard = _worker_guard(state_bytes, key_text, registry)
        for out in guard.guard_iter(batches):
            for b in out.table.to_batches():
                yield _plain(b)

    sc = df.sparkSession.sparkContext
    if sc.master.startswith("local"):  # local workers run this interpreter, which has Tutela installed
        sc.pythonExec = sys.executable
    return df.mapInArrow(run, schema)
