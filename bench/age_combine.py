"""bench/age_combine.py: the vectorised lowest-category-per-subject pass (tutela.age.batch)
beside the record-by-record reference (tutela.age.combine over AgeRecord objects), in one run.

    python bench/age_combine.py [--rows N] [--quick] [--format json]

Generates N synthetic age records for N/3 subjects (not timed), times both on the same rows,
checks they agree subject by subject, and prints records/s for both and the ratio. The
machine may be shared: the load average is reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import time
from typing import Any

import pyarrow as pa

from tutela.age.batch import lowest_per_subject, reference
from tutela.age.levels import LEVELS

SCHEMA = pa.schema([("subject", pa.string()), ("lower", pa.int16()), ("upper", pa.int16()), ("as_of", pa.date32()),
                    ("observed", pa.date32()), ("level", pa.string()), ("expires_at", pa.timestamp("us", "UTC")),
                    ("birth_date", pa.date32())])


def rows(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    base = dt.date(2025, 1, 1)
    for _ in range(n):
        observed = base + dt.timedelta(days=rnd.randrange(700))
        lower = rnd.choice((0, 13, 16, 18, 18, 18))
        upper = {0: 12, 13: 15, 16: 17}.get(lower)
        out.append({"subject": f"s{rnd.randrange(max(n // 3, 1))}", "lower": lower, "upper": upper,
                    "as_of": observed - dt.timedelta(days=rnd.choice((0, 0, 56))), "observed": observed,
                    "level": rnd.choice(LEVELS), "birth_date": None if rnd.random() < 0.9 else
                    dt.date(2005, 1, 1) + dt.timedelta(days=rnd.randrange(5000)),
                    "expires_at": None if rnd.random() < 0.5 else
                    dt.datetime.combine(observed + dt.timedelta(days=365), dt.time(), dt.UTC)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100k records (well under 60 s)")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    a = ap.parse_args()
    n = 100_000 if a.quick else a.rows
    data = rows(n)
    table = pa.Table.from_pylist(data, schema=SCHEMA)
    now = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    fast = lowest_per_subject(table, now)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = reference(data, now)
    t_slow = time.perf_counter() - t0
    agree = fast.to_pylist() == slow
    result = {"bench": "age_combine", "records": n, "subjects": fast.num_rows, "agree": agree,
              "tutela_s": round(t_fast, 4), "reference_s": round(t_slow, 4),
              "tutela_records_per_s": round(n / t_fast), "reference_records_per_s": round(n / t_slow),
              "ratio": round(t_slow / t_fast, 2), "load_average": [round(x, 2) for x in os.getloadavg()],
              "python": platform.python_version(), "cpus": os.cpu_count()}
    if a.format == "json":
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        print(f"{n:,} records, {fast.num_rows:,} subjects: vectorised {t_fast:.3f} s "
              f"({result['tutela_records_per_s']:,}/s), reference {t_slow:.3f} s "
              f"({result['reference_records_per_s']:,}/s), ratio {result['ratio']}x, agree {agree}, "
              f"load {result['load_average']}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
