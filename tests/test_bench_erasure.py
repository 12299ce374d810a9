"""bench/erasure.py's two erasures end in the same state on a tiny estate (no timing here).

Guards the bench from rotting: Tutela's set-based erasure of a batch and the Fides-style
baseline (a connection and one statement per row) run the same data-map targets on two
copies of one generated PostgreSQL estate and must leave identical tables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import erasure as bench
from erasure_naive import naive_erase
from tutela.clipstream.generate import generate
from tutela.datamap import load_datamap


def test_set_based_and_per_row_erasure_end_in_the_same_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path))
    p, targets = bench.erasure_plan(load_datamap())
    assert {(e.target.action, e.target.collection) for e in targets} >= {
        ("delete", "accounts"), ("delete", "watch_history"), ("mask", "messages")}
    assert not any(e.target.collection in ("transfers", "processors") for e in targets)
    ids = list(range(1, 201, 10))  # 20 of 200 accounts
    with bench.database() as base:
        generate(bench.url(base), accounts=200, seed=5, media_files=0)
        with bench.database(base) as ours, bench.database(base) as theirs:
            before = bench.checksums(base)
            tut = bench.tutela_erase(bench.url(ours), p, targets, bench.identity(ids))
            nai = naive_erase(bench.dsn(theirs), p, targets, ids)
            after = bench.checksums(ours)
            assert after == bench.checksums(theirs)
            assert tut["rows"] == nai["rows"] == nai["statements"] > 0
            assert after["accounts"][0] == before["accounts"][0] - len(ids)
            assert after["messages"][0] == before["messages"][0] != 0  # masked, not deleted
            assert after["messages"][1] != before["messages"][1]
            assert after["transfers"] == before["transfers"] and after["processors"] == before["processors"]
            assert bench.residue(bench.url(ours), targets, tut["keys"]) == 0
            assert bench.residue(bench.url(theirs), targets, tut["keys"]) == 0
