"""The planner: Fides traversal, unreachable collections, erasure targets, and a whole erasure
across a SQLite estate, its Redis cache and its media folder."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import redis
import sqlalchemy as sa

from estate_fixture import write_sql
from tutela.clipstream import schema as S
from tutela.clipstream.cache import write_cache
from tutela.clipstream.media import read_jpeg_gps, write_jpeg
from tutela.connectors import ESTATE, MemoryConnector, erasure_targets, needs, open_connector, plan, resolve
from tutela.connectors.base import Connector
from tutela.datamap import check, load_datamap
from tutela.datamap.check import notes
from tutela.datamap.erasure import parse_policy
from tutela.datamap.loader import DataMap
from tutela.errors import InputError
from tutela.taxonomy import load_taxonomy

SHOP = """
dataset:
  - fides_key: shop
    collections:
      - name: customer
        fields:
          - {name: email, data_categories: [user.contact.email], fidesops_meta: {identity: email}}
          - {name: id, data_categories: [user.unique_id], fides_meta: {primary_key: true}}
          - {name: name, data_categories: [user.name], fides_meta: {masking_strategy_override: {strategy: hash}}}
          - {name: nickname, data_categories: [user.name], fides_meta: {read_only: true}}
          - {name: created, data_categories: [system.operations]}
      - name: orders
        fidesops_meta: {masking_strategy_override: {strategy: delete}}
        fields:
          - name: customer_id
            data_categories: [user.unique_id]
            fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}
          - {name: shipping, data_categories: [user.contact.address]}
      - name: reviews
        fields:
          - name: order_customer
            data_categories: [user.unique_id]
            fides_meta: {references: [{dataset: shop, field: orders.customer_id}]}
          - {name: text, data_categories: [user.content.public]}
          - name: stars
            data_categories: [user.content.public]
            fides_meta: {masking_strategy_override: {strategy: preserve}}
      - name: warehouse
        fields:
          - {name: code, data_categories: [system.operations]}
          - {name: city, data_categories: [user.contact.address.city]}
