"""The vectorised stream guard: one batch of events in, the guarded events and counts out.

Per event only integer work happens (numpy gathers): the event's state row, its day and its
kind/recipient codes make a key; distinct keys become decision combinations (`stream_plan`);
each combination's actions are gathered back per event. Strings are touched once per distinct
value (Arrow dictionaries): pseudonyms and truncated IPs are computed per distinct value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tutela.errors import InputError
from tutela.guard.stream_config import FIELDS, KINDS, RECIPIENTS, Keyring, StreamConfig
from tutela.guard.stream_events import Events, truncate_ip
from tutela.guard.stream_plan import KEEP, LESSER, NULL, Combos, Plan, PlanCache
from tutela.guard.stream_state import SubjectState

I64 = npt.NDArray[np.int64]
_DENSE_LIMIT = 1 << 24
_DAYS = 1 << 16  # event days since 1970 a key can hold
_KR = len(KINDS) * len(RECIPIENTS)
_NOUN = {"lat_lon": "coarsen", "ip": "truncate", "device_id": "pseudonymise", "subject_id": "pseudonymise"}


class Pseudonyms:
    """HMAC-SHA256(key, field NUL value), first 128 bits in hex; memoised per distinct value."""

    def __init__(self, keys: Keyring, limit: int = 1 << 20):
        self.keys, self.limit = keys, limit
        self._memo: dict[tuple[str, str], str] = {}
        self._last: dict[str, tuple[pa.Array, pa.Array]] = {}

    def of(self, field: str, values: list[str]) -> list[str]:
        memo, key = self._memo, self.keys.secret
        if len(memo) > self.limit:
            memo.clear()
        out = []
        for v in values:
            p = memo.get((field, v))
            if p is None:
                p = memo[(field, v)] = hmac.new(key, f"{field}\x00{v}".encode(), hashlib.sha256).hexdigest()[:32]
            out.append(p)
        return out


    def forget(self) -> None:
        """Drop the remembered dictionaries (the memo of pseudonyms stays)."""
        self._last.clear()

    def dictionary(self, field: str, values: pa.Array) -> pa.Array:
        """`values` then their pseudonyms, as one string array; an Arrow stream usually sends one
        dictionary for many batches, so the last one per field is kept."""
        last = self._last.get(field)
        if last is not None and last[0].equals(values):
            return last[1]
        plain = values.to_pylist()
        out = pa.array(plain + self.of(field, plain), pa.string())
        self._last[field] = (values, out)
        return out


def _dense_ids(key: I64, space: int) -> tuple[I64, I64]:
    """Distinct keys (sorted) and each row's index into them."""
    if space <= _DENSE_LIMIT:
        seen = np.zeros(space, np.int64)
        seen[key] = 1
        uniq = np.flatnonzero(seen)
        seen[uniq] = np.arange(len(uniq))
        return uniq, seen[key]
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq, inverse.ravel()


def _key2(row: I64, day: I64, kr: I64, ev: Events, state: SubjectState, band: I64) -> I64:
    """The decision input as one integer: (profile, age band, day, kind * recipient), for distinct
    (state row, day, kind * recipient). `band[age]` is a representative age of the rulebook's age
    band holding `age`: decisions depend on the age only through its band."""
    years, mds = (a[day - ev.day_lo] for a in ev.calendar(np.arange(ev.day_lo, ev.day_hi + 1)))
    safe = np.maximum(row, 0)
    fixed = state.fixed_age[safe]
    age = np.where(fixed >= 0, fixed, years - state.birth_year[safe] - (mds < state.birth_md[safe]))
    known = (row >= 0) & (fixed != -2) & (age >= 0) & (age <= 130)
    prof = np.where(known, state.profile[safe], -1).astype(np.int64)
    age = np.where(known, band[np.where(known, age, 0)], 0)
    return (((prof + 1) * 131 + age) * _DAYS + np.where(known, day, 0)) * _KR + kr


