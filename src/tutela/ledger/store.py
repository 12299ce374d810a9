"""The ledger's two tables on SQLite or PostgreSQL (SQLAlchemy 2), and the one writer at a time.

    {prefix}ledger_entries      seq BIGINT PRIMARY KEY (so UNIQUE), entry BLOB, hash BLOB(32)
    {prefix}ledger_checkpoints  id, seq, head, time, key_id, public_key, signature

Appending reads the head and writes after it inside one transaction that holds the writers'
lock, so two processes can never both extend the same head (which would fork the chain):
SQLite takes its write lock first (`BEGIN IMMEDIATE`, WAL, `synchronous=FULL`, a busy timeout);
PostgreSQL takes a transaction-scoped advisory lock keyed by the table prefix
(`pg_advisory_xact_lock`). The primary key on `seq` stops a second row at a number even if a
writer bypassed the lock. Bulk rows go in with one `executemany` (SQLite) or `COPY` (PostgreSQL).
"""

from __future__ import annotations

import hashlib
import queue
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from tutela.errors import InputError

PREFIX = re.compile(r"^[a-z0-9_]{0,40}$")


def _open(url: str) -> Engine:
    try:
        memory = url.startswith("sqlite") and make_url(url).database in (None, "", ":memory:")
        engine = create_engine(url, connect_args={"timeout": 60} if url.startswith("sqlite") else {},
                               **({"poolclass": StaticPool} if memory else {}))  # one in-memory database
    except (ArgumentError, ValueError) as exc:
        raise InputError(f"not a database URL: `{url}`", where="--db",
                         hint="e.g. sqlite:///ledger.db or postgresql+psycopg://user@host/db") from exc
    except ImportError as exc:
        raise InputError(f"no driver for `{url}`: {exc}", where="--db") from exc
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite(dbapi: Any, record: ConnectionPoolEntry) -> None:
            dbapi.isolation_level = None  # Tutela issues BEGIN IMMEDIATE itself
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=60000"):
                dbapi.execute(f"PRAGMA {pragma}")
    elif engine.dialect.name != "postgresql":
        raise InputError(f"the ledger runs on SQLite or PostgreSQL, not {engine.dialect.name}", where="--db")
    return engine


@dataclass(frozen=True)
class Block:
    """The rows of seqs `first`..`last` (`count` of them; all there when count == last - first + 1)."""

    count: int
    first: int
    last: int
    entries: bytes  # every entry, one after the other, each followed by a newline but the last
    hashes: bytes  # 32 bytes per row


