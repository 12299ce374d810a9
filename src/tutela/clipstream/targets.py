"""Where an estate is written: SQLite (default), PostgreSQL, MariaDB/MySQL or a Parquet folder.

Every writer is all-or-nothing as far as the target allows: SQLite is written to
`<file>.tmp` and renamed; PostgreSQL in one transaction (DDL included); Parquet into a
temporary folder whose files are moved into place at the end. MariaDB commits DDL implicitly,
so its writer checks the connection before touching anything and drops the ClipStream tables
again when an insert fails.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.schema import CreateIndex, CreateTable

from tutela.clipstream.schema import TABLES, metadata
from tutela.connectors.locations import media_folder
from tutela.errors import InputError

Progress = Callable[[str, int, int], None]  # (table, rows done, rows total)
CHUNK = 20_000
SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "parquet")


@dataclass(frozen=True)
class Target:
    kind: str  # sqlite | postgresql | mysql | parquet
    url: str  # normalised: absolute paths for files, password hidden for servers
    sa_url: str | None = None  # what SQLAlchemy connects to (servers and SQLite)
    path: Path | None = None  # the SQLite file or the Parquet folder


def _hint() -> str:
    return ("use sqlite:///path.db, postgresql+psycopg://user@host:port/db, "
            "mysql+pymysql://user@host:port/db or parquet:///folder")


def parse_target(url: str) -> Target:
    """Parse and normalise an estate URL; a bare path means SQLite."""
    if "://" not in url:
        url = f"sqlite:///{url}"
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in SCHEMES:
        raise InputError(f"unknown estate target scheme `{url.split('://', 1)[0]}`", where="url", hint=_hint())
    if scheme == "parquet":
        raw = url.split("://", 1)[1]
        if raw.startswith("/"):
            raw = raw[1:] if raw.startswith("//") else raw
        if not raw or raw == "/":
            raise InputError(f"no folder in `{url}`", where="url", hint=_hint())
        path = Path(raw).expanduser().resolve()
        return Target("parquet", f"parquet://{path}", None, path)
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"malformed estate URL `{url}`: {exc}", where="url", hint=_hint()) from None
    if scheme == "sqlite":
        if not u.database or u.database == ":memory:":
            raise InputError(f"`{url}` names no database file", where="url", hint=_hint())
        path = Path(u.database).expanduser().resolve()
        return Target("sqlite", f"sqlite:///{path}", f"sqlite:///{path}", path)
    if not u.database:
        raise InputError(f"`{u.render_as_string(hide_password=True)}` names no database", where="url",
                         hint="add the database name to the URL, e.g. .../clipstream")
    kind = "postgresql" if scheme == "postgresql" else "mysql"
    return Target(kind, u.render_as_string(hide_password=True), u.render_as_string(hide_password=False))


def normalize_url(url: str) -> str:
    """The key of an estate: the same estate spelled differently maps to the same key."""
    return parse_target(url).url


def default_media_dir(t: Target) -> Path:
    """Where the generator writes an estate's media: the folder the rights desk and remediation
    look in too (tutela.connectors.locations.media_folder)."""
    return media_folder(t.url)


# ---------------------------------------------------------------------------- checks
def _engine(sa_url: str) -> sa.Engine:
    try:
        return sa.create_engine(sa_url, connect_args=_connect_args(sa_url))
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise InputError(f"cannot use estate URL `{sa_url}`: {exc}", where="url", hint=_hint()) from None


def _connect_args(sa_url: str) -> dict[str, Any]:
    if sa_url.startswith("postgresql"):
        return {"connect_timeout": 5}
    if sa_url.startswith(("mysql", "mariadb")):
        return {"connect_timeout": 5}
    return {}


def check(t: Target) -> None:
    """Fail early, before anything is written, when the target cannot be written."""
    if t.kind in ("sqlite", "parquet"):
        assert t.path is not None
        if not t.path.parent.is_dir():
            raise InputError(f"folder `{t.path.parent}` does not exist", where="url")
        if t.kind == "parquet" and t.path.exists() and not t.path.is_dir():
            raise InputError(f"`{t.path}` exists and is not a folder", where="url")
        return
    assert t.sa_url is not None
    engine = _engine(t.sa_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        raise InputError(f"cannot connect to `{t.url}`: {_short(exc)}", where="url",
                         hint="is the server running and does the database exist?") from None
    finally:
        engine.dispose()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------- writing
def write(t: Target, tables: Mapping[str, Sequence[tuple[Any, ...]]], progress: Progress | None = None) -> None:
    if t.kind == "parquet":
        _write_parquet(t, tables, progress)
    elif t.kind == "sqlite":
        _write_sqlite(t, tables, progress)
    else:
        _write_server(t, tables, progress)


def _chunks(rows: Sequence[tuple[Any, ...]]) -> Iterator[Sequence[tuple[Any, ...]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i:i + CHUNK]


def _insert(rows: Sequence[tuple[Any, ...]], write: Callable[[Sequence[tuple[Any, ...]]], object], name: str,
            progress: Progress | None) -> None:
    """Write `rows` in chunks, reporting progress per chunk (once for an empty table)."""
    done = 0
    for chunk in _chunks(rows):
        write(chunk)
        done += len(chunk)
        if progress:
            progress(name, done, len(rows))
    if progress and not rows:
        progress(name, 0, 0)


def _raw_insert(conn: sa.Connection, sql: str, convert: Callable[[Sequence[tuple[Any, ...]]], list[tuple[Any, ...]]],
                chunk: Sequence[tuple[Any, ...]]) -> None:
    conn.exec_driver_sql(sql, convert(chunk))


def _core_insert(conn: sa.Connection, table: sa.Table, names: list[str], chunk: Sequence[tuple[Any, ...]]) -> None:
    conn.execute(table.insert(), [dict(zip(names, r, strict=True)) for r in chunk])


def _sqlite_rows(table: sa.Table) -> Callable[[Sequence[tuple[Any, ...]]], list[tuple[Any, ...]]]:
    """A converter of rows to SQLite values in SQLAlchemy's storage formats (dates as ISO text,
    DATETIME as `YYYY-MM-DD HH:MM:SS.ffffff`, booleans as 0/1), generated per table for speed."""
    parts, names = [], []
    for i, c in enumerate(table.columns):
        v = f"v{i}"
        names.append(v)
        if isinstance(c.type, sa.DateTime):
            parts.append(f"(None if {v} is None else {v}.isoformat(' ', 'microseconds'))")
        elif isinstance(c.type, sa.Date):
            parts.append(f"(None if {v} is None else {v}.isoformat())")
        elif isinstance(c.type, sa.Boolean):
            parts.append(f"(None if {v} is None else int({v}))")
        else:
            parts.append(v)
    code = f"lambda rows: [({', '.join(parts)},) for ({', '.join(names)},) in rows]"
    fn: Callable[[Sequence[tuple[Any, ...]]], list[tuple[Any, ...]]] = eval(code, {})  # built from the schema only
    return fn


def _write_sqlite(t: Target, tables: Mapping[str, Sequence[tuple[Any, ...]]], progress: Progress | None) -> None:
    assert t.path is not None
    tmp = t.path.with_name(t.path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    if t.path.exists():  # keep whatever else lives in the file; replace the ClipStream tables
        shutil.copy2(t.path, tmp)
    engine = _engine(f"sqlite:///{tmp}")
    try:
        with engine.begin() as conn:
            # a private temporary file, renamed into place at the end: no journal needed
            conn.exec_driver_sql("PRAGMA journal_mode=OFF")
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            metadata.drop_all(conn, checkfirst=True)
            for table in TABLES:  # tables first, indexes after the bulk insert (faster)
                conn.execute(CreateTable(table))
            for table in TABLES:
                rows = tables.get(table.name, ())
                convert = _sqlite_rows(table)
                sql = (f"INSERT INTO {table.name} ({', '.join(c.name for c in table.columns)}) "
                       f"VALUES ({', '.join('?' for _ in table.columns)})")
                _insert(rows, partial(_raw_insert, conn, sql, convert), table.name, progress)
            for table in TABLES:
                for index in table.indexes:
                    conn.execute(CreateIndex(index))
    except BaseException:
        engine.dispose()
        tmp.unlink(missing_ok=True)
        raise
    engine.dispose()
    os.replace(tmp, t.path)


def _write_server(t: Target, tables: Mapping[str, Sequence[tuple[Any, ...]]], progress: Progress | None) -> None:
    assert t.sa_url is not None
    check(t)
    md, tabs = _server_metadata(t.kind)
    engine = _engine(t.sa_url)
    try:
        with engine.begin() as conn:
            md.drop_all(conn, checkfirst=True)
            md.create_all(conn)
            for table in tabs:
                rows = tables.get(table.name, ())
                names = [c.name for c in table.columns]
                _insert(rows, partial(_core_insert, conn, table, names), table.name, progress)
    except SQLAlchemyError as exc:
        if t.kind == "mysql":  # DDL is not transactional there: leave nothing half-written
            try:
                with engine.begin() as conn:
                    md.drop_all(conn, checkfirst=True)
            except SQLAlchemyError:  # the server went away: the first error is the one to report
                logging.getLogger(__name__).warning("could not drop the half-written ClipStream tables")
        raise InputError(f"cannot write the estate to `{t.url}`: {_short(exc)}", where="url") from None
    finally:
        engine.dispose()


def _server_metadata(kind: str) -> tuple[sa.MetaData, tuple[sa.Table, ...]]:
    """The schema as written to a server. MySQL/MariaDB's FLOAT is single precision: coordinates
    are written as DOUBLE there (a copy of the metadata; `schema.py` is unchanged)."""
    if kind != "mysql":
        return metadata, TABLES
    md = sa.MetaData()
    for table in TABLES:
        copy = table.to_metadata(md)
        for col in copy.columns:
            if isinstance(col.type, sa.Float):
                col.type = sa.Double()
    return md, tuple(md.tables[t.name] for t in TABLES)


def arrow_schema(table: sa.Table) -> Any:
    import pyarrow as pa

    def typ(c: sa.Column[Any]) -> Any:
        ct = c.type
        if isinstance(ct, sa.Boolean):
            return pa.bool_()
        if isinstance(ct, sa.Integer):
            return pa.int64()
        if isinstance(ct, sa.Float):
            return pa.float64()
        if isinstance(ct, sa.DateTime):
            return pa.timestamp("us")
        if isinstance(ct, sa.Date):
            return pa.date32()
        return pa.string()

    return pa.schema([pa.field(c.name, typ(c), nullable=bool(c.nullable)) for c in table.columns])


def _write_parquet(t: Target, tables: Mapping[str, Sequence[tuple[Any, ...]]], progress: Progress | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert t.path is not None
    tmp = Path(tempfile.mkdtemp(prefix=f".{t.path.name}.", dir=t.path.parent))
    try:
        for table in TABLES:
            rows = tables.get(table.name, ())
            schema = arrow_schema(table)
            cols = list(zip(*rows, strict=True)) if rows else [() for _ in table.columns]
            arrays = [pa.array(list(col), type=f.type) for col, f in zip(cols, schema, strict=True)]
            pq.write_table(pa.Table.from_arrays(arrays, schema=schema), tmp / f"{table.name}.parquet")
            if progress:
                progress(table.name, len(rows), len(rows))
        t.path.mkdir(exist_ok=True)
        for table in TABLES:
            os.replace(tmp / f"{table.name}.parquet", t.path / f"{table.name}.parquet")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
