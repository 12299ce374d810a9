"""Access and erasure of one child on SQLite, PostgreSQL, MariaDB and Parquet, with real media files and Redis.

The estate here is small and hand-built so that every subject's rows are known: the export
must hold exactly the child's rows, and an erasure must remove exactly them (everyone else's
rows, files and keys unchanged, by checksum), keep the transfer records, and write a receipt
whose digest verifies in the state store's hash chain. Other test files import the builder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
import sqlalchemy as sa

from estate_fixture import server_database
from tutela.clipstream import schema as S
from tutela.clipstream.media import write_jpeg, write_mp4
from tutela.connectors.estate import EstateConfig
from tutela.engine import Engine
from tutela.rights.desk import RightsDesk
from tutela.store.state import StateStore, chain

REDIS = "redis://127.0.0.1:6379/0"
D = dt.datetime
PEOPLE = {1: ("NL", dt.date(2015, 5, 1)), 2: ("GB", dt.date(2013, 2, 3)), 3: ("US-CA", dt.date(2014, 9, 9)),
          4: ("US", dt.date(1990, 1, 1))}
OWNER = {"messages": "sender_id", "follows": "follower_id", "processors": None}  # default: account_id
PK = {t.name: [c.name for c in t.primary_key.columns] for t in S.TABLES}


def owner(table: str) -> str | None:
    return OWNER.get(table, "account_id")


def estate_rows() -> dict[str, list[dict[str, Any]]]:
    t: dict[str, list[dict[str, Any]]] = {x.name: [] for x in S.TABLES}
    for a, (country, born) in PEOPLE.items():
        t["accounts"].append(dict(account_id=a, handle=f"user{a}", email=f"child{a}@example.test",
                                  phone=f"+3160000{a:04d}", birth_date=born, country=country,
                                  signup_ip=f"192.0.2.{a}", device_id=f"dev-{a}", created_at=D(2025, 1, a)))
        avatar = f"avatars/{a}.jpg" if a < 3 else None
        t["profiles"].append(dict(account_id=a, bio=f"bio of user{a}", avatar_path=avatar,
                                  visibility="public" if a == 1 else "private", visibility_set_by="default"))
        for k in range(2):
            t["media"].append(dict(media_id=a * 10 + k, account_id=a, kind="video" if k else "photo",
                                   path=f"media/{a}/{k}.{'mp4' if k else 'jpg'}", caption=f"caption {a}-{k}",
                                   lat=52.0 + a / 10, lon=4.0 + k / 10, created_at=D(2026, 2, a, k)))
            t["location_pings"].append(dict(ping_id=a * 100 + k, account_id=a, lat=50.0 + a, lon=5.0 + k,
                                            accuracy_m=5.0, at=D(2026, 3, 1, a, k)))
            t["ad_impressions"].append(dict(impression_id=a * 100 + k, account_id=a, segment=f"seg-{a}",
                                            targeting="profiled" if k else "contextual", exchange="x",
                                            at=D(2026, 3, 2, a, k)))
            t["messages"].append(dict(message_id=a * 10 + k, sender_id=a, recipient_id=a % 4 + 1,
                                      body=f"hello {k} from user{a}", sent_at=D(2026, 3, 3, a, k)))
        for k in range(3):
            t["watch_history"].append(dict(event_id=a * 100 + k, account_id=a, media_id=(a % 4 + 1) * 10,
                                           seconds=10 * (k + 1), watched_at=D(2026, 3, 4, a, k)))
        t["follows"].append(dict(follower_id=a, followee_id=a % 4 + 1, created_at=D(2026, 1, a)))
        t["consents"].append(dict(consent_id=a, account_id=a, scopes="processing", given_by="parent" if a < 4
                                  else "self", assurance="verified", method=None, granted_at=dt.date(2025, 1, a),
                                  expires_at=None, revoked_at=None))
        if a in (1, 3):
            t["face_templates"].append(dict(template_id=a, account_id=a, purpose="login", created_at=D(2026, 1, a)))
        if a < 4:
            t["transfers"].append(dict(transfer_id=a, account_id=a, processor_id=1 + a % 2,
                                       collection="watch_history", at=D(2026, 3, 5, a)))
    t["processors"] = [dict(processor_id=1, name="adnet", kind="third_party", country="IN", dpf_certified=False,
                            scc_module=None, tia_date=None),
                       dict(processor_id=2, name="cdn", kind="processor", country="US", dpf_certified=True,
                            scc_module="C2P", tia_date=dt.date(2025, 1, 1))]
    return t


def write_files(root: Path) -> None:
    for a in PEOPLE:
        write_jpeg(root / f"media/{a}/0.jpg", (40 * a, 20, 200), 52.0 + a / 10, 4.0)
        write_mp4(root / f"media/{a}/1.mp4", (200, 40 * a, 20), 52.0 + a / 10, 4.1)
        if a < 3:
            write_jpeg(root / f"avatars/{a}.jpg", (10, 10, 60 * a))


def write_redis(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS, decode_responses=True)
    try:
        for a in PEOPLE:
            client.hset(f"{prefix}clipstream:session:{a}", mapping={"device_id": f"dev-{a}", "ip": f"192.0.2.{a}",
                                                                    "lat": "52.1", "lon": "4.2", "started_at": "x"})
            client.rpush(f"{prefix}clipstream:recent:{a}", str(a * 10), str(a * 10 + 1))
            client.set(f"{prefix}clipstream:segment:{a}", f"seg-{a}")
    finally:
        client.close()


def redis_state(prefix: str) -> dict[str, str]:
    """key (prefix removed) -> a digest of its value, for every test key."""
    client = redis.Redis.from_url(REDIS, decode_responses=True)
    try:
        out = {}
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            kind = client.type(key)
            value: Any = {"hash": client.hgetall, "list": lambda k: client.lrange(k, 0, -1),
                          "string": client.get}[kind](key)
            out[key.removeprefix(prefix)] = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
        return out
    finally:
        client.close()


def _arrow_type(t: sa.types.TypeEngine[Any]) -> pa.DataType:
    return {sa.Integer: pa.int64(), sa.Float: pa.float64(), sa.Date: pa.date32(), sa.DateTime: pa.timestamp("us"),
            sa.Boolean: pa.bool_()}.get(type(t), pa.string())


def write_estate(url: str, folder: Path | None = None) -> None:
    data = estate_rows()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for table in S.TABLES:
            cols = {c.name: _arrow_type(c.type) for c in table.columns}
            pq.write_table(pa.table({c: pa.array([r[c] for r in data[table.name]], t) for c, t in cols.items()}),
                           folder / f"{table.name}.parquet")
        return
    engine = sa.create_engine(url)
    S.metadata.drop_all(engine)
    S.metadata.create_all(engine)
    with engine.begin() as conn:
        for table in S.TABLES:
            conn.execute(table.insert(), data[table.name])
    engine.dispose()


def read_all(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every table of the estate as JSON-able rows, in primary-key order."""
    if url.startswith("parquet://"):
        folder = Path(url.removeprefix("parquet://"))
        tables = {t.name: pq.read_table(folder / f"{t.name}.parquet").to_pylist() for t in S.TABLES}
    else:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            tables = {t.name: [dict(r) for r in conn.execute(sa.select(t)).mappings()] for t in S.TABLES}
        engine.dispose()
    out = {}
    for name, rows in tables.items():
        clean = [{k: (float(v) if isinstance(v, float) else bool(v) if name == "processors" and k == "dpf_certified"
                      else v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items()} for r in rows]
        out[name] = sorted(clean, key=lambda r: [r[k] for k in PK[name]])
    return out


def split(tables: dict[str, list[dict[str, Any]]], subject: int) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """The subject's primary keys per table, and a checksum of everyone else's rows per table."""
    mine: dict[str, list[Any]] = {}
    others: dict[str, str] = {}
    for name, rows in tables.items():
        col = owner(name)
        mine[name] = [[r[k] for k in PK[name]] for r in rows if col and r[col] == subject]
        rest = [r for r in rows if not col or r[col] != subject]
        others[name] = hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()
    return mine, others


def file_state(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@dataclass
class Estate:
    url: str
    media: Path
    prefix: str
    state: StateStore

    def config(self) -> EstateConfig:
        return EstateConfig(self.url, media=self.media, redis=REDIS, redis_prefix=self.prefix)

    def desk(self, engine: Engine) -> RightsDesk:
        return engine.requests(self.config(), state=self.state)


@contextmanager
def make_estate(kind: str, tmp: Path) -> Iterator[Estate]:
    """The hand-built estate on `kind` (sqlite, postgresql, mariadb, parquet), its media and Redis keys."""
    prefix = f"tutela-test-{uuid.uuid4().hex[:10]}:"
    media = tmp / "media-root"
    write_files(media)
    write_redis(prefix)
    state = StateStore(f"sqlite:///{tmp / 'state.db'}")
    try:
        if kind in ("postgresql", "mariadb"):
            with server_database(kind) as url:
                write_estate(url)
                yield Estate(url, media, prefix, state)
        elif kind == "parquet":
            write_estate("", tmp / "lake")
            yield Estate(f"parquet://{tmp / 'lake'}", media, prefix, state)
        else:
            url = f"sqlite:///{tmp / 'estate.db'}"
            write_estate(url)
            yield Estate(url, media, prefix, state)
    finally:
        state.close()
        client = redis.Redis.from_url(REDIS)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.unlink(*keys)
        finally:
            client.close()


KINDS = ["sqlite", "postgresql", "mariadb", "parquet"]


@pytest.fixture(params=KINDS)
def estate(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Estate]:
    with make_estate(request.param, tmp_path) as e:
        yield e


def approved(desk: RightsDesk, body: dict[str, Any]) -> str:
    rid = str(desk.create(body, by="alice")["id"])
    desk.approve(rid, by="bob")
    return rid


def test_access_exports_exactly_the_childs_data(estate: Estate, engine: Engine) -> None:
    mine, _ = split(read_all(estate.url), 1)
    desk = estate.desk(engine)
    try:
        rid = approved(desk, {"kind": "access", "subject": "1", "requester": {"kind": "parent", "ref": "T-1"}})
        done = desk.run(rid)
        export, digest = desk.export(rid)
    finally:
        desk.close()
    assert done["status"] == "done" and done["due"] is not None and not done["overdue"]
    by_name = {c["name"]: c for c in export["collections"]}
    for table, pks in mine.items():
        if table == "processors":
            continue  # reached through transfers.processor_id: checked below
        if not pks:
            assert table not in by_name or not by_name[table]["rows"], table
            continue
        got = sorted([r[k] for k in PK[table]] for r in by_name[table]["rows"])
        assert got == sorted(pks), table
    assert {r["name"] for r in by_name["processors"]["rows"]} == {"cdn"}  # the recipient of account 1's transfer
    fields = {f["name"]: f["categories"] for f in by_name["accounts"]["fields"]}
    assert fields["email"] == ["user.contact.email"]
    assert by_name["accounts"]["rows"][0]["email"] == "child1@example.test"
    assert sorted(f["path"] for f in export["files"]) == ["avatars/1.jpg", "media/1/0.jpg", "media/1/1.mp4"]
    assert all(f["sha256"] and f["bytes"] for f in export["files"])
    redis_keys = sorted(r["key"].removeprefix(estate.prefix) for n, c in by_name.items() if n.startswith("redis.")
                        for r in c["rows"])
    assert redis_keys == ["clipstream:recent:1", "clipstream:segment:1", "clipstream:session:1"]
    text = json.dumps(export)
    for other in (2, 3, 4):  # nothing that belongs to another subject
        for marker in (f"child{other}@example.test", f"bio of user{other}", f"dev-{other}", f"seg-{other}",
                       f"from user{other}", f"media/{other}/"):
            assert marker not in text, marker
    assert len(digest) == 64 and export["request"]["id"] == rid
    assert export["categories"]["user.contact.email"] not in ("", "user.contact.email")  # the taxonomy's name


def test_erasure_removes_exactly_the_childs_rows_keeps_transfers_and_receipts(estate: Estate, engine: Engine) -> None:
    before = read_all(estate.url)
    mine, others = split(before, 1)
    files_before = file_state(estate.media)
    keys_before = redis_state(estate.prefix)
    desk = estate.desk(engine)
    try:
        rid = approved(desk, {"kind": "erasure", "subject": 1, "scope": "account"})
        done = desk.run(rid)
    finally:
        desk.close()
    after = read_all(estate.url)
    mine_after, others_after = split(after, 1)
    assert others_after == others  # everyone else's rows, byte for byte
    for table, pks in mine_after.items():
        if table == "transfers":
            assert pks == mine["transfers"] == [[1]]  # evidence: never deleted
        else:
            assert pks == [], table
    files_after = file_state(estate.media)
    gone = {"avatars/1.jpg", "media/1/0.jpg", "media/1/1.mp4"}
    assert set(files_before) - set(files_after) == gone
    assert all(files_after[p] == files_before[p] for p in files_after)
    keys_after = redis_state(estate.prefix)
    assert set(keys_before) - set(keys_after) == {"clipstream:session:1", "clipstream:recent:1",
                                                  "clipstream:segment:1"}
    assert all(keys_after[k] == keys_before[k] for k in keys_after)
    result = done["result"]
    assert done["status"] == "done" and result["kept"] == {"collection": "transfers", "records": 1}
    rows = {(c["store"], c["collection"]): c["rows"] for c in result["collections"]}
    assert rows[("estate", "accounts")] == 1 and rows[("estate", "watch_history")] == 3
    assert rows[("files", "files.media")] == 2 and rows[("redis", "redis.sessions")] == 1
    receipts = estate.state.receipts(job_id=rid)
    assert len(receipts) == 1 and receipts[0]["digest"] == result["receipt"]["digest"]
    assert chain(receipts[0]["prev"], receipts[0]["body"]) == receipts[0]["digest"]
    assert estate.state.verify_receipts()[1] == []
    body = json.loads(receipts[0]["body"])
    assert body["kept"]["records"][0]["transfer_id"] == 1 and body["approved_by"] == "bob"
    assert "child1@example.test" not in receipts[0]["body"]  # the receipt holds ids and counts, not the data
