"""The in-memory connector is the plain reference (a set of key tuples and a loop over rows);
the set-based SQLite connector (temporary key table, one DELETE or UPDATE-join) must end in
the same state, with the same counts, for random tables, key sets and strategies."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutela.connectors import MemoryConnector, SqlConnector, Target
from tutela.connectors.strategies import KEY_ENV, Strategy
from tutela.errors import InputError

SCHEMA = pa.schema([("id", pa.int64()), ("k", pa.int64()), ("s", pa.string()), ("ip", pa.string()),
                    ("x", pa.float64())])
KEY = "test-key-not-a-secret-0123456789"

rows = st.lists(st.fixed_dictionaries({
    "k": st.one_of(st.none(), st.integers(0, 6)),
    "s": st.one_of(st.none(), st.sampled_from(["a", "b", "h:" + "ab" * 32, "[erased]", ""])),
    "ip": st.one_of(st.none(), st.sampled_from(["192.0.2.1", "192.0.2.0", "2001:db8::7", "bogus"])),
    "x": st.one_of(st.none(), st.floats(-90, 90, allow_nan=False)),
}), max_size=25)
field_strategies = {
    "s": st.sampled_from([Strategy(strategy="null_rewrite"), Strategy(strategy="hash"), Strategy(strategy="preserve"),
                          Strategy(strategy="string_rewrite", configuration={"rewrite_value": "[erased]"})]),
    "ip": st.builds(lambda b: Strategy(strategy="truncate_ip", configuration={"ipv4_bits": b}), st.integers(0, 32)),
    "x": st.builds(lambda d: Strategy(strategy="coarsen_location", configuration={"decimals": d}), st.integers(0, 3)),
}
masks = st.fixed_dictionaries({}, optional=field_strategies).filter(bool)
operations = st.lists(st.tuples(
    st.lists(st.one_of(st.none(), st.integers(0, 7)), max_size=6),  # keys (with NULLs and strangers)
    st.sampled_from([("k",), ("k", "ip")]),
    st.one_of(st.none(), masks),  # None: delete
), min_size=1, max_size=3)


def _sqlite(path: Path, data: pa.Table) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("k", sa.Integer), sa.Column("s", sa.Text), sa.Column("ip", sa.String(45)),
                 sa.Column("x", sa.Float))
    meta.create_all(engine)
    with engine.begin() as conn:
        if data.num_rows:
            conn.execute(t.insert(), data.to_pylist())
    engine.dispose()
    return url


def _read(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(sa.text("SELECT id, k, s, ip, x FROM t ORDER BY id"))]
    engine.dispose()
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, operations)
def test_sqlite_ends_where_the_reference_ends(data: list[dict[str, Any]], ops: list[tuple[Any, ...]]) -> None:
    table = pa.Table.from_pylist([{"id": i, **r} for i, r in enumerate(data)], schema=SCHEMA)
    ip_of = {r["k"]: r["ip"] for r in data}
    with mock.patch.dict(os.environ, {KEY_ENV: KEY}), tempfile.TemporaryDirectory() as tmp:
        url = _sqlite(Path(tmp) / "t.db", table)
        sql, mem = SqlConnector(url), MemoryConnector({"t": table})
        for key_values, match, mask_spec in ops:
            keys = pa.table({"k": pa.array(key_values, pa.int64()),
                             "ip": pa.array([ip_of.get(k) for k in key_values], pa.string())})
            chosen = {f: s for f, s in (mask_spec or {}).items() if f not in match}  # keys stay keys
            if mask_spec is not None and not chosen:
                continue
            target = Target("t", match, "mask", chosen) if chosen else Target("t", match, "delete")
            assert sql.count(target, keys) == mem.count(target, keys)
            assert sql.apply(target, keys).changed == mem.apply(target, keys).changed
            assert sql.apply(target, keys).changed == mem.apply(target, keys).changed == 0  # idempotent, both
        assert _read(url) == mem.tables["t"].sort_by("id").to_pylist()
        sql.close()


def test_reference_checks_and_retrieves() -> None:
    mem = MemoryConnector({"t": pa.table({"k": [1, 2, 2, None], "v": ["a", "b", "c", "d"]})})
    with pytest.raises(InputError, match="table `u` is missing"):
        mem.check({"u": {"k"}})
    with pytest.raises(InputError, match=r"`t\.w`"):
        mem.check({"t": {"k", "w"}})
    got = mem.retrieve("t", ("k",), pa.table({"k": [2, None]}), ["v"])
    assert got.to_pylist() == [{"v": "b"}, {"v": "c"}]  # a NULL key matches nothing
    assert mem.apply(Target("t", ("k",), "delete"), pa.table({"k": [2]})).changed == 2
    assert mem.tables["t"]["v"].to_pylist() == ["a", "d"]
