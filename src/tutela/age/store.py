"""Stores for sticky age results and single-use attestations: in memory (unit tests, one
process) and SQL through SQLAlchemy (SQLite or PostgreSQL; tables `<prefix>sticky` and
`<prefix>replay`, prefix `age_` by default). Keys are stored as SHA-256 digests: no raw
session, device or attestation id is written. Memory is bounded: the sticky map keeps the
most recent `capacity` keys; the replay set drops expired tokens and refuses, rather than
forgets, when it is full of live ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tutela.age.record import AgeRecord
from tutela.errors import TutelaError


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ReplayStoreFull(TutelaError):
    """The in-memory replay set is full of unexpired tokens."""


class MemoryStore:
    def __init__(self, capacity: int = 100_000):
        self.capacity = capacity
        self._sticky: OrderedDict[str, AgeRecord] = OrderedDict()
        self._seen: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> AgeRecord | None:
        with self._lock:
            return self._sticky.get(digest(key))

    def put(self, key: str, record: AgeRecord) -> None:
        with self._lock:
            k = digest(key)
            self._sticky[k] = record
            self._sticky.move_to_end(k)
            while len(self._sticky) > self.capacity:
                self._sticky.popitem(last=False)

    def first_use(self, token: str, until: dt.datetime) -> bool:
        now = dt.datetime.now(dt.UTC)
        with self._lock:
            k = digest(token)
            if k in self._seen:
                return False
            if len(self._seen) >= self.capacity:
                for old in [t for t, u in self._seen.items() if u <= now]:
                    del self._seen[old]
                if len(self._seen) >= self.capacity:
                    raise ReplayStoreFull("the single-use store is full", hint="use the SQL store")
            self._seen[k] = until
            return True


class SqlStore:
    def __init__(self, url: str = "sqlite://", prefix: str = "age_"):
        self.engine = sa.create_engine(url)
        meta = sa.MetaData()
        self.sticky = sa.Table(f"{prefix}sticky", meta, sa.Column("key", sa.String(64), primary_key=True),
                               sa.Column("record", sa.Text, nullable=False),
                               sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False))
        self.replay = sa.Table(f"{prefix}replay", meta, sa.Column("token", sa.String(64), primary_key=True),
                               sa.Column("until", sa.DateTime(timezone=True), nullable=False, index=True))
        meta.create_all(self.engine)

    def get(self, key: str) -> AgeRecord | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(self.sticky.c.record).where(self.sticky.c.key == digest(key))).first()
        return None if row is None else AgeRecord.model_validate_json(row[0])

    def put(self, key: str, record: AgeRecord) -> None:
        k, body, now = digest(key), record.model_dump_json(), dt.datetime.now(dt.UTC)
        update = self.sticky.update().where(self.sticky.c.key == k).values(record=body, updated_at=now)
        try:
            with self.engine.begin() as c:
                if c.execute(update).rowcount == 0:
                    c.execute(self.sticky.insert().values(key=k, record=body, updated_at=now))
        except IntegrityError:  # another writer inserted the key between our update and insert
            with self.engine.begin() as c:
                c.execute(update)

    def first_use(self, token: str, until: dt.datetime) -> bool:
        now = dt.datetime.now(dt.UTC)
        try:
            with self.engine.begin() as c:
                c.execute(self.replay.delete().where(self.replay.c.until < now - dt.timedelta(days=1)))
                c.execute(self.replay.insert().values(token=digest(token), until=until))
        except IntegrityError:
            return False
        return True

    def drop(self) -> None:
        """Remove this store's tables (tests)."""
        self.sticky.metadata.drop_all(self.engine)
        self.engine.dispose()
