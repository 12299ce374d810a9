"""A small generated ClipStream estate (SQLite, its media folder, its cache in Redis under a
prefix of the test's own) with four staff accounts, for the console tests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tutela.clipstream import generate, write_estate_cache
from tutela.connectors.estate import EstateConfig
from tutela.engine import Engine
from tutela.store.state import StateStore

AS_OF = dt.date(2026, 11, 1)
REDIS = "redis://127.0.0.1:6379/0"
STAFF = {"alice": "dpo", "bob": "dpo", "sam": "support", "aud": "auditor"}
PASSWORD = "correct horse battery staple"  # every test account's (synthetic) password


@dataclass(frozen=True)
class ConsoleEstate:
    url: str
    media: Path
    prefix: str
    state_url: str

    def config(self) -> EstateConfig:
        return EstateConfig(self.url, media=self.media, redis=REDIS, redis_prefix=self.prefix)


@contextmanager
def console_estate(tmp: Path, accounts: int = 300) -> Iterator[ConsoleEstate]:
    db = tmp / "clipstream.db"
    url = f"sqlite:///{db}"
    generate(url, accounts, seed=5, media_files=40)
    prefix = f"tutela-console-{uuid.uuid4().hex[:10]}:"
    write_estate_cache(url, REDIS, seed=5, key_prefix=prefix)
    state_url = f"sqlite:///{tmp / 'state.db'}"
    state = StateStore(state_url)
    accounts_ = Engine.staff_accounts(state)
    for name, role in STAFF.items():
        accounts_.add(name, role, PASSWORD)
    state.close()
    try:
        yield ConsoleEstate(url, tmp / "clipstream-media", prefix, state_url)
    finally:
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