"""


def shop(tmp_path: Path, text: str = SHOP) -> DataMap:
    f = tmp_path / "shop.yml"
    f.write_text(text)
    return load_datamap(f)


def test_clipstream_reaches_every_collection_and_its_stores() -> None:
    dm = load_datamap()
    p = plan(dm)
    assert p.identities == ("account_id",) and p.unreachable == ()
    ids = [n.id for n in p.nodes]
    assert set(ids) >= {c.name for c in dm.dataset.collections}
    assert ids.index("accounts") == 0 and ids.index("transfers") < ids.index("processors")
    assert p.node("messages").inputs[0].match == ("sender_id",)
    assert p.node("processors").inputs[0].parent == "transfers"  # a `to` reference
    assert p.node("redis.sessions").inputs[0].parent == "accounts"
    assert p.node("files.profiles").inputs[0].match == ("avatar_path",)
    assert p.to_dict()["nodes"][0]["inputs"] == [{"from": "identity", "source": ["account_id"],
                                                   "match": ["account_id"]}]
    only = plan(dm, stores=["files"])
    assert "redis.sessions" in only.skipped and "redis.sessions" not in [n.id for n in only.nodes]


def test_directions_and_unreachable_collections(tmp_path: Path) -> None:
    p = plan(shop(tmp_path))
    assert [n.id for n in p.nodes] == ["customer", "orders", "reviews"]
    assert p.node("orders").inputs[0].parent == "customer" and p.node("orders").inputs[0].source == ("id",)
    assert p.node("reviews").inputs[0].source == ("customer_id",)  # undirected: followed both ways
    assert p.unreachable == ("warehouse",)
    flipped = plan(shop(tmp_path, SHOP.replace("field: customer.id, direction: from", "field: customer.id, "
                                                                                  "direction: to")))
    assert flipped.unreachable == ("orders", "reviews", "warehouse")
    with pytest.raises(InputError, match="identity `phone` is not declared"):
        plan(shop(tmp_path), identities=["phone"])


def test_fides_erasure_targets_skip_keys_and_apply_overrides(tmp_path: Path) -> None:
    dm = shop(tmp_path)
    out = {e.node: e.target for e in erasure_targets(plan(dm), dm)}
    assert list(out) == ["reviews", "orders", "customer"]  # children before parents
    assert out["orders"].action == "delete" and out["orders"].match == ("customer_id",)
    assert {f: s.strategy for f, s in out["customer"].masks.items()} == {"name": "hash"}  # not email/id/nickname
    assert {f: s.strategy for f, s in out["reviews"].masks.items()} == {"text": "null_rewrite"}  # stars preserved
    deleted = {e.node: e.target.action for e in erasure_targets(plan(dm), dm, delete_rows=True)}
    assert deleted == {"reviews": "delete", "orders": "delete", "customer": "delete"}


@pytest.mark.parametrize(("old", "new", "message", "where"), [
    ("{strategy: hash}}}", "{strategy: rot13}}}", "unknown masking strategy `rot13`", "customer.name"),
    ("{strategy: hash}}}", "{strategy: hash, configuration: {salt: x}}}}", "unknown field", "customer.name"),
    ("{strategy: hash}}}", "{strategy: delete}}}", "`delete` is a collection-level override", "customer.name"),
    ("{masking_strategy_override: {strategy: delete}}", "{masking_strategy_override: {strategy: null_rewrite}}",
     "must be `delete`, not `null_rewrite`", "orders"),
])
def test_bad_overrides_are_input_errors_naming_the_field(tmp_path: Path, old: str, new: str, message: str,
                                                          where: str) -> None:
    assert old in SHOP
    dm = shop(tmp_path, SHOP.replace(old, new))
    with pytest.raises(InputError, match=message) as info:
        erasure_targets(plan(dm), dm)
    assert info.value.where is not None and where in info.value.where
    assert any(message in p.message and where in p.where for p in check(dm, load_taxonomy()))  # and datamap check


def test_plain_fides_overrides_parse_and_declared_stores_are_checked(tmp_path: Path) -> None:
    dm = shop(tmp_path)
    orders = dm.collection("orders")
    assert orders.fides_meta is not None and orders.fides_meta.masking_strategy_override is not None
    meta = dm.collection("customer").fields[2].fides_meta
    assert meta is not None and meta.masking_strategy_override is not None
    assert meta.masking_strategy_override.strategy == "hash"
    base = Path(__file__).parents[1] / "src/tutela/data/datamaps"
    (tmp_path / "cs.yml").write_text((base / "clipstream.yml").read_text())
    decl = (base / "clipstream.tutela.yml").read_text()
    (tmp_path / "cs.tutela.yml").write_text(decl.replace("session:{account_id}", "session:{user_id}")
                                            .replace("media: {field: path}", "media: {field: file}")
                                            .replace("ip: {data_categories: [user.device.ip_address]}",
                                                     "ip: {data_categories: [user.bogus]}"))
    messages = {p.message for p in check(load_datamap(tmp_path / "cs.yml"), load_taxonomy())}
    assert "placeholder `{user_id}` is not a field of `accounts`" in messages
    assert "field `media.file` is not in the dataset" in messages
    assert "unknown data category `user.bogus`" in messages
    (tmp_path / "cs.tutela.yml").write_text(decl.replace("kind: redis", "kind: memcached"))
    with pytest.raises(InputError) as info:
        load_datamap(tmp_path / "cs.yml")
    assert info.value.where is not None and "tutela.stores.redis" in info.value.where


def test_resolve_follows_indirect_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_MASKING_KEY", "test-key-not-a-secret-0123456789")
    dm = shop(tmp_path)
    mem = MemoryConnector({
        "customer": pa.table({"email": ["a@x.test", "b@x.test"], "id": [1, 2], "name": ["A", "B"],
                              "nickname": ["a", "b"], "created": [0, 0]}),
        "orders": pa.table({"customer_id": [1, 1, 2], "shipping": ["s1", "s2", "s3"]}),
        "reviews": pa.table({"order_customer": [1, 2, 3], "text": ["t1", "t2", "t3"], "stars": [5, 4, 3]}),
    })
    p = plan(dm)
    keys = resolve(p, pa.table({"email": ["a@x.test", "nobody@x.test"]}), {ESTATE: mem})
    assert keys[("customer", ("email",))].to_pylist() == [{"email": "a@x.test"}, {"email": "nobody@x.test"}]
    assert keys[("orders", ("customer_id",))].to_pylist() == [{"customer_id": 1}]
    assert keys[("reviews", ("order_customer",))].to_pylist() == [{"order_customer": 1}]
    for e in erasure_targets(p, dm):
        mem.apply(e.target, keys[(e.node, e.target.match)])
    assert mem.tables["orders"]["customer_id"].to_pylist() == [2]
    assert mem.tables["reviews"]["text"].to_pylist() == [None, "t2", "t3"]
    assert mem.tables["customer"]["name"].to_pylist()[0].startswith("h:")


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"tutela-test-{uuid.uuid4().hex[:10]}:"
    yield p
    client = redis.Redis()
    for key in client.scan_iter(p + "*"):
        client.unlink(key)
    client.close()


def test_account_erasure_across_sql_redis_and_files(tmp_path: Path, prefix: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_MASKING_KEY", "test-key-not-a-secret-0123456789")
    url = f"sqlite:///{tmp_path / 'estate.db'}"
    write_sql(url)
    media = tmp_path / "media"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        accounts = [r[0] for r in conn.execute(sa.select(S.accounts.c.account_id))]
        conn.execute(S.media.insert(), [dict(media_id=1000 + a, account_id=a, kind="photo", path=f"media/{a}.jpg",
                                             caption=None, lat=52.0, lon=4.0, created_at=dt.datetime(2026, 1, 1))
                                        for a in accounts])
        conn.execute(S.profiles.update().values(avatar_path=sa.func.printf("avatars/%d.jpg", S.profiles.c.account_id)))
    engine.dispose()
    for a in accounts:
        write_jpeg(media / f"media/{a}.jpg", (a, a, a), 52.0, 4.0)
        write_jpeg(media / f"avatars/{a}.jpg", (a, 0, 0))
    write_cache("redis://127.0.0.1:6379/0", pa.table({"account_id": accounts}), key_prefix=prefix)
    dm = load_datamap()
    assert dm.tutela is not None
    stores: dict[str, Connector] = {
        ESTATE: open_connector(url),
        "redis": open_connector("redis://127.0.0.1:6379/0", store=dm.tutela.stores["redis"], key_prefix=prefix),
        "files": open_connector(f"file://{media}", store=dm.tutela.stores["files"])}
    assert all(isinstance(c, Connector) for c in stores.values())  # each meets the protocol
    p = plan(dm)
    subject = accounts[0]
    keys = resolve(p, pa.table({"account_id": [subject]}), stores)
    erasures = erasure_targets(p, dm, delete_rows=True)
    for store, need in needs(p, erasures).items():
        stores[store].check(need)
    counts = {(e.node, e.target.match): stores[e.store].count(e.target, keys[(e.node, e.target.match)])
              for e in erasures}
    assert counts[("accounts", ("account_id",))] == 1 and counts[("files.media", ("path",))] == 1
    assert counts[("redis.sessions", ("account_id",))] == 1
    done = {(e.node, e.target.match): stores[e.store].apply(e.target, keys[(e.node, e.target.match)]).changed
            for e in erasures}
    assert done == counts
    assert all(stores[e.store].apply(e.target, keys[(e.node, e.target.match)]).changed == 0 for e in erasures)
    assert not (media / f"media/{subject}.jpg").exists() and not (media / f"avatars/{subject}.jpg").exists()
    assert all((media / f"media/{a}.jpg").exists() and read_jpeg_gps(media / f"media/{a}.jpg") for a in accounts[1:])
    client = redis.Redis()
    remaining = {k.decode() for k in client.scan_iter(prefix + "*")}
    client.close()
    assert not any(k.endswith(f":{subject}") for k in remaining) and len(remaining) == 3 * (len(accounts) - 1)
    left = stores[ESTATE].retrieve("accounts", ("account_id",), pa.table({"account_id": accounts}), ["account_id"])
    assert sorted(left["account_id"].to_pylist()) == accounts[1:]
    for c in stores.values():
        c.close()


GRAPH = (Path(__file__).parent / "data" / "fides_graph.yml").read_text("utf-8")


def test_every_path_feeds_a_node_and_only_real_cycles_are_left_out(tmp_path: Path) -> None:
    dm = shop(tmp_path, GRAPH)
    p = plan(dm)
    ids = [n.id for n in p.nodes]
    assert ids == ["root", "trip", "place", "leg", "friend"]  # place waits for both root and trip
    assert [(e.parent, e.source, e.match) for e in p.node("place").inputs] == [
        ("root", ("home",), ("id",)), ("trip", ("dest",), ("id",))]
    assert [e.parent for e in p.node("friend").inputs] == ["root"]  # undirected: from the end reached first
    # trip -> leg -> trip is a real cycle (leg.back points to trip again), and so is friend.boss -> friend
    assert p.cycles == ("leg.back -> trip.root_id", "friend.id -> friend.boss")
    assert p.skip_processing == ("hidden",) and p.unreachable == ("below_hidden",)
    said = {n.where.rsplit(": ", 1)[1]: n.message for n in notes(dm)}
    assert "skip_processing" in said["hidden"] and "closes a cycle" in said["leg.back"]
    problems = {pr.where.rsplit(": ", 1)[1]: pr.message for pr in check(dm, load_taxonomy())}
    assert problems == {"below_hidden": "unreachable from any identity through references"}


def test_two_paths_into_one_collection_find_both_rows(tmp_path: Path) -> None:
    dm = shop(tmp_path, GRAPH)
    mem = MemoryConnector({
        "root": pa.table({"email": ["a@x.test", "b@x.test"], "id": [1, 2], "home": [10, 30]}),
        "place": pa.table({"id": [10, 20, 30], "city": ["Home", "Away", "Other"]}),
        "trip": pa.table({"root_id": [1], "dest": [20], "next": [None]}, schema=pa.schema(
            [("root_id", pa.int64()), ("dest", pa.int64()), ("next", pa.int64())])),
        "leg": pa.table({"id": [5], "back": [1], "note": ["n"]}),
        "friend": pa.table({"of": [1], "id": [7], "boss": [None]}, schema=pa.schema(
            [("of", pa.int64()), ("id", pa.int64()), ("boss", pa.int64())])),
    })
    p = plan(dm)
    keys = resolve(p, pa.table({"email": ["a@x.test"]}), {ESTATE: mem})
    assert sorted(keys[("place", ("id",))]["id"].to_pylist()) == [10, 20]
    targets = [e for e in erasure_targets(p, dm) if e.node == "place"]
    assert len(targets) == 1  # two paths on the same field: one target, the keys of both
    mem.apply(targets[0].target, keys[("place", ("id",))])
    assert mem.tables["place"]["city"].to_pylist() == [None, None, "Other"]


def test_a_category_policy_reaches_redis_fields_families_and_files() -> None:
    dm = load_datamap()
    tax = load_taxonomy()
    p = plan(dm)

    def targets(*categories: str) -> dict[str, tuple[str, list[str]]]:
        policy = parse_policy({"rules": [{"targets": list(categories)}]}, "policy", tax)
        return {e.node: (e.target.action, sorted(e.target.masks)) for e in erasure_targets(p, dm, policy=policy)}

    location = targets("user.location")
    assert location["redis.sessions"] == ("mask", ["lat", "lon"])  # not ip or device_id
    assert "redis.recently_watched" not in location and "files.profiles" not in location
    # media's collection-level `delete` applies once the policy covers one of its fields; its files go with it
    assert location["media"] == ("delete", []) and location["files.media"] == ("delete", [])
    behaviour = targets("user.behavior.media_consumption")
    assert behaviour["redis.recently_watched"] == ("delete", []) and behaviour["redis.feed_segment"] == ("delete", [])
    assert "redis.sessions" not in behaviour
    video = targets("user.content")  # media.path is erased, so its files go
    assert video["files.media"] == ("delete", []) and video["files.profiles"] == ("delete", [])
    with pytest.raises(InputError, match="policy is for a `data` erasure"):
        erasure_targets(p, dm, delete_rows=True, policy=parse_policy({"rules": [{"targets": ["user"]}]}, "p", tax))
