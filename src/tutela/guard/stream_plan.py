"""Decide once per distinct (jurisdiction, age band, grants, event kind, recipient, day), with the
compiled engine's batch path (`decide_table`), and turn the decisions into per-combination actions.

Per combination, nine acts are decided: the event itself (its kind's category and use) and, for each
field, the field's own category and its lesser form's. The ladder per field: the field allowed ->
kept; else its lesser form allowed -> coarsened / truncated / pseudonymised; else nulled. A denied
event is dropped. Obligations of the event's decision tighten the ladder (`coarsen_location`,
`truncate_ip`, `pseudonymise`, `drop_identifiers`) and shorten the retention (`retain_max_days`).
Reasons are integer codes into `Plan.reasons` (sorted determining rule ids, or `obligation:<kind>`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tutela.guard.stream_config import FIELDS, KINDS, NO_BASIS, RECIPIENTS, UNKNOWN_SUBJECT, StreamConfig
from tutela.policy import CompiledPolicy
from tutela.policy.batch import decide_table

KEEP, LESSER, NULL = 0, 1, 2  # a field's action
DECLARED = "platform-declared-retention"
I8 = npt.NDArray[np.int8]
I64 = npt.NDArray[np.int64]
_RETENTION = ("retain_max_days", "retain_declared")  # applied: `retain_until` is stamped
_FORCES = {  # obligation -> (field, the least it forces)
    "coarsen_location": (("lat_lon", LESSER),),
    "truncate_ip": (("ip", LESSER),),
    "pseudonymise": (("device_id", LESSER), ("subject_id", LESSER)),
    "drop_identifiers": (("device_id", NULL), ("subject_id", NULL), ("ip", NULL)),
}
PER = 1 + 2 * len(FIELDS)  # acts decided per combination


@dataclass
class Combos:
    """Distinct decision inputs as arrays; `profile` -1 = the subject (or its age) is unknown."""

    profile: I64  # index into jurisdictions / grants
    age: I64  # a representative age of the age band
    kind: I64
    recipient: I64
    day: I64  # days since 1970-01-01
    jurisdictions: tuple[str, ...]
    grants: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.profile)


@dataclass
class Plan:
    keep: npt.NDArray[np.bool_]
    drop_reason: I64
    action: dict[str, I8]  # field -> KEEP | LESSER | NULL per combination
    reason: dict[str, I64]
    ttl_days: I64
    ttl_reason: I64
    entry: I64  # the event decision's determining set per combination (-1: dropped)
    passed: list[list[tuple[str, int]]]  # per entry: obligations passed on (label, reason code)
    reasons: list[str]


def _ids(text: str) -> str:
    """Determining rule ids, sorted (a reason does not depend on rule order)."""
    return ",".join(sorted(text.split(","))) if text else NO_BASIS


def _dict(codes: npt.NDArray[np.integer], values: list[str], kind: pa.DataType = pa.string()) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(values, kind))


def plan(policy: CompiledPolicy, cfg: StreamConfig, c: Combos) -> Plan:
    n = len(c)
    known = np.flatnonzero(c.profile >= 0)
    k = len(known)
    cats = sorted({cfg.kinds[x].category for x in KINDS} | {f.category for f in cfg.fields.values()}
                  | {f.fallback_category for f in cfg.fields.values()})
    uses = sorted({cfg.kinds[x].use for x in KINDS})
    cat_of = np.array([[cats.index(cfg.kinds[x].category)]
                       + [cats.index(getattr(cfg.fields[f], a)) for f in FIELDS
                          for a in ("category", "fallback_category")] for x in KINDS], np.int32)
    use_of = np.array([uses.index(cfg.kinds[x].use) for x in KINDS], np.int32)
    kind = c.kind[known]
    rep = np.repeat(known, PER)
    table = pa.table({
        "jurisdiction": _dict(c.profile[rep], list(c.jurisdictions)),
        "age": pa.array(c.age[rep], pa.int64()),
        "category": _dict(cat_of[kind].ravel(), cats),
        "use": _dict(np.repeat(use_of[kind], PER), uses),
        "at": pa.array(c.day[rep].astype(np.int32), pa.int32()).cast(pa.date32()),
        "recipient": _dict(c.recipient[rep], list(RECIPIENTS)),
        "grants": _dict(c.profile[rep], list(c.grants)),
    })
    result = decide_table(policy, table)
    ok = (result.effect != 0).reshape(k, PER)
    det = result.to_arrow().column("determining").combine_chunks()
    reasons = [_ids(s) for s in det.dictionary.to_pylist()] + ["", UNKNOWN_SUBJECT, DECLARED]
    code = {r: i for i, r in enumerate(reasons)}
    none_code, unknown_code, declared_code = len(reasons) - 3, len(reasons) - 2, len(reasons) - 1
    why = np.asarray(det.indices, dtype=np.int64).reshape(k, PER)

    def reason_code(text: str) -> int:
        if text not in code:
            code[text] = len(reasons)
            reasons.append(text)
        return code[text]

    # per determining set of an allowed event decision: forced field levels, retention, passed on
    n_entries = len(det.dictionary)
    forced = {f: np.zeros(n_entries, np.int8) for f in FIELDS}
    forced_why = {f: np.full(n_entries, none_code, np.int64) for f in FIELDS}
    max_days = np.full(n_entries, np.iinfo(np.int64).max, np.int64)
    passed: list[list[tuple[str, int]]] = [[] for _ in range(n_entries)]
    allowed_rows = np.flatnonzero(ok[:, 0])
    entries, first = np.unique(why[allowed_rows, 0], return_index=True)
    for e, row in zip(entries.tolist(), allowed_rows[first].tolist(), strict=True):
        for label in result.verdict(row * PER).obligations:
            ob, _, value = label.partition(":")
            if ob == "retain_max_days":
                max_days[e] = min(max_days[e], int(value))
            for f, least in _FORCES.get(ob, ()):
                if least > forced[f][e]:
                    forced[f][e], forced_why[f][e] = least, reason_code(f"obligation:{ob}")
            if ob not in _FORCES and ob not in _RETENTION:
                passed[e].append((label, int(e)))
    keep = np.zeros(n, np.bool_)
    keep[known] = ok[:, 0]
    drop_reason = np.full(n, unknown_code, np.int64)
    drop_reason[known] = np.where(ok[:, 0], none_code, why[:, 0])
    entry = np.full(n, -1, np.int64)
    entry[known] = np.where(ok[:, 0], why[:, 0], -1)
    e0 = np.maximum(entry[known], 0)
    declared = np.array([cfg.kinds[x].retain_days for x in KINDS], np.int64)[kind]
    ttl = np.zeros(n, np.int64)
    ttl[known] = np.minimum(declared, max_days[e0])
    ttl_reason = np.full(n, declared_code, np.int64)
    ttl_reason[known] = np.where(max_days[e0] < declared, why[:, 0], declared_code)
    action = {f: np.full(n, NULL, np.int8) for f in FIELDS}
    reason = {f: np.full(n, none_code, np.int64) for f in FIELDS}
    for i, f in enumerate(FIELDS):
        own, lesser = ok[:, 1 + 2 * i], ok[:, 2 + 2 * i]
        floor, fwhy = forced[f][e0], forced_why[f][e0]
        kept = own & (floor == KEEP)
        less = ~kept & lesser & (floor <= LESSER)
        action[f][known] = np.where(kept, KEEP, np.where(less, LESSER, NULL))
        reason[f][known] = np.where(kept, none_code, np.where(
            less, np.where(own, fwhy, why[:, 1 + 2 * i]), np.where(lesser, fwhy, why[:, 2 + 2 * i])))
    return Plan(keep, drop_reason, action, reason, ttl, ttl_reason, entry, passed, reasons)


class PlanCache:
    """Plans of the combinations seen so far under one state, keyed by an integer combination key;
    reason codes are global to the cache. A new state (or more than `limit` keys) starts afresh."""

    def __init__(self, policy: CompiledPolicy, cfg: StreamConfig, limit: int = 1 << 20):
        self.policy, self.cfg, self.limit = policy, cfg, limit
        self.owner: object = None
        self.reset(None)

    def reset(self, owner: object) -> None:
        self.owner = owner
        self.reasons: list[str] = []
        self._code: dict[str, int] = {}
        self.keys = np.empty(0, np.int64)  # in insertion order: a plan's position never changes
        self._sorted, self._at = np.empty(0, np.int64), np.empty(0, np.int64)
        self.plan = Plan(np.empty(0, np.bool_), np.empty(0, np.int64), {f: np.empty(0, np.int8) for f in FIELDS},
                         {f: np.empty(0, np.int64) for f in FIELDS}, np.empty(0, np.int64),
                         np.empty(0, np.int64), np.empty(0, np.int64), [], self.reasons)
        self.passed: dict[int, list[tuple[str, int]]] = {}
        self.day_maps: dict[int, npt.NDArray[np.int32]] = {}

    def ensure(self, owner: object) -> None:
        """Start afresh for a new state, or when the cache has grown past its limit."""
        if owner is not self.owner or len(self.keys) > self.limit or len(self.day_maps) > 8:
            self.reset(owner)

    def day_map(self, day: int, size: int) -> npt.NDArray[np.int32]:
        """For one day: (state row, kind, recipient) -> plan position, -1 where not known yet."""
        m = self.day_maps.get(day)
        if m is None or len(m) != size:
            m = self.day_maps[day] = np.full(size, -1, np.int32)
        return m

    def _global(self, p: Plan) -> I64:
        lut = np.empty(len(p.reasons), np.int64)
        for i, r in enumerate(p.reasons):
            lut[i] = self._code.setdefault(r, len(self._code))
            if lut[i] == len(self.reasons):
                self.reasons.append(r)
        return lut

    def lookup(self, keys: I64, combos_of: Callable[[I64], Combos]) -> I64:
        """Position in `self.plan` of each of `keys` (distinct), planning the ones not seen yet."""
        pos = np.searchsorted(self._sorted, keys)
        seen = np.zeros(len(keys), np.bool_)
        if len(self._sorted):
            seen = (pos < len(self._sorted)) & (self._sorted[np.minimum(pos, len(self._sorted) - 1)] == keys)
        new = keys[~seen]
        if len(new):
            p = plan(self.policy, self.cfg, combos_of(new))
            lut = self._global(p)
            for e, items in enumerate(p.passed):
                if items:
                    self.passed[int(lut[e])] = [(label, int(lut[w])) for label, w in items]
            old = self.plan
            entry = np.where(p.entry >= 0, lut[np.maximum(p.entry, 0)], -1)
            self.keys = np.concatenate([self.keys, new])
            order = np.argsort(self.keys, kind="stable")
            self._sorted, self._at = self.keys[order], order

            def cat(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
                return np.concatenate([a, b])

            self.plan = Plan(cat(old.keep, p.keep), cat(old.drop_reason, lut[p.drop_reason]),
                             {f: cat(old.action[f], p.action[f]) for f in FIELDS},
                             {f: cat(old.reason[f], lut[p.reason[f]]) for f in FIELDS},
                             cat(old.ttl_days, p.ttl_days), cat(old.ttl_reason, lut[p.ttl_reason]),
                             cat(old.entry, entry), [], self.reasons)
            pos = np.searchsorted(self._sorted, keys)
        return self._at[pos]
