"""The transfer gate in the stream guard: events addressed to a recipient the gate denies are dropped.

An event names its recipient in the optional `recipient_id` column (an id or name of the recipient
registry, `tutela.transfers`; null: not sent to a registered recipient). The gate is asked once per
distinct (jurisdiction, child or not, day, recipient) with `tutela.transfers.check_under`, then
applied per event by integer gathers. Only events of subjects the state knows, with an age known on
the event's day, are gated: the others are dropped by the guard as unknown subjects anyway. A
denied event is counted as `drop` / `event` / `transfer_denied` and goes no further.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tutela.errors import InputError
from tutela.guard.stream_events import Events
from tutela.guard.stream_state import SubjectState
from tutela.transfers import TransferGate, check_under

DENIED = "transfer_denied"
COLUMN = "recipient_id"
I64 = npt.NDArray[np.int64]
_DENSE_LIMIT = 1 << 22  # combinations a lookup table may hold; beyond, distinct keys by sorting
_NEVER, _NEVER_BEFORE = np.int64(1 << 40), np.int64(-(1 << 40))  # days: after / before any event


class StreamGate:
    """The gate's answers, remembered per (jurisdiction, child, day, recipient id)."""

    def __init__(self, gate: TransferGate):
        self.gate = gate
        self._answers: dict[tuple[str, bool, int, str], bool] = {}
        self._bounds: tuple[SubjectState, tuple[I64, I64, I64]] | None = None

    def bounds(self, state: SubjectState, majority: Callable[[str], int]) -> tuple[I64, I64, I64]:
        """Per state row, as days since 1970: the first day its age is known (its birth; never for
        a subject without an age), the first day past age 130, and the first day of adulthood
        (the birthday at the jurisdiction's age of majority; a fixed age is a child on every day or
        on none). Computed once per state."""
        if self._bounds is None or self._bounds[0] is not state:
            by = state.birth_year.astype(np.int64)
            month, day = state.birth_md.astype(np.int64) // 32, state.birth_md.astype(np.int64) % 32

            def birthday(years: I64 | int) -> I64:  # 29 Feb in a common year: 1 Mar, as the age rule has it
                months = (by + years - 1970) * 12 + np.maximum(month, 1) - 1
                out: I64 = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + day - 1
                return out

            major = np.array([majority(j) for j in state.jurisdictions], np.int64)[state.profile]
            born, fixed = state.fixed_age == -1, state.fixed_age >= 0
            lo = np.where(born, birthday(0), np.where(fixed, _NEVER_BEFORE, _NEVER))
            hi = np.where(born, birthday(131), _NEVER)
            adult = np.where(born, birthday(major), np.where(fixed & (state.fixed_age < major), _NEVER, _NEVER_BEFORE))
            self._bounds = (state, (lo, hi, adult))
        return self._bounds[1]

    def allowed(self, jurisdiction: str, child: bool, day: int, recipient: str) -> bool:
        key = (jurisdiction, child, day, recipient)
        found = self._answers.get(key)
        if found is None:
            if len(self._answers) > 1 << 16:
                self._answers.clear()
            book = self.gate.book
            jur = book.jurisdiction(jurisdiction)
            own = tuple(r for r in jur.rules if r.when.destination != "any")
            on = np.datetime64(day, "D").astype(object)
            found = check_under(book, book.transfer_regime(jurisdiction), self.gate.registry.get(recipient), on, child,
                                jurisdiction=jurisdiction, extra_rules=own,
                                review_days=self.gate.registry.tia_review_days).allowed
            self._answers[key] = found
        return found


def _recipients(col: pa.Array, gate: TransferGate, where: str) -> tuple[I64, list[str]]:
    """Per event the index of its recipient among the distinct ids (-1: null), and the ids; an id
    the registry does not hold is an input error naming its first row."""
    enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
    values = [str(v) for v in enc.dictionary.to_pylist()]
    ids = []
    for i, v in enumerate(values):
        try:
            ids.append(gate.registry.get(v).id)
        except InputError as exc:
            row = int(pc.index(pc.equal(enc.indices, i), True).as_py())
            exc.where = f"{where}[{row}].{COLUMN}"
            raise
    codes = np.asarray(enc.indices.fill_null(-1), dtype=np.int64) if len(values) else np.full(len(col), -1, np.int64)
    return codes, ids


def gate_events(sg: StreamGate, state: SubjectState, ev: Events, majority: Callable[[str], int],
                where: str = "events") -> tuple[Events, int]:
    """The events the gate lets through, and how many it dropped."""
    if COLUMN not in ev.table.column_names or ev.n == 0:
        return ev, 0
    col = ev.table.column(COLUMN).combine_chunks()
    rec, ids = _recipients(col, sg.gate, where)
    offset = ev.day - ev.day_lo
    lo, hi, adult = sg.bounds(state, majority)
    safe = np.maximum(ev.state_row, 0)
    known = (ev.state_row >= 0) & (rec >= 0) & (ev.day >= lo[safe]) & (ev.day < hi[safe])
    if not known.any():
        return ev, 0
    prof = state.profile[safe].astype(np.int64)
    child = (ev.day < adult[safe]).astype(np.int64)
    span = int(ev.day_hi - ev.day_lo + 1)
    key = ((prof * 2 + child) * span + offset) * len(ids) + np.maximum(rec, 0)  # a small dense space
    space = 2 * len(state.jurisdictions) * span * len(ids)
    dense = space <= _DENSE_LIMIT
    distinct, inverse = (np.flatnonzero(np.bincount(key[known], minlength=space)), None) if dense else \
        np.unique(key[known], return_inverse=True)
    ok = np.ones(len(distinct), np.bool_)
    for i, k in enumerate(distinct.tolist()):
        r, rest = k % len(ids), k // len(ids)
        day, pc2 = rest % span + ev.day_lo, rest // span
        ok[i] = sg.allowed(state.jurisdictions[pc2 // 2], bool(pc2 % 2), day, ids[r])
    keep = np.ones(ev.n, np.bool_)
    if inverse is None:
        lut = np.ones(space, np.bool_)
        lut[distinct] = ok
        keep = lut[key] | ~known
    else:
        keep[np.flatnonzero(known)] = ok[inverse.ravel()]
    denied = int(ev.n - np.count_nonzero(keep))
    if not denied:
        return ev, 0
    day = ev.day[keep]
    first, last = (int(day.min()), int(day.max())) if len(day) else (0, 0)
    out = dataclasses.replace(ev, table=ev.table.filter(pa.array(keep)), n=int(np.count_nonzero(keep)),
                              state_row=ev.state_row[keep], kind=ev.kind[keep], recipient=ev.recipient[keep],
                              day=day, day_lo=first, day_hi=last)
    return out, denied
