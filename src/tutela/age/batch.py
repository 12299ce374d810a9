"""Lowest age category per subject over a columnar batch of age records (numpy), e.g. to set
the defaults of every account from its stored signals in one pass.

    out = lowest_per_subject(table, now)    # pyarrow Table in, pyarrow Table out

Input columns: `subject` (string), `lower` (int), `upper` (int, null = open), `as_of` and
`observed` (date32), `level` (string, one of tutela.age.LEVELS), `expires_at` (timestamp with
zone, null = no expiry), and optionally `birth_date` (date32, null when unknown). Output,
one row per subject with a fresh record, sorted by subject: `subject`, `lower`, `upper`,
`level`, `category`, `sources` — the same as `tutela.age.combine` on that subject's records
(rolled over to `now`'s day, lowest lower bound, then higher level, then narrower band), which
`reference` computes record by record and a Hypothesis test compares.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tutela.age.combine import combine
from tutela.age.levels import LEVEL_ORDER, LEVELS
from tutela.age.record import CATEGORIES, MAX_AGE, AgeRecord, category
from tutela.errors import InputError

NONE = MAX_AGE + 1  # an open upper bound, while computing
I64 = npt.NDArray[np.int64]


def _ymd(days: I64) -> tuple[I64, I64, I64]:
    d = pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32())
    y, m, dd = (np.asarray(f(d).to_numpy(zero_copy_only=False), np.int64) for f in (pc.year, pc.month, pc.day))
    return y, m, dd


def _leap(y: I64) -> npt.NDArray[np.bool_]:
    return np.asarray((y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0)), dtype=bool)


def whole_years(start: I64, end: I64) -> tuple[I64, npt.NDArray[np.bool_]]:
    """Vectorised tutela.age.combine.whole_years (days since 1970 in), and whether `end` is exactly
    an anniversary of `start` (29 February -> 1 March in common years)."""
    ys, ms, ds = _ymd(start)
    ye, me, de = _ymd(end)
    feb29 = (ms == 2) & (ds == 29) & ~_leap(ye)
    am, ad = np.where(feb29, 3, ms), np.where(feb29, 1, ds)
    n = ye - ys
    after = (am > me) | ((am == me) & (ad > de))
    years = np.where(end <= start, 0, n - after.astype(np.int64))
    exact = (end > start) & (am == me) & (ad == de)
    return np.maximum(years, 0), exact


def _days(col: pa.ChunkedArray) -> I64:
    return np.asarray(col.cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)


def lowest_per_subject(table: pa.Table, now: dt.datetime) -> pa.Table:
    need = {"subject", "lower", "upper", "as_of", "observed", "level", "expires_at"}
    missing = need - set(table.column_names)
    if missing:
        raise InputError(f"missing columns {', '.join(sorted(missing))}", where="table")
    levels = pc.index_in(table["level"], value_set=pa.array(LEVELS))
    if levels.null_count:
        raise InputError("unknown assurance level in column `level`", where="table.level", hint=" < ".join(LEVELS))
    day = np.int64((now.astimezone(dt.UTC).date() - dt.date(1970, 1, 1)).days)
    fresh = pc.fill_null(pc.less(pa.scalar(now, pa.timestamp("us", "UTC")),
                                 table["expires_at"].cast(pa.timestamp("us", "UTC"))), True)
    t = table.filter(fresh)
    lv = np.asarray(pc.index_in(t["level"], value_set=pa.array(LEVELS)).to_numpy(zero_copy_only=False), np.int64)
    lower = np.asarray(t["lower"].to_numpy(zero_copy_only=False), np.int64)
    up_raw = t["upper"].cast(pa.int64())
    open_up = np.asarray(up_raw.is_null().to_numpy(zero_copy_only=False), bool)
    upper = np.asarray(up_raw.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    obs, as_of = _days(t["observed"]), _days(t["as_of"])
    today = np.full(len(t), day, np.int64)
    k_lo, _ = whole_years(obs, today)
    lo = np.minimum(lower + k_lo, MAX_AGE)
    k_hi, exact = whole_years(as_of, today)
    hi = upper + k_hi + ((today > as_of) & ~exact).astype(np.int64)
    hi = np.where(open_up, NONE, np.maximum(np.minimum(hi, MAX_AGE), lo))
    if "birth_date" in t.column_names:
        born = t["birth_date"].cast(pa.date32())
        has = np.asarray(born.is_valid().to_numpy(zero_copy_only=False), bool)
        exact_age, _ = whole_years(_days(born.fill_null(0)), today)
        lo, hi = np.where(has, exact_age, lo), np.where(has, exact_age, hi)
    subj = t["subject"].combine_chunks() if isinstance(t["subject"], pa.ChunkedArray) else t["subject"]
    codes = pc.dictionary_encode(subj)
    keys = np.asarray(codes.indices.to_numpy(zero_copy_only=False), np.int64)
    order = np.lexsort((hi, -lv, lo, keys))  # per subject: lowest lo, then highest level, then narrowest
    ks = keys[order]
    first = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]]) if len(ks) else np.array([], np.int64)
    win = order[first]
    counts = np.diff(np.r_[first, len(ks)])
    names = codes.dictionary.take(pa.array(keys[win]))
    cats = np.searchsorted(np.array([13, 16, 18]), lo[win], side="right")
    out = pa.table({"subject": names, "lower": pa.array(lo[win]),
                    "upper": pa.array(hi[win], mask=hi[win] == NONE),
                    "level": pa.array(LEVELS, pa.string()).take(pa.array(lv[win])),
                    "category": pa.array(CATEGORIES, pa.string()).take(pa.array(cats)),
                    "sources": pa.array(counts)})
    return out.sort_by("subject")


def reference(rows: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """The same result, record by record through tutela.age.combine (the oracle)."""
    by: dict[str, list[AgeRecord]] = {}
    for r in rows:
        rec = AgeRecord(lower=r["lower"], upper=r["upper"], as_of=r["as_of"], birth_date=r.get("birth_date"),
                        method="batch.row", level=r["level"], issuer="batch", source="batch",
                        observed_at=dt.datetime.combine(r["observed"], dt.time(), dt.UTC), expires_at=r["expires_at"])
        by.setdefault(r["subject"], []).append(rec)
    out = []
    for subject in sorted(by):
        c = combine(by[subject], now)
        if c is not None:
            out.append({"subject": subject, "lower": c.lower, "upper": c.upper, "level": c.level,
                        "category": category(c.lower), "sources": c.sources})
    assert all(o["level"] in LEVEL_ORDER for o in out)
    return out
