"""`tutela stream guard` as a user runs it: a real subprocess, JSON counts, exit code 3 and no
output file on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tutela.guard.stream_synth import synthetic_events, synthetic_state

ENV = {**os.environ, "TUTELA_STREAM_KEYS": "cli:" + "7e" * 16}


def tutela(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tutela", *args], capture_output=True, text=True, timeout=180,
                          env=ENV)


def test_guard_a_file_and_fail_cleanly(tmp_path: Path) -> None:
    pq.write_table(synthetic_state(40, seed=5), tmp_path / "state.parquet")
    events = synthetic_events(40, 400, seed=6)
    with pa.OSFile(str(tmp_path / "events.arrow"), "wb") as sink, pa.ipc.new_file(sink, events.schema) as w:
        w.write_table(events)
    out = tutela("stream", "guard", "--in", str(tmp_path / "events.arrow"), "--state", str(tmp_path / "state.parquet"),
                 "--out", str(tmp_path / "out.parquet"), "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    written = pq.read_table(tmp_path / "out.parquet")
    assert written.num_rows == data["events_out"] > 0
    kept = [c["events"] for c in data["counts"] if c["action"] == "keep"]
    assert kept == [written.num_rows]
    assert sum(c["events"] for c in data["counts"] if c["action"] in ("keep", "drop")) == 400
    assert "s0000001" not in written.column("device_id").to_pylist()  # no raw subject ids as device ids

    bad = events.set_column(events.column_names.index("kind"), "kind",
                            pa.array(["watch"] * 399 + ["telepathy"]))
    pq.write_table(bad, tmp_path / "bad.parquet")
    out = tutela("stream", "guard", "--in", str(tmp_path / "bad.parquet"), "--state", str(tmp_path / "state.parquet"),
                 "--out", str(tmp_path / "bad-out.parquet"), "--format", "json")
    assert out.returncode == 3
    err = json.loads(out.stdout)
    assert err["where"].endswith("[399].kind") and "telepathy" in err["message"]
    assert not (tmp_path / "bad-out.parquet").exists()
    missing = tutela("stream", "guard", "--in", str(tmp_path / "nope.parquet"), "--state",
                     str(tmp_path / "state.parquet"), "--out", str(tmp_path / "x.parquet"))
    assert missing.returncode == 3 and "no such file" in missing.stderr
