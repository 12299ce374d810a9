"""The Parquet-folder connector against real Parquet files (DuckDB finds the rows)."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from estate_fixture import write_parquet
from tutela.connectors import LakeConnector, Target, open_connector
from tutela.connectors import lake as lake_module
from tutela.connectors.strategies import KEY_ENV, Strategy
from tutela.errors import InputError

KEY = "test-key-not-a-secret-0123456789"
SUBJECTS = pa.table({"account_id": [1, 2, 7, 999]})


@pytest.fixture(autouse=True)
def _key() -> Iterator[None]:
    with mock.patch.dict(os.environ, {KEY_ENV: KEY}):
        yield


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_parquet(tmp_path)
    pings = pq.read_table(tmp_path / "location_pings.parquet")
    r = random.Random(5)
    extra = pa.table({"ping_id": pa.array(range(10_000, 10_300), pa.int64()),
                      "account_id": pa.array([r.randint(1, 40) for _ in range(300)], pa.int64()),
                      "lat": [r.uniform(50, 53) for _ in range(300)], "lon": [r.uniform(3, 6) for _ in range(300)],
                      "accuracy_m": [5.0] * 300, "at": pa.array([pings["at"][0].as_py()] * 300, pa.timestamp("us"))})
    pq.write_table(pa.concat_tables([pings, extra.cast(pings.schema)]), tmp_path / "location_pings.parquet")
    return tmp_path


def sums(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_count_writes_nothing_and_delete_rewrites_only_its_file(folder: Path) -> None:
    before, pings = sums(folder), pq.read_table(folder / "location_pings.parquet")
    c = open_connector(f"parquet://{folder}")
    assert isinstance(c, LakeConnector)
    target = Target("location_pings", ("account_id",), "delete")
    matched = [r for r in pings.to_pylist() if r["account_id"] in (1, 2, 7)]
    assert c.count(target, SUBJECTS) == len(matched) > 10
    assert sums(folder) == before
    assert c.apply(target, SUBJECTS).changed == len(matched)
    after = pq.read_table(folder / "location_pings.parquet")
    assert after.schema == pings.schema  # types and metadata kept
    assert after.to_pylist() == [r for r in pings.to_pylist() if r["account_id"] not in (1, 2, 7)]  # order kept
    assert {k: v for k, v in sums(folder).items() if k != "location_pings.parquet"} == \
           {k: v for k, v in before.items() if k != "location_pings.parquet"}
    assert not list(folder.glob("*.tmp"))
    unchanged = sums(folder)
    assert c.apply(target, SUBJECTS).changed == 0 and sums(folder) == unchanged  # idempotent: not even rewritten


def test_mask_changes_only_masked_fields_of_matched_rows(folder: Path) -> None:
    accounts = pq.read_table(folder / "accounts.parquet")
    c = LakeConnector(folder)
    masks = {"email": Strategy(strategy="hash"), "signup_ip": Strategy(strategy="truncate_ip")}
    target = Target("accounts", ("account_id",), "mask", masks)
    present = [r["account_id"] for r in accounts.to_pylist() if r["account_id"] in (1, 2, 7)]
    assert present and c.count(target, SUBJECTS) == len(present)
    assert c.apply(target, SUBJECTS).changed == len(present)
    after = pq.read_table(folder / "accounts.parquet")
    assert after.schema == accounts.schema
    for old, new in zip(accounts.to_pylist(), after.to_pylist(), strict=True):
        if old["account_id"] in present:
            assert new["email"].startswith("h:") and new["email"] != old["email"]
            assert new["signup_ip"] == (old["signup_ip"].rsplit(".", 1)[0] + ".0" if old["signup_ip"] else None)
            assert {k: v for k, v in new.items() if k not in masks} == {k: v for k, v in old.items() if k not in masks}
        else:
            assert new == old
    assert c.apply(target, SUBJECTS).changed == 0 and c.count(target, SUBJECTS) == 0


def test_retrieve_returns_the_rows(folder: Path) -> None:
    c = LakeConnector(folder)
    got = c.retrieve("location_pings", ("account_id",), SUBJECTS, ["ping_id", "account_id", "at"])
    pings = pq.read_table(folder / "location_pings.parquet").to_pylist()
    assert got.to_pylist() == [{k: r[k] for k in ("ping_id", "account_id", "at")} for r in pings
                               if r["account_id"] in (1, 2, 7)]
    assert got.schema.field("at").type == pa.timestamp("us")
    as_text = c.retrieve("accounts", ("account_id",), pa.table({"account_id": ["1"]}), ["account_id"])
    assert as_text.to_pylist() == [{"account_id": 1}]  # keys are cast to the column's type


def test_check_names_missing_table_and_column_before_any_write(folder: Path) -> None:
    before = sums(folder)
    c = LakeConnector(folder)
    with pytest.raises(InputError, match="table `nope` is missing"):
        c.check({"accounts": {"email"}, "nope": {"x"}})
    with pytest.raises(InputError, match=r"`accounts\.shoe_size`"):
        c.apply(Target("accounts", ("account_id",), "mask", {"shoe_size": Strategy(strategy="null_rewrite")}),
                SUBJECTS)
    with mock.patch.dict(os.environ, {KEY_ENV: ""}), pytest.raises(InputError, match=KEY_ENV):
        c.apply(Target("accounts", ("account_id",), "mask", {"email": Strategy(strategy="hash")}), SUBJECTS)
    with pytest.raises(InputError, match="do not fit"):
        c.count(Target("accounts", ("account_id",), "delete"), pa.table({"account_id": ["not a number"]}))
    assert sums(folder) == before
    with pytest.raises(InputError, match="Parquet folder not found"):
        LakeConnector(folder / "missing")


def test_a_crash_while_writing_leaves_the_old_file_and_a_rerun_completes(folder: Path) -> None:
    original = (folder / "location_pings.parquet").read_bytes()
    c = LakeConnector(folder)
    target = Target("location_pings", ("account_id",), "delete")
    n = c.count(target, SUBJECTS)

    def torn_write(table: pa.Table, where: Path) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    with mock.patch.object(lake_module.pq, "write_table", torn_write), pytest.raises(OSError, match="disk full"):
        c.apply(target, SUBJECTS)
    assert (folder / "location_pings.parquet").read_bytes() == original  # the rename never happened
    assert (folder / "location_pings.parquet.tmp").exists()
    assert c.apply(target, SUBJECTS).changed == n  # the stale .tmp is overwritten, then renamed
    assert not (folder / "location_pings.parquet.tmp").exists()
    assert c.apply(target, SUBJECTS).changed == 0


def test_the_spark_path_ends_where_the_duckdb_path_ends(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """parquet+spark:// finds the rows on Spark (local mode); the files end byte-identical."""
    other = tmp_path_factory.mktemp("spark-lake")
    for p in folder.iterdir():
        (other / p.name).write_bytes(p.read_bytes())
    duck = open_connector(f"parquet://{folder}")
    spark = open_connector(f"parquet+spark://{other}")
    assert isinstance(spark, LakeConnector) and spark.engine == "spark"
    delete = Target("location_pings", ("account_id",), "delete")
    coarse = Target("media", ("account_id",), "mask", {"lat": Strategy(strategy="null_rewrite"),
                                                       "lon": Strategy(strategy="null_rewrite")})
    for target in (delete, coarse):
        assert spark.count(target, SUBJECTS) == duck.count(target, SUBJECTS)
        assert spark.apply(target, SUBJECTS).changed == duck.apply(target, SUBJECTS).changed
    assert spark.retrieve("accounts", ("account_id",), SUBJECTS, ["account_id", "email"]).equals(
        duck.retrieve("accounts", ("account_id",), SUBJECTS, ["account_id", "email"]))
    assert sums(other) == sums(folder)
    assert spark.apply(delete, SUBJECTS).changed == 0  # idempotent
