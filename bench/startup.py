"""Start-up time of the CLI: `tutela --help` and `tutela decide` on one request, wall clock.

Tutela's CLI loads a capability only when its subcommand runs. The baseline is the same CLI
with every capability imported first (what each call cost before: the audit's Presidio and
spaCy, the connectors' drivers, Ibis, NumPy, numba). Both print the same help text and the same
decision; the script checks that. Target: under 0.5 s wall each, on this machine.

    python bench/startup.py [--quick] [--format json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EAGER = ("import tutela.audit, tutela.repair, tutela.rights, tutela.media, tutela.query, tutela.store, "
         "tutela.connectors, tutela.policy.compiled, tutela.policy.kernel; from tutela.cli import main; main()")
LAZY = "from tutela.cli import main; main()"
REQUEST = {"subject": {"jurisdiction": "NL", "age": 12},
           "act": {"category": "user.location.precise", "use": "marketing.advertising"}}
TARGET_S = 0.5


def timed(code: str, args: list[str], runs: int) -> tuple[float, str]:
    """Median wall seconds of `python -c code args...` over `runs`, and its output."""
    times, out = [], ""
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - t)
        out = done.stdout
        if done.returncode not in (0, 2):  # 2: the request is denied
            raise SystemExit(f"{args}: exit {done.returncode}: {done.stderr.strip()[:300]}")
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer runs (under 60 s)")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    opts = ap.parse_args()
    runs = 2 if opts.quick else 9
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "request.json"
        req.write_text(json.dumps(REQUEST), "utf-8")
        timed(LAZY, ["--help"], 1)  # warm the file cache for both
        timed(EAGER, ["--help"], 1)
        help_lazy, help_out = timed(LAZY, ["--help"], runs)
        help_eager, help_base = timed(EAGER, ["--help"], runs)
        decide_lazy, decide_out = timed(LAZY, ["decide", str(req)], runs)
        decide_eager, decide_base = timed(EAGER, ["decide", str(req)], runs)
    agree = help_out == help_base and decide_out == decide_base and json.loads(decide_out)["effect"] == "deny"
    result = {
        "bench": "startup", "runs": runs, "agree": agree,
        "help_s": round(help_lazy, 3), "help_eager_s": round(help_eager, 3),
        "decide_s": round(decide_lazy, 3), "decide_eager_s": round(decide_eager, 3),
        "ratio": round((help_eager + decide_eager) / (help_lazy + decide_lazy), 2),
        "target_s": TARGET_S, "met": help_lazy < TARGET_S and decide_lazy < TARGET_S,
    }
    if opts.format == "json":
        print(json.dumps(result))
        return
    print(f"tutela --help   {help_lazy:.3f} s   (every capability imported first: {help_eager:.3f} s)")
    print(f"tutela decide   {decide_lazy:.3f} s   (every capability imported first: {decide_eager:.3f} s)")
    print(f"ratio {result['ratio']}x, same output: {agree}, target < {TARGET_S} s each: "
          f"{'met' if result['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
