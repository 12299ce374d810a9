"""bench/audit.py: Tutela's set-based audit beside a naive per-row Python pass, in one run.

    python bench/audit.py [--rows N] [--accounts N] [--quick] [--estate-dir DIR] [--format json]

Generates a ClipStream estate with about N event rows as a Parquet folder (not timed; with
--estate-dir it is kept there and reused by later runs with the same size and generator), then times
`Engine.audit` (Ibis on DuckDB + the compiled engine in batch) and the naive pass
(`bench/naive_audit.py`), checks they report the same subjects and rows per rule, and prints
rows/s for both and the ratio, the audit's CPU time and where its time went. Target: 10M
event rows audited in <= 30 s. The machine may be shared: the load average is reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import sys
import tempfile
import time
from contextlib import ExitStack
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console
from rich.table import Table

import tutela.clipstream
from naive_audit import naive_audit
from tutela.clipstream.generate import AS_OF, generate
from tutela.datamap import load_datamap
from tutela.engine import Engine


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="event rows to generate")
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="300k rows, 10k accounts (under 60 s)")
    ap.add_argument("--skip-naive", action="store_true", help="time Tutela only (no ratio)")
    ap.add_argument("--estate-dir", type=Path, help="keep the generated estate here and reuse it")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    a = ap.parse_args()
    rows, accounts = (300_000, 10_000) if a.quick else (a.rows, a.accounts)
    os.environ.setdefault("TUTELA_HOME", tempfile.mkdtemp(prefix="tutela-bench-home-"))
    with ExitStack() as stack:
        folder = a.estate_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tutela-bench-audit-")))
        folder.mkdir(parents=True, exist_ok=True)
        estate = folder / f"estate-{rows}-{accounts}-{_generator_digest()}"
        url = f"parquet://{estate}"
        t0 = time.perf_counter()
        done = estate / "summary.json"
        if not done.is_file():
            summary = generate(url, accounts=accounts, seed=11, rows=rows, media_files=0)
            done.write_text(json.dumps(summary["tables"]))
        tables = json.loads(done.read_text())
        gen_s = time.perf_counter() - t0
        total_rows = sum(tables.values())
        engine = Engine()
        engine.compiled  # compile outside the timing  # noqa: B018
        phases: dict[str, float] = {}
        last, phase = time.perf_counter(), "open"

        def step(msg: str) -> None:  # seconds per phase of the audit (tables are read within phases)
            nonlocal last, phase
            if msg.startswith("read "):
                return
            now = time.perf_counter()
            phases[phase] = phases.get(phase, 0.0) + now - last
            last, phase = now, msg.split(" ")[0]

        cpu0 = _cpu()
        t0 = last = time.perf_counter()
        findings = engine.audit(url, as_of=AS_OF, progress=step)
        tutela_s = time.perf_counter() - t0
        step("end")
        cpu_s = _cpu() - cpu0
        ours = {f.rule: (f.subjects, f.rows) for f in findings}
        naive_s = None
        agree = None
        if not a.skip_naive:
            t0 = time.perf_counter()
            theirs = naive_audit(engine.compiled, engine.rulebook, load_datamap(), estate, AS_OF)
            naive_s = time.perf_counter() - t0
            agree = theirs == ours
    result = {
        "rows": total_rows, "accounts": accounts, "generate_s": round(gen_s, 2),
        "tutela_s": round(tutela_s, 2), "tutela_rows_per_s": total_rows / tutela_s, "tutela_cpu_s": round(cpu_s, 2),
        "tutela_phases_s": {k: round(v, 2) for k, v in phases.items()},
        "naive_s": None if naive_s is None else round(naive_s, 2),
        "naive_rows_per_s": None if naive_s is None else total_rows / naive_s,
        "ratio": None if naive_s is None else naive_s / tutela_s,
        "agree": agree, "rules": len(ours), "target_30s_for_10M": (rows < 10_000_000) or tutela_s <= 30,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_1m": os.getloadavg()[0],
                    **{pkg: version(pkg) for pkg in ("duckdb", "ibis-framework", "pyarrow")}},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if a.format == "json":
        print(json.dumps(result))
    else:
        t = Table(title=f"Audit of {total_rows:,} rows ({accounts:,} accounts)")
        for col in ("", "seconds", "rows/s"):
            t.add_column(col)
        t.add_row("tutela (Ibis/DuckDB + compiled batch)", f"{tutela_s:.2f}", f"{total_rows / tutela_s:,.0f}")
        if naive_s is not None:
            t.add_row("naive Python pass", f"{naive_s:.2f}", f"{total_rows / naive_s:,.0f}")
        Console().print(t)
        print(f"ratio {result['ratio']}, agree {agree}, generate {gen_s:.1f} s, audit CPU {cpu_s:.1f} s, "
              f"phases {result['tutela_phases_s']}")
    return 0 if agree in (True, None) else 1


def _generator_digest() -> str:
    """A digest of the estate generator's code: a kept estate is reused only by the same generator."""
    h = hashlib.sha256()
    for f in sorted(Path(tutela.clipstream.__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def _cpu() -> float:
    """CPU seconds of this process so far, all threads (DuckDB runs on several)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    sys.exit(main())