def _combo_index(cache: PlanCache, ev: Events, state: SubjectState, band: I64) -> I64:
    """Each event's position in `cache.plan`. Per event: one integer key and one gather from a
    per-day map (state row, kind, recipient) -> plan; only keys not mapped yet are worked out."""
    cache.ensure(state)
    span = int(ev.day_hi - ev.day_lo + 1)
    size = (len(state) + 1) * _KR
    sub = (ev.state_row + 1) * _KR + ev.kind * len(RECIPIENTS) + ev.recipient
    if size * span > _DENSE_LIMIT:  # a huge state or a long span: distinct keys by sorting
        u1, inv1 = _dense_ids(sub + (ev.day - ev.day_lo) * size, size * span)
        keys = _key2(u1 % size // _KR - 1, u1 // size + ev.day_lo, u1 % _KR, ev, state, band)
        u2, inv2 = np.unique(keys, return_inverse=True)
        return cache.lookup(u2, lambda new: _decode(new, state))[inv2.ravel()[inv1]]
    days = range(ev.day_lo, ev.day_hi + 1)
    idx = sub if span == 1 else sub + (ev.day - ev.day_lo) * size

    def flat() -> npt.NDArray[np.int32]:
        maps = [cache.day_map(d, size) for d in days]
        return maps[0] if span == 1 else np.concatenate(maps)

    combo = flat()[idx]
    miss = combo < 0
    if miss.any():
        need = np.unique(idx[miss])
        doff, s = need // size, need % size
        keys = _key2(s // _KR - 1, doff + ev.day_lo, s % _KR, ev, state, band)
        u2, inv2 = np.unique(keys, return_inverse=True)
        pos = cache.lookup(u2, lambda new: _decode(new, state))[inv2.ravel()]
        for d in np.unique(doff).tolist():
            sel = doff == d
            cache.day_map(ev.day_lo + d, size)[s[sel]] = pos[sel]
        combo = flat()[idx]
    out: I64 = combo.astype(np.int64)
    return out


def _decode(keys: I64, state: SubjectState) -> Combos:
    nr = len(RECIPIENTS)
    kr, rest = keys % _KR, keys // _KR
    return Combos((rest // _DAYS) // 131 - 1, (rest // _DAYS) % 131, kr // nr, kr % nr, rest % _DAYS,
                  state.jurisdictions, state.grants)


def _tally(counts: Counter[tuple[str, str, str]], action: str, field: str, codes: I64, weights: I64,
           reasons: list[str]) -> None:
    """Add `weights` per reason code to counts[(action, field, reason)]."""
    if len(codes):
        for code, n in enumerate(np.bincount(codes, weights=weights, minlength=len(reasons)).tolist()):
            if n:
                counts[(action, field, reasons[code])] += int(n)


def _ident(col: pa.DictionaryArray, act: npt.NDArray[np.int8], field: str, ps: Pseudonyms) -> pa.Array:
    """An identifier column: raw where kept, pseudonym where LESSER, null where NULL."""
    n_values = len(col.dictionary)
    idx = np.asarray(col.indices.fill_null(0), dtype=np.int32)
    out = np.where(act == LESSER, idx + n_values, idx).astype(np.int32)
    mask = (act == NULL) | np.asarray(col.is_null()) if col.null_count else act == NULL
    dictionary = ps.dictionary(field, col.dictionary.cast(pa.string()))
    return pa.DictionaryArray.from_arrays(pa.array(out, mask=mask), dictionary)


def _ip(col: pa.DictionaryArray, act: npt.NDArray[np.int8], cfg: StreamConfig) -> pa.Array:
    values = col.dictionary.to_pylist()
    idx = np.asarray(col.indices.fill_null(0), dtype=np.int32)
    truncated = [truncate_ip(v, cfg, f"events.ip `{v}`") for v in values]
    out = np.where(act == LESSER, idx + len(values), idx).astype(np.int32)
    mask = (act == NULL) | np.asarray(col.is_null())
    return pa.DictionaryArray.from_arrays(pa.array(out, mask=mask), pa.array(values + truncated, pa.string()))


def _coarse(x: npt.NDArray[np.float64], act: npt.NDArray[np.int8], null: npt.NDArray[np.bool_],
            g: float, bound: float) -> pa.Array:
    centre = np.clip(np.floor(x / g) * g + g / 2, -bound, bound)
    return pa.array(np.where(act == LESSER, centre, x), pa.float64(), mask=null | (act == NULL))


def guard_events(cache: PlanCache, state: SubjectState, ev: Events, ps: Pseudonyms,
                 band: I64) -> tuple[pa.Table, Counter[tuple[str, str, str]]]:
    cfg = cache.cfg
    if ev.day_lo < 0 or ev.day_hi >= _DAYS:
        raise InputError("event time out of range", where="events.ts", hint="1970-01-01 to 2149-06-06")
    combo = _combo_index(cache, ev, state, band)
    p = cache.plan
    counts: Counter[tuple[str, str, str]] = Counter()
    per_combo = np.bincount(combo, minlength=len(p.keep))
    drop = np.flatnonzero(~p.keep)
    _tally(counts, "drop", "event", p.drop_reason[drop], per_combo[drop], p.reasons)
    for name in ev.dropped_columns:
        counts[("drop_column", name, "not-in-stream-guard-schema")] += ev.n
    keep = p.keep[combo]
    kept = ev.table.filter(pa.array(keep)) if not keep.all() else ev.table
    c = combo[keep]
    cols: dict[str, Any] = {}
    act = {f: p.action[f][c] for f in FIELDS}
    present = {f: ev.present(f, kept) for f in FIELDS}
    for f in FIELDS:
        hit = present[f]
        if hit is not None:
            hit = hit & (act[f] != KEEP)
            for a, noun in ((LESSER, _NOUN[f]), (NULL, "null")):
                sel = c[hit & (act[f] == a)]
                _tally(counts, noun, f, p.reason[f][sel], np.ones(len(sel), np.int64), p.reasons)
    per_kept = np.bincount(c, minlength=len(p.keep))
    live = np.flatnonzero(per_kept)
    days, inverse = np.unique(p.ttl_days[live] * len(p.reasons) + p.ttl_reason[live], return_inverse=True)
    for i, n in enumerate(np.bincount(inverse.ravel(), weights=per_kept[live]).tolist()):
        d, r = divmod(int(days[i]), len(p.reasons))
        counts[("retain", f"{d}d", p.reasons[r])] += int(n)
    by_entry = np.bincount(p.entry[live], weights=per_kept[live], minlength=len(p.reasons))
    for e in np.flatnonzero(by_entry).tolist():
        for label, why in cache.passed.get(e, ()):
            counts[("obligation", label, p.reasons[why])] += int(by_entry[e])
    for name in kept.column_names:
        col = kept.column(name).combine_chunks()
        if name == "subject_id":
            cols[name] = _ident(_dict(col), act["subject_id"], "subject_id", ps)
        elif name == "device_id":
            cols[name] = _ident(_dict(col), act["device_id"], "device_id", ps)
        elif name == "ip":
            cols[name] = _ip(_dict(col), act["ip"], cfg)
        elif name in ("lat", "lon"):
            x = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
            null = np.asarray(col.is_null())
            cols[name] = _coarse(x, act["lat_lon"], null, cfg.grid_degrees, 90.0 if name == "lat" else 180.0)
        else:
            cols[name] = col
    ts = kept.column("ts").combine_chunks()
    ts_int = np.asarray(ts.cast(pa.int64()))
    cols["retain_until"] = pa.array(ts_int + p.ttl_days[c] * ev.per_day, pa.int64()).cast(ts.type)
    pseudo = np.zeros(len(c), np.bool_)
    for f in ("subject_id", "device_id"):
        if present[f] is not None:
            pseudo |= (act[f] == LESSER) & present[f]
    cols["key_id"] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(len(c), np.int32), mask=~pseudo), pa.array([ps.keys.current]))
    counts[("keep", "event", "")] += len(c)
    return pa.table(cols), counts


def _dict(col: pa.Array) -> pa.DictionaryArray:
    if pa.types.is_dictionary(col.type):
        return col
    return pc.dictionary_encode(col)


__all__ = ["KEEP", "LESSER", "NULL", "Plan", "Pseudonyms", "guard_events"]
