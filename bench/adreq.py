"""bench/adreq.py: the ad-request guard (tutela.guard, cached plans, copy-on-write) beside the
plain per-request reference (deep copy, reference evaluator, no caches), in one run.

    python bench/adreq.py [--requests N] [--quick] [--format json]

Generates N synthetic bid requests (a mix of US children, EU minors, adults, COPPA flags, TC
and GPP strings, GPC), checks both give the same result for each, and prints requests/s on one
core for both, the ratio and the median added latency per request. Target: >= 50k requests/s
per core and < 50 us median. The machine may be shared: the load average is reported."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from consent_encode import TC, encode_gpp_header, encode_tc, encode_usnat
from tutela.engine import Engine
from tutela.guard import guard_bid_request
from tutela.guard.adreq_reference import guard_reference

DAY = dt.date(2026, 12, 3)


def workload(n: int, seed: int = 7) -> list[tuple[dict[str, Any], bool | None, dict[str, Any] | None]]:
    rnd = random.Random(seed)
    tcs = [encode_tc(TC(consents=tuple(range(1, k)), special=(1,) if k > 5 else ())) for k in (2, 5, 8, 12)]
    gpps = [
        f"{encode_gpp_header([7])}~{encode_usnat(1, [1] * 6 + [o, o, o], [0] * 16, c, [0, 1, 0, 0], True)}"
        for o in (1, 2)
        for c in ([0, 0, 0], [0, 1, 0])
    ]
    out = []
    for i in range(n):
        country, region = rnd.choice([("USA", "CA"), ("USA", "NY"), ("ITA", None), ("DEU", None), ("BRA", None)])
        req: dict[str, Any] = {
            "id": f"r{i}",
            "imp": [{"id": "1", "banner": {"w": 300, "h": 250}}],
            "device": {
                "ip": f"203.0.{rnd.randrange(256)}.{rnd.randrange(256)}",
                "ifa": f"ifa-{i}",
                "ua": "Mozilla/5.0",
                "geo": {
                    "country": country,
                    **({"region": region} if region else {}),
                    "lat": rnd.uniform(-60, 60),
                    "lon": rnd.uniform(-120, 120),
                    "city": "X",
                },
            },
            "user": {
                "id": f"u{i}",
                "buyeruid": "b",
                "eids": [{"source": "s", "uids": [{"id": str(i)}]}],
                "data": [{"segment": [{"id": "1"}]}],
                "ext": {"k": 1},
            },
            "site": {"page": "https://example.com/a", "keywords": "news"},
            "regs": {},
        }
        if rnd.random() < 0.1:
            req["regs"]["coppa"] = 1
        if country in ("ITA", "DEU") and rnd.random() < 0.7:
            req["user"]["consent"] = rnd.choice(tcs)
        if country == "USA" and rnd.random() < 0.4:
            req["regs"]["gpp"], req["regs"]["gpp_sid"] = rnd.choice(gpps), [7]
        subject = {"age": rnd.choice([8, 12, 15, 17, 25, 40])} if rnd.random() < 0.8 else None
        out.append((req, rnd.random() < 0.3 or None, subject))
    return out


def timed(fn: Any, engine: Engine, items: list[Any]) -> tuple[float, list[float]]:
    """CPU seconds for the whole loop and each call's wall time; results are dropped as a
    server would drop them once sent (keeping them all makes the garbage collector the cost)."""
    lat = []
    cpu0 = time.process_time()
    for req, gpc, subject in items:
        t = time.perf_counter()
        fn(engine, req, gpc=gpc, subject=subject, on=DAY)
        lat.append(time.perf_counter() - t)
    return time.process_time() - cpu0, lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--format", default="table", choices=["table", "json"])
    args = ap.parse_args()
    n = 5_000 if args.quick else args.requests
    engine = Engine()
    items = workload(n)
    timed(guard_bid_request, engine, items[:500])  # warm the caches as a running server would be
    fast_cpu, fast_lat = timed(guard_bid_request, engine, items)
    n_ref = min(n, 1_000 if args.quick else 5_000)
    ref_cpu, ref_lat = timed(guard_reference, engine, items[:n_ref])
    fast = [guard_bid_request(engine, r, gpc=g, subject=s, on=DAY) for r, g, s in items[:n_ref]]
    agree = all(
        guard_reference(engine, r, gpc=g, subject=s, on=DAY).to_dict() == f.to_dict()
        for (r, g, s), f in zip(items[:n_ref], fast, strict=True)
    )
    fast_rps, ref_rps = n / fast_cpu, n_ref / ref_cpu
    out = {
        "requests": n,
        "reference_requests": n_ref,
        "fast_requests_per_s_per_core": round(fast_rps),
        "reference_requests_per_s_per_core": round(ref_rps),
        "ratio": round(fast_rps / ref_rps, 1),
        "fast_median_us": round(statistics.median(fast_lat) * 1e6, 1),
        "fast_p99_us": round(sorted(fast_lat)[int(0.99 * len(fast_lat))] * 1e6, 1),
        "reference_median_us": round(statistics.median(ref_lat) * 1e6, 1),
        "agree": agree,
        "changed_share": round(sum(bool(r.changes) for r in fast) / n_ref, 3),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, load {os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "date": dt.date.today().isoformat(),
    }
    if args.format == "json":
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:36} {v}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
