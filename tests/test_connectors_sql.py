"""The SQL connector against real SQLite files, PostgreSQL and MariaDB databases.

Every test compares whole tables before and after: the matched rows change as asked and
every other row, in every table, is byte-for-byte what it was.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pytest
import sqlalchemy as sa

from estate_fixture import ROWS, server_database, write_sql
from tutela.clipstream import schema as S
from tutela.connectors import ConnectorUnavailable, SqlConnector, Target, open_connector
from tutela.connectors.strategies import KEY_ENV, Strategy
from tutela.errors import InputError, StoreUnavailable

KEY = "test-key-not-a-secret-0123456789"
SUBJECTS = pa.table({"account_id": [1, 2, 7, 999]})  # 999: no rows anywhere


def _extra_rows(url: str) -> None:
    """More rows than the hand-built estate: pings, impressions and messages for accounts 1..40."""
    r = random.Random(4)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(S.location_pings.insert(), [
            dict(ping_id=10_000 + i, account_id=r.randint(1, 40), lat=r.uniform(50, 53), lon=r.uniform(3, 6),
                 accuracy_m=5.0, at=ROWS["location_pings"][0]["at"]) for i in range(300)])
        conn.execute(S.messages.insert(), [
            dict(message_id=10_000 + i, sender_id=r.randint(1, 40), recipient_id=r.randint(1, 40), body=f"hello {i}",
                 sent_at=ROWS["location_pings"][0]["at"]) for i in range(200)])
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'estate.db'}"
        write_sql(url)
        _extra_rows(url)
        yield url
        return
    with server_database(request.param) as url:
        write_sql(url)
        _extra_rows(url)
        yield url


@pytest.fixture(autouse=True)
def _key() -> Iterator[None]:
    with mock.patch.dict(os.environ, {KEY_ENV: KEY}):
        yield


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, ordered by primary key."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = {t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
               for t in S.TABLES}
    engine.dispose()
    return out


def digest(rows: list[tuple[object, ...]]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_count_writes_nothing_and_apply_deletes_exactly_the_matched_rows(estate: str) -> None:
    before = snapshot(estate)
    c = open_connector(estate)
    assert isinstance(c, SqlConnector)
    target = Target("location_pings", ("account_id",), "delete")
    expected = [r for r in before["location_pings"] if r[1] in (1, 2, 7)]
    assert expected and c.count(target, SUBJECTS) == len(expected)
    assert snapshot(estate) == before  # the dry run wrote nothing
    assert c.apply(target, SUBJECTS).changed == len(expected)
    after = snapshot(estate)
    assert after["location_pings"] == [r for r in before["location_pings"] if r[1] not in (1, 2, 7)]
    assert {t: digest(v) for t, v in after.items() if t != "location_pings"} == \
           {t: digest(v) for t, v in before.items() if t != "location_pings"}
    assert c.apply(target, SUBJECTS).changed == 0  # idempotent
    assert c.count(target, SUBJECTS) == 0
    c.close()


def test_mask_changes_only_the_masked_fields_of_matched_rows(estate: str) -> None:
    before = snapshot(estate)
    c = open_connector(estate)
    masks = {"email": Strategy(strategy="hash"), "signup_ip": Strategy(strategy="truncate_ip"),
             "phone": Strategy(strategy="null_rewrite")}
    target = Target("accounts", ("account_id",), "mask", masks)
    present = [r[0] for r in before["accounts"] if r[0] in (1, 2, 7)]  # 999 has no account
    assert present and c.count(target, SUBJECTS) == len(present)
    assert snapshot(estate) == before
    assert c.apply(target, SUBJECTS).changed == len(present)
    after = snapshot(estate)
    cols = [col.name for col in S.accounts.columns]
    for old, new in zip(before["accounts"], after["accounts"], strict=True):
        o, n = dict(zip(cols, old, strict=True)), dict(zip(cols, new, strict=True))
        if o["account_id"] in present:
            assert str(n["email"]).startswith("h:") and n["phone"] is None
            assert n["signup_ip"] == (o["signup_ip"].rsplit(".", 1)[0] + ".0" if o["signup_ip"] else None)
            assert {k: v for k, v in n.items() if k not in masks} == {k: v for k, v in o.items() if k not in masks}
        else:
            assert n == o
    assert {t: digest(v) for t, v in after.items() if t != "accounts"} == \
           {t: digest(v) for t, v in before.items() if t != "accounts"}
    assert c.apply(target, SUBJECTS).changed == 0 and c.count(target, SUBJECTS) == 0
    coarse = Target("location_pings", ("account_id",), "mask", {"lat": Strategy(strategy="coarsen_location")})
    n = c.count(coarse, SUBJECTS)
    assert n == c.apply(coarse, SUBJECTS).changed > 0 and c.apply(coarse, SUBJECTS).changed == 0
    c.close()


def test_retrieve_returns_the_matching_rows(estate: str) -> None:
    c = open_connector(estate)
    got = c.retrieve("messages", ("sender_id",), SUBJECTS.rename_columns(["sender_id"]),
                     ["message_id", "sender_id", "body"])
    expected = sorted((r[0], r[1], r[3]) for r in snapshot(estate)["messages"] if r[1] in (1, 2, 7))
    assert sorted(zip(*got.to_pydict().values(), strict=True)) == expected
    assert got.schema.field("message_id").type == pa.int64()
    dates = c.retrieve("accounts", ("account_id",), SUBJECTS, ["birth_date"])
    assert dates.schema.field("birth_date").type == pa.date32()
    assert dates.num_rows == sum(r[0] in (1, 2, 7) for r in snapshot(estate)["accounts"])
    empty = c.retrieve("accounts", ("account_id",), pa.table({"account_id": pa.array([], pa.int64())}), ["email"])
    assert empty.num_rows == 0 and empty.column_names == ["email"]
    c.close()


def test_check_names_the_missing_table_or_column_before_any_write(estate: str) -> None:
    before = snapshot(estate)
    c = open_connector(estate)
    with pytest.raises(InputError, match="table `nope` is missing"):
        c.check({"accounts": {"email"}, "nope": {"x"}})
    with pytest.raises(InputError, match=r"`accounts\.shoe_size`"):
        c.check({"accounts": {"email", "shoe_size"}})
    with pytest.raises(InputError, match="NOT NULL"):  # email is NOT NULL: refused before the UPDATE
        c.apply(Target("accounts", ("account_id",), "mask", {"email": Strategy(strategy="null_rewrite")}), SUBJECTS)
    with pytest.raises(InputError, match="writes up to 66 characters"):  # handle is VARCHAR(64)
        c.apply(Target("accounts", ("account_id",), "mask", {"handle": Strategy(strategy="hash")}), SUBJECTS)
    with pytest.raises(InputError, match="primary key"):
        c.apply(Target("follows", ("followee_id",), "mask", {"follower_id": Strategy(strategy="null_rewrite")}),
                SUBJECTS.rename_columns(["followee_id"]))
    with pytest.raises(InputError, match="keys table has no column"):
        c.apply(Target("accounts", ("account_id",), "delete"), pa.table({"id": [1]}))
    with mock.patch.dict(os.environ, {KEY_ENV: ""}), pytest.raises(InputError, match=KEY_ENV):
        c.apply(Target("accounts", ("account_id",), "mask", {"email": Strategy(strategy="hash")}), SUBJECTS)
    assert snapshot(estate) == before
    c.close()


def test_composite_keys_match_whole_tuples(estate: str) -> None:
    engine = sa.create_engine(estate)
    with engine.begin() as conn:
        conn.execute(S.follows.insert(), [dict(follower_id=a, followee_id=b, created_at=ROWS["location_pings"][0]["at"])
                                          for a in range(101, 105) for b in range(101, 105) if a != b])
    engine.dispose()
    c = open_connector(estate)
    keys = pa.table({"follower_id": [101, 102, 103], "followee_id": [102, 101, 109]})  # no (103, 109)
    target = Target("follows", ("follower_id", "followee_id"), "delete")
    before = snapshot(estate)["follows"]
    assert c.count(target, keys) == 2 and c.apply(target, keys).changed == 2 and c.apply(target, keys).changed == 0
    assert snapshot(estate)["follows"] == [r for r in before if (r[0], r[1]) not in ((101, 102), (102, 101))]
    c.close()


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_unreachable_server_raises_connector_unavailable_without_the_password(kind: str) -> None:
    url = {"postgresql": "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/estate",
           "mariadb": "mysql+pymysql://root:s3cret-pw@127.0.0.1:1/estate"}[kind]
    c = open_connector(url)
    with pytest.raises(ConnectorUnavailable) as info:
        c.check({"accounts": {"account_id"}})
    assert isinstance(info.value, StoreUnavailable) and not isinstance(info.value, InputError)  # exit 4, not 3
    assert info.value.where is not None and "127.0.0.1:1" in info.value.where
    assert "s3cret-pw" not in str(info.value) and "s3cret-pw" not in repr(info.value.to_dict())
    c.close()


def test_a_lost_postgresql_connection_is_unavailable_and_a_retry_completes() -> None:
    with server_database("postgresql") as url:
        write_sql(url)
        c = open_connector(url)
        target = Target("location_pings", ("account_id",), "delete")
        n = c.count(target, SUBJECTS)  # leaves a pooled connection behind
        assert n > 0
        admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": url.rsplit("/", 1)[1]})
        admin.dispose()
        with pytest.raises(ConnectorUnavailable, match="the database failed"):
            c.apply(target, SUBJECTS)
        assert c.apply(target, SUBJECTS).changed == n  # the job's resume: nothing was half-done
        c.close()


def test_bad_urls_and_missing_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="SQLite file not found"):
        open_connector(f"sqlite:///{tmp_path / 'missing.db'}")
    with pytest.raises(InputError, match="unsupported store URL scheme `ftp`"):
        open_connector("ftp://example.test/x")
    with pytest.raises(InputError, match="needs its key families"):
        open_connector("redis://127.0.0.1:6379/0")
