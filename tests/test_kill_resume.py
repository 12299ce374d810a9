"""SIGKILL `tutela remediate --execute` 20 times at random points, resume, compare end states.

The harness is bench/kill_resume.py (which runs more rounds); see its docstring.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from kill_resume import kill_and_resume


def test_killed_twenty_times_and_resumed_ends_as_an_uninterrupted_run(tmp_path: Path) -> None:
    result = kill_and_resume(tmp_path, kills=20, accounts=300, seed=7)
    assert result["rounds"] == 20
    assert result["mid_job"] >= 10, result  # many rounds really are killed while the job plans or writes
    assert result["agree"], result["mismatched_rounds"]
