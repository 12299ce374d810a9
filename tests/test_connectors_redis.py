"""The Redis connector against the real server at 127.0.0.1:6379, one key prefix per test."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from unittest import mock

import pyarrow as pa
import pytest
import redis

from tutela.clipstream.cache import write_cache
from tutela.connectors import ConnectorUnavailable, RedisConnector, Target, open_connector
from tutela.connectors.strategies import KEY_ENV, Strategy
from tutela.datamap import load_datamap
from tutela.datamap.models import KeyFamilyDecl, RedisStoreDecl
from tutela.errors import InputError

URL = "redis://127.0.0.1:6379/0"
KEY = "test-key-not-a-secret-0123456789"
ACCOUNTS = pa.table({"account_id": list(range(1, 21)), "device_id": [f"dev-{i}" for i in range(1, 21)],
                     "signup_ip": [f"192.0.2.{i}" if i % 3 else None for i in range(1, 21)]})
SUBJECTS = pa.table({"account_id": [2, 3, 5, 999]})


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"tutela-test-{uuid.uuid4().hex[:10]}:"
    client = redis.Redis.from_url(URL, decode_responses=True)
    yield p
    for key in client.scan_iter(p + "*"):
        client.unlink(key)
    client.close()


@pytest.fixture(autouse=True)
def _key() -> Iterator[None]:
    with mock.patch.dict(os.environ, {KEY_ENV: KEY}):
        yield


def store() -> RedisStoreDecl:
    dm = load_datamap()
    assert dm.tutela is not None
    decl = dm.tutela.stores["redis"]
    assert isinstance(decl, RedisStoreDecl)
    return decl


def dump(prefix: str) -> dict[str, object]:
    """Every key under the prefix with its type and value."""
    c = redis.Redis.from_url(URL, decode_responses=True)
    out: dict[str, object] = {}
    for key in sorted(c.scan_iter(prefix + "*")):
        kind = c.type(key)
        out[key] = (kind, c.hgetall(key) if kind == "hash" else c.lrange(key, 0, -1) if kind == "list" else c.get(key))
    c.close()
    return out


def test_delete_unlinks_exactly_the_subjects_keys(prefix: str) -> None:
    assert write_cache(URL, ACCOUNTS, key_prefix=prefix, seed=1) == 60
    before = dump(prefix)
    c = open_connector(URL, store=store(), key_prefix=prefix)
    assert isinstance(c, RedisConnector)
    target = Target("recently_watched", ("account_id",), "delete")
    assert c.count(target, SUBJECTS) == 3
    assert dump(prefix) == before
    assert c.apply(target, SUBJECTS).changed == 3
    gone = {f"{prefix}clipstream:recent:{i}" for i in (2, 3, 5)}
    assert dump(prefix) == {k: v for k, v in before.items() if k not in gone}
    assert c.apply(target, SUBJECTS).changed == 0 and c.count(target, SUBJECTS) == 0
    c.close()


def test_hash_masks_set_or_delete_only_changed_fields(prefix: str) -> None:
    write_cache(URL, ACCOUNTS, key_prefix=prefix, seed=2)
    before = dump(prefix)
    c = open_connector(URL, store=store(), key_prefix=prefix)
    masks = {"ip": Strategy(strategy="truncate_ip"), "lat": Strategy(strategy="coarsen_location"),
             "device_id": Strategy(strategy="null_rewrite")}
    target = Target("sessions", ("account_id",), "mask", masks)
    assert c.count(target, SUBJECTS) == 3
    assert dump(prefix) == before
    assert c.apply(target, SUBJECTS).changed == 3
    after = dump(prefix)
    for key, (kind, value) in before.items():
        aid = int(key.rsplit(":", 1)[1])
        if kind != "hash" or aid not in (2, 3, 5):
            assert after[key] == (kind, value)
            continue
        assert isinstance(value, dict)
        new = after[key][1]
        assert isinstance(new, dict)
        assert "device_id" not in new  # HDEL
        assert float(new["lat"]) == round(float(value["lat"]), 1) and new["lon"] == value["lon"]
        assert new.get("ip") == (value["ip"].rsplit(".", 1)[0] + ".0" if "ip" in value else None)
        assert new["started_at"] == value["started_at"]
    assert c.apply(target, SUBJECTS).changed == 0 and c.count(target, SUBJECTS) == 0
    hashed = Target("sessions", ("account_id",), "mask", {"started_at": Strategy(strategy="hash")})
    assert c.apply(hashed, SUBJECTS).changed == 3 and c.apply(hashed, SUBJECTS).changed == 0
    c.close()


def test_retrieve_returns_key_type_and_value(prefix: str) -> None:
    write_cache(URL, ACCOUNTS, key_prefix=prefix, seed=3)
    before = dump(prefix)
    c = open_connector(URL, store=store(), key_prefix=prefix)
    got = c.retrieve("sessions", ("account_id",), SUBJECTS, ["ip", "device_id"])
    assert got.column_names == ["account_id", "key", "type", "value"]
    assert got["account_id"].to_pylist() == [2, 3, 5]
    for row in got.to_pylist():
        kind, value = before[row["key"]]
        assert isinstance(value, dict)
        assert row["type"] == kind == "hash"
        assert json.loads(row["value"]) == {k: v for k, v in value.items() if k in ("ip", "device_id")}
    lists = c.retrieve("recently_watched", ("account_id",), SUBJECTS, [])
    assert [json.loads(v) for v in lists["value"].to_pylist()] == [before[k][1] for k in lists["key"].to_pylist()]
    segment = c.retrieve("feed_segment", ("account_id",), SUBJECTS, [])
    assert segment["type"].to_pylist() == ["string"] * 3
    c.close()


def test_check_and_bad_declarations_are_input_errors(prefix: str) -> None:
    c = RedisConnector(URL, store().collections, key_prefix=prefix)
    with pytest.raises(InputError, match="key family `carts` is not declared"):
        c.check({"carts": {"account_id"}})
    with pytest.raises(InputError, match=r"`sessions\.shoe_size` not declared"):
        c.check({"sessions": {"shoe_size"}})
    with pytest.raises(InputError, match="only hash fields can be masked"):
        c.apply(Target("recently_watched", ("account_id",), "mask", {"x": Strategy(strategy="null_rewrite")}),
                SUBJECTS)
    with pytest.raises(InputError, match="matched on account_id"):
        c.count(Target("sessions", ("device_id",), "delete"), pa.table({"device_id": ["d"]}))
    with pytest.raises(InputError, match=r"no `\{placeholder\}`"):
        RedisConnector(URL, {"all": KeyFamilyDecl(key="clipstream:everyone", type="string")})
    with pytest.raises(InputError, match="bad placeholder"):
        RedisConnector(URL, {"odd": KeyFamilyDecl(key="x:{account_id!r}", type="string")})
    wrong = redis.Redis.from_url(URL, decode_responses=True)
    wrong.rpush(f"{prefix}clipstream:session:2", "not a hash")  # a list where a hash should be
    wrong.close()
    with pytest.raises(InputError, match="WRONGTYPE"):
        c.apply(Target("sessions", ("account_id",), "mask", {"ip": Strategy(strategy="null_rewrite")}), SUBJECTS)
    c.close()


def test_unreachable_redis_raises_connector_unavailable_without_the_password() -> None:
    c = open_connector("redis://:s3cret-pw@127.0.0.1:1/0", store=store())
    with pytest.raises(ConnectorUnavailable) as info:
        c.check({"sessions": {"account_id"}})
    assert info.value.where is not None and "127.0.0.1:1" in info.value.where
    assert "s3cret-pw" not in str(info.value)
    with pytest.raises(ConnectorUnavailable):
        c.apply(Target("recently_watched", ("account_id",), "delete"), SUBJECTS)
    c.close()
