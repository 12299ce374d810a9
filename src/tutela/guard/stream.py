"""The stream guard: platform events in, lawful events out, with counts of what was done and why.

    guard = engine.stream_guard(state=Path("state.parquet"))        # or state=<pa.Table>
    for out in guard.guard_iter(batches):                            # iterable of RecordBatch / Table
        sink.write(out.table); log(out.summary())                    # counts carry no personal data

Per batch: decisions are made once per distinct (jurisdiction, age, grants, event kind, recipient,
day) by the compiled engine (`tutela.policy.batch.decide_table`), then applied per event with
numpy / Arrow: denied events dropped, fields kept, coarsened, truncated, pseudonymised or nulled
(see `stream_plan`), a retention deadline `retain_until` and the pseudonym key id `key_id` stamped.
An event whose subject is not in the state (or whose age is unknown) is dropped: the safest
treatment, counted under `TUTELA-STREAM.unknown-subject`. With a transfer gate, an event whose
`recipient_id` the gate denies for its subject is dropped first (`transfer_denied`, see
`stream_transfers`); events naming recipients without a gate are refused, never sent unchecked.

`stream_reference.reference_guard` is the per-row oracle the tests hold this against.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tutela.errors import InputError
from tutela.guard.stream_apply import Pseudonyms, guard_events
from tutela.guard.stream_config import Keyring, StreamConfig, keys_from_env, load_config
from tutela.guard.stream_events import read_events
from tutela.guard.stream_plan import PlanCache
from tutela.guard.stream_state import StateSource, SubjectState
from tutela.guard.stream_transfers import COLUMN, DENIED, StreamGate, gate_events
from tutela.policy import CompiledPolicy
from tutela.taxonomy import load_taxonomy

if TYPE_CHECKING:
    from tutela.transfers import TransferGate


@dataclass
class GuardedBatch:
    table: pa.Table
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    state_version: int = 0

    def summary(self) -> list[dict[str, Any]]:
        """(action, field, reason) -> events, sorted; no identifiers, no values."""
        return [{"action": a, "field": f, "reason": r, "events": n}
                for (a, f, r), n in sorted(self.counts.items())]


class StreamGuard:
    def __init__(self, policy: CompiledPolicy, state: StateSource, cfg: StreamConfig, keys: Keyring,
                 transfers: TransferGate | None = None):
        self.policy, self.source, self.cfg = policy, state, cfg
        self.gate = StreamGate(transfers) if transfers is not None else None
        # called with each guarded batch's counts and a batch id (the ledger's one aggregate per batch)
        self.on_batch: Callable[[Counter[tuple[str, str, str]], str], object] | None = None
        self._batches = 0
        self._run = uuid.uuid4().hex[:12]  # batch ids: <run>.<n>, unique across guards
        self.pseudonyms = Pseudonyms(keys)
        self._indexed: tuple[SubjectState, dict[str, int]] | None = None
        self._last_rows: tuple[pa.Array, npt.NDArray[np.int64]] | None = None
        bucket = policy.t.age_bucket.tolist()  # ages in one band of the rulebook decide alike
        self._plans = PlanCache(policy, cfg)
        self._band = np.array([bucket.index(b) for b in bucket], np.int64)

    @classmethod
    def build(cls, policy: CompiledPolicy, state: pa.Table | Path | str, keys: Keyring | None = None,
              config: Path | None = None, refresh_ms: int = 1000,
              transfers: TransferGate | None = None) -> StreamGuard:
        """`state` a table (replace it with `set_state`) or a Parquet/Arrow file re-read when it
        changes, checked at most every `refresh_ms` (the revocation bound, docs/guard.md);
        `transfers` the gate for events that name a `recipient_id`."""
        cfg = load_config(policy.book, load_taxonomy(), config)
        if isinstance(state, pa.Table):
            source = StateSource(policy.book, cfg, table=state, refresh_ms=refresh_ms)
        else:
            source = StateSource(policy.book, cfg, path=Path(state), refresh_ms=refresh_ms)
        return cls(policy, source, cfg, keys or keys_from_env(), transfers)

    @property
    def keys(self) -> Keyring:
        return self.pseudonyms.keys

    def set_state(self, table: pa.Table) -> None:
        """A new state, in force for every batch guarded after this returns."""
        self.source.set(table)

    def _rows_of(self, state: SubjectState) -> Callable[[pa.Array], npt.NDArray[np.int64]]:
        """Subject ids -> state rows (-1: not in the state), remembering the last id dictionary."""
        if self._indexed is None or self._indexed[0] is not state:
            self._indexed = (state, {v: i for i, v in enumerate(state.ids.to_pylist())})
            self._last_rows = None
        index = self._indexed[1]

        def rows_of(ids: pa.Array) -> npt.NDArray[np.int64]:
            if self._last_rows is not None and self._last_rows[0].equals(ids):
                return self._last_rows[1]
            rows = np.array([index.get(v, -1) for v in ids.to_pylist()], np.int64)
            self._last_rows = (ids, rows)
            return rows

        return rows_of

    def forget_ids(self) -> None:
        """Drop the remembered subject-id dictionary (a bench of batches that share none)."""
        self._last_rows = None

    def guard(self, batch: pa.RecordBatch | pa.Table, where: str = "events",
              state: SubjectState | None = None) -> GuardedBatch:
        """Guard one batch under `state` (default: the source's current state)."""
        state = self.source.current() if state is None else state
        events = read_events(batch, self._rows_of(state), where)
        denied = 0
        if COLUMN in events.table.column_names:
            if self.gate is None:
                raise InputError(f"events name recipients (`{COLUMN}`) but the stream guard has no transfer registry",
                                 where=f"{where}.{COLUMN}", hint="give the guard a transfer gate (--registry FILE)")
            book = self.policy.book
            events, denied = gate_events(self.gate, state, events, lambda j: book.jurisdictions[j].majority_age, where)
        table, counts = guard_events(self._plans, state, events, self.pseudonyms, self._band)
        if denied:
            counts[("drop", "event", DENIED)] += denied
            for name in events.dropped_columns:  # counted per input event, dropped or not
                counts[("drop_column", name, "not-in-stream-guard-schema")] += denied
        if self.on_batch is not None:
            self._batches += 1
            self.on_batch(counts, f"{self._run}.{self._batches}")
        return GuardedBatch(table, counts, state.version)

    def guard_iter(self, batches: Iterable[pa.RecordBatch | pa.Table]) -> Iterator[GuardedBatch]:
        """The iterator API: each batch guarded under the state current when it is reached."""
        for i, batch in enumerate(batches):
            yield self.guard(batch, where=f"events.batch[{i}]")

    def record_batches(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """RecordBatch in, RecordBatch out (what Spark's `mapInArrow` wants); empty batches skipped."""
        for out in self.guard_iter(batches):
            yield from out.table.to_batches()

    def verify(self, field_name: str, value: str, pseudonym: str, key_id: str) -> bool:
        return self.keys.verify(field_name, value, pseudonym, key_id)
