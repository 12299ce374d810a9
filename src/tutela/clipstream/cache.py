"""ClipStream's session cache: the Redis keys its data map declares under `tutela.stores.redis`.

Per account: a `sessions` hash (device, IP, a precise position, start time), a
`recently_watched` list of media ids and a `feed_segment` string. Synthetic and deterministic:
the same accounts and seed give the same keys and values.
"""

from __future__ import annotations

import random

import pyarrow as pa
import redis
from redis.typing import EncodableT, FieldT

from tutela.datamap import DataMap, load_datamap
from tutela.datamap.models import RedisStoreDecl
from tutela.errors import InputError

SEGMENTS = ("toys", "games", "music", "sports", "animals", "science")


def write_cache(url: str, accounts: pa.Table, *, key_prefix: str = "", seed: int = 0,
                dm: DataMap | None = None) -> int:
    """Write the cache keys of every account in `accounts` (`account_id`, optional `device_id`,
    `signup_ip`); returns the number of keys written."""
    dm = dm or load_datamap()
    store = dm.tutela.stores.get("redis") if dm.tutela else None
    if not isinstance(store, RedisStoreDecl):
        raise InputError("the data map declares no `redis` store", where=dm.source)
    fams = store.collections
    rng = random.Random(seed)
    cols = accounts.column_names
    ids = accounts["account_id"].to_pylist()
    devices = accounts["device_id"].to_pylist() if "device_id" in cols else [None] * len(ids)
    ips = accounts["signup_ip"].to_pylist() if "signup_ip" in cols else [None] * len(ids)
    client = redis.Redis.from_url(url, decode_responses=True)
    written = 0
    try:
        pipe = client.pipeline(transaction=False)
        for aid, device, ip in zip(ids, devices, ips, strict=True):
            names = {"account_id": aid}
            session: dict[FieldT, EncodableT] = {"lat": f"{52 + rng.random():.6f}", "lon": f"{4 + rng.random():.6f}",
                       "started_at": f"2026-03-{1 + rng.randrange(28):02d}T{rng.randrange(24):02d}:00:00"}
            if device:
                session["device_id"] = device
            if ip:
                session["ip"] = ip
            pipe.hset(key_prefix + fams["sessions"].key.format(**names), mapping=session)
            recent = key_prefix + fams["recently_watched"].key.format(**names)
            pipe.delete(recent)
            pipe.rpush(recent, *(str(1 + rng.randrange(1000)) for _ in range(1 + rng.randrange(5))))
            pipe.set(key_prefix + fams["feed_segment"].key.format(**names), rng.choice(SEGMENTS))
            written += 3
        pipe.execute()
    finally:
        client.close()
    return written


def write_estate_cache(estate_url: str, redis_url: str, *, seed: int = 0, key_prefix: str = "") -> int:
    """The cache keys of every account of a generated SQL estate (what `tutela demo --redis` writes)."""
    import sqlalchemy as sa

    engine = sa.create_engine(estate_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT account_id, device_id, signup_ip FROM accounts")).all()
    finally:
        engine.dispose()
    table = pa.table({"account_id": [r[0] for r in rows], "device_id": [r[1] for r in rows],
                      "signup_ip": [r[2] for r in rows]})
    return write_cache(redis_url, table, key_prefix=key_prefix, seed=seed)
