"""Synthetic subject state and platform events (deterministic by seed) for tests, bench and demos.

No real person is in here: ids are counters, positions uniform over Europe, IPs from the
documentation ranges (RFC 5737 / RFC 3849).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from tutela.guard.stream_config import KINDS, RECIPIENTS

JURISDICTIONS = ("US", "US-CA", "GB", "DE", "FR", "IT", "NL", "PT", "IN", "BR")


# Consent configurations a platform's consent flow produces (bits of stream_guard.yaml grant_bits):
# none; the service; + personalisation; + analytics; + location; + marketing and profiling; everything.
GRANT_MENU = (0, 0b11, 0b111, 0b100111, 0b10100111, 0b1100111111, 0b1111111111111)


def synthetic_state(n: int, seed: int = 0, random_masks: bool = False) -> pa.Table:
    """`n` subjects: ages 8..40 on 2026-12-01, grants from `GRANT_MENU` (or, `random_masks`, any
    13-bit mask: an adversarial state with thousands of distinct profiles)."""
    rng = np.random.default_rng(seed)
    birth = np.datetime64("2026-12-01") - rng.integers(8 * 365, 40 * 365, n).astype("timedelta64[D]")
    grants = (rng.integers(0, 1 << 13, n) if random_masks
              else np.array(GRANT_MENU, np.int64)[rng.integers(0, len(GRANT_MENU), n)])
    by = np.where(rng.random(n) < 0.5, "parent", "self")
    return pa.table({
        "subject_id": pa.array([f"s{i:07d}" for i in range(n)]),
        "jurisdiction": pa.array(np.array(JURISDICTIONS)[rng.integers(0, len(JURISDICTIONS), n)]),
        "birth_date": pa.array(birth.astype("datetime64[D]")).cast(pa.date32()),
        "grants": pa.array(grants, pa.int64()),
        "grant_by": pa.array([b if g else None for g, b in zip(grants.tolist(), by.tolist(), strict=True)],
                             pa.string()),
        "assurance": pa.array(np.array(["declared", "confirmed", "verified"])[rng.integers(0, 3, n)]),
        "version": pa.array(np.ones(n, np.int64)),
    })


def _dict(codes: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(values, pa.string()))


def synthetic_events(n_subjects: int, n: int, seed: int = 1, unknown: float = 0.01,
                     with_ip: bool = True, day: dt.date = dt.date(2026, 12, 1)) -> pa.Table:
    """`n` events of subjects `s0000000`.., a share `unknown` of them of subjects not in the state.
    String columns come dictionary-encoded, as an Arrow producer batching events writes them."""
    rng = np.random.default_rng(seed)
    extra = max(1, int(n_subjects * unknown))
    subject_values = [f"s{i:07d}" for i in range(n_subjects + extra)]
    subj = rng.integers(0, n_subjects, n)
    strangers = rng.random(n) < unknown
    subj[strangers] = n_subjects + rng.integers(0, extra, int(strangers.sum()))
    start = np.datetime64(day.isoformat(), "ms").astype(np.int64)
    ts = start + rng.integers(0, 86_400_000, n)
    cols = {
        "event_id": pa.array(np.arange(n, dtype=np.int64) + seed * 10_000_000_000),
        "subject_id": _dict(subj, subject_values),
        "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "kind": _dict(rng.integers(0, len(KINDS), n), list(KINDS)),
        "recipient": _dict(rng.choice(3, n, p=[0.7, 0.2, 0.1]), list(RECIPIENTS)),
        "lat": pa.array(rng.uniform(36.0, 60.0, n)),
        "lon": pa.array(rng.uniform(-9.0, 24.0, n)),
        "device_id": _dict(subj, [f"d{i:07d}" for i in range(n_subjects + extra)]),
        "content_id": _dict(rng.integers(0, 5000, n), [f"c{i}" for i in range(5000)]),
    }
    if with_ip:
        octets = rng.integers(0, 256, n_subjects + extra)
        ips = [f"192.0.2.{o}" if i % 2 else f"2001:db8::{o:x}:1" for i, o in enumerate(octets.tolist())]
        cols["ip"] = _dict(subj, ips)
    return pa.table(cols)