def _blob(value: Any) -> bytes:
    """A stored value as bytes: an edit through SQL can leave text (or worse) where a blob was;
    text is read as its UTF-8 bytes, anything else as no bytes (so its hash cannot match)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else b""


class Store:
    """The tables of one ledger (`prefix` keeps several apart in one database)."""

    def __init__(self, url: str, prefix: str = "", create: bool = True):
        if not PREFIX.match(prefix):
            raise InputError(f"bad table prefix `{prefix}`", where="prefix", hint="lowercase letters, digits, _")
        self.url, self.prefix = url, prefix
        self.engine = _open(url)
        path = self.engine.url.database
        if not create and self.engine.dialect.name == "sqlite" and path not in (None, "", ":memory:") \
                and not Path(path).exists():
            raise InputError(f"no ledger in `{url}`: the file does not exist", where="--db",
                             hint="check the path (sqlite:////absolute/path.db has four slashes)")
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.memory = self.sqlite and path in (None, "", ":memory:")
        meta = MetaData()
        self.entries = Table(f"{prefix}ledger_entries", meta,
                             Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=False),
                             Column("entry", LargeBinary, nullable=False),
                             Column("hash", LargeBinary(32), nullable=False))
        self.checkpoints = Table(f"{prefix}ledger_checkpoints", meta,
                                 Column("id", Integer, primary_key=True, autoincrement=True),
                                 Column("seq", BigInteger, nullable=False, index=True),
                                 Column("head", LargeBinary(32), nullable=False),
                                 Column("time", String(32), nullable=False),
                                 Column("key_id", String(64), nullable=False),
                                 Column("public_key", String(128), nullable=False),
                                 Column("signature", LargeBinary(64), nullable=False))
        self.lock_key = int.from_bytes(hashlib.sha256(f"tutela-ledger:{prefix}".encode()).digest()[:8], "big",
                                       signed=True)
        try:
            if create:
                self._create(meta)
            elif not inspect(self.engine).has_table(self.entries.name):
                raise InputError(f"no ledger in `{self.safe_url}`", where="--db",
                                 hint="append an entry first, or check the URL and --prefix")
        except OperationalError as exc:
            self.engine.dispose()
            raise InputError(f"cannot open the ledger database `{self.safe_url}`: {exc.orig}", where="--db") from exc
        self._q = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def _create(self, meta: MetaData, tries: int = 3) -> None:
        """Create the tables; another process creating them at the same moment is not an error."""
        for attempt in range(tries):
            try:
                meta.create_all(self.engine)
                return
            except (OperationalError, ProgrammingError, IntegrityError):  # SQLite; PostgreSQL (duplicate relation/type)
                if attempt == tries - 1 or not inspect(self.engine).has_table(self.entries.name):
                    raise

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction that holds the writers' lock; committed on leaving, rolled back on error."""
        with self.engine.connect() as conn:
            if self.sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({self.lock_key})")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def head(self, conn: Connection) -> tuple[int, bytes | None]:
        row = conn.execute(select(self.entries.c.seq, self.entries.c.hash)
                           .order_by(self.entries.c.seq.desc()).limit(1)).first()
        return (0, None) if row is None else (int(row[0]), bytes(row[1]))

    def insert(self, conn: Connection, rows: list[tuple[int, bytes, bytes]]) -> None:
        name = self.entries.name
        if self.sqlite:
            conn.exec_driver_sql(f"INSERT INTO {name} (seq, entry, hash) VALUES (?, ?, ?)", rows)
            return
        raw: Any = conn.connection.dbapi_connection
        sql = f"COPY {name} (seq, entry, hash) FROM STDIN (FORMAT BINARY)"
        try:
            with raw.cursor() as cur, cur.copy(sql) as copy:
                copy.set_types(["int8", "bytea", "bytea"])
                for row in rows:
                    copy.write_row(row)
        except psycopg.IntegrityError as exc:  # as SQLAlchemy reports it on SQLite
            raise IntegrityError(sql, None, exc) from exc

    def add_checkpoint(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(self.checkpoints.insert(), row)

    def read_checkpoints(self) -> list[dict[str, Any]]:
        t = self.checkpoints
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.seq, t.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def last_seq(self) -> int:
        with self.engine.connect() as conn:
            return self.head(conn)[0]

    def _cursor(self, raw: Any) -> Any:
        """A DBAPI cursor; on PostgreSQL one that reads results in binary (bytea not as hex text)."""
        return raw.cursor() if self.sqlite else raw.driver_connection.cursor(binary=True)

    def chunks(self, after: int, upto: int, size: int = 65536) -> Iterator[tuple[list[int], list[bytes], list[bytes]]]:
        """Entries after seq `after` up to `upto`, in order, `size` at a time: (seqs, entries, hashes)."""
        sql = (f"SELECT seq, entry, hash FROM {self.entries.name} WHERE seq > {self._q} AND seq <= {self._q} "
               f"ORDER BY seq LIMIT {int(size)}")
        raw: Any = self.engine.raw_connection()
        try:
            cur = self._cursor(raw)
            while after < upto:
                cur.execute(sql, (after, upto))
                rows = cur.fetchall()
                if not rows:
                    return
                seqs, entries, hashes = (list(col) for col in zip(*rows, strict=True))
                if not self.sqlite or set(map(type, entries)) | set(map(type, hashes)) != {bytes}:
                    entries, hashes = [_blob(e) for e in entries], [_blob(h) for h in hashes]
                yield seqs, entries, hashes
                after = seqs[-1]
        except SQLAlchemyError as exc:
            raise InputError(f"cannot read the ledger: {exc}", where="--db") from exc
        finally:
            raw.close()

    def blocks(self, after: int, upto: int, size: int = 8192) -> Iterator[Block]:
        """The rows after seq `after` up to `upto`, one block per `size` numbers, aggregated by
        the database into one blob of entries and one of hashes: no Python object per row.

        Entries are joined with a newline: canonical JSON escapes control characters, so no
        entry as written holds one (an edited entry that does only fails the fast reading).
        A range with no rows gives an empty block; the caller's check of the numbers sees it."""
        t = self.entries.name
        where = f"seq > {self._q} AND seq <= {self._q}"
        if self.sqlite:  # a range of the rowid is read in its order
            sql = (f"SELECT count(*), min(seq), max(seq), group_concat(entry, x'0a'), "
                   f"CAST(group_concat(hash, x'') AS BLOB) FROM {t} WHERE {where}")
        else:  # string_agg keeps the order of the ordered subquery in practice (ORDER BY inside it sorts
            # again: 2x slower); a block aggregated out of order only fails the fast reading
            sql = ("SELECT count(*), min(seq), max(seq), string_agg(entry, '\\x0a'::bytea), "
                   f"string_agg(hash, ''::bytea) FROM (SELECT seq, entry, hash FROM {t} WHERE {where} "
                   "ORDER BY seq) AS block")
        raw: Any = self.engine.raw_connection()
        conn, factory = raw.driver_connection, None
        try:
            if self.sqlite:  # the aggregate is text to SQLite: take its bytes as they are, undecoded
                factory, conn.text_factory = conn.text_factory, bytes
            cur = self._cursor(raw)
            while after < upto:
                end = min(after + size, upto)
                cur.execute(sql, (after, end))
                count, first, last, entries, hashes = cur.fetchone()
                if not count:
                    yield Block(0, after + 1, end, b"", b"")
                else:
                    yield Block(int(count), int(first), int(last), _blob(entries), _blob(hashes))
                after = end
        except (SQLAlchemyError, sqlite3.Error, psycopg.Error) as exc:
            raise InputError(f"cannot read the ledger: {exc}", where="--db") from exc
        finally:
            if factory is not None:
                conn.text_factory = factory
            raw.close()

    def blocks_ahead(self, after: int, upto: int, size: int = 8192) -> Iterator[Block]:
        """`blocks`, read by a second thread while the caller checks the block before: the
        database works without the GIL (SQLite's step, PostgreSQL's server), so reading and
        hashing overlap. An in-memory SQLite database has one connection: read in turn there."""
        if self.memory:
            yield from self.blocks(after, upto, size)
            return
        ready: queue.Queue[Block | BaseException | None] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def hand(item: Block | BaseException | None) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False  # the caller stopped reading

        def read() -> None:
            try:
                for block in self.blocks(after, upto, size):
                    if not hand(block):
                        return
                hand(None)
            except BaseException as exc:  # noqa: BLE001 - any failure goes to the caller's thread and is raised there
                hand(exc)

        reader = threading.Thread(target=read, name="tutela-ledger-read", daemon=True)
        reader.start()
        try:
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            reader.join()

    def entry_rows(self, after: int = 0, limit: int = 1000) -> list[tuple[int, bytes, bytes]]:
        t = self.entries
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.seq, t.c.entry, t.c.hash).where(t.c.seq > after)
                                .order_by(t.c.seq).limit(limit)).all()
        return [(int(r[0]), bytes(r[1]), bytes(r[2])) for r in rows]

    def last_of_kind(self, kind: str, conn: Connection | None = None) -> bytes | None:
        """The newest entry of `kind`, or None. Canonical JSON writes `"kind":"<kind>"` once per
        entry and no body string can hold a quote, so a byte search finds exactly that kind."""
        needle = f'"kind":"{kind}"'.encode()
        sql = (f"SELECT entry FROM {self.entries.name} WHERE "
               + ("instr(entry, ?) > 0" if self.sqlite else "position(%s::bytea in entry) > 0")
               + " ORDER BY seq DESC LIMIT 1")
        if conn is not None:  # inside a writer's transaction
            row = conn.exec_driver_sql(sql, (needle,)).first()
        else:
            with self.engine.connect() as own:
                row = own.exec_driver_sql(sql, (needle,)).first()
        return None if row is None else bytes(row[0])
