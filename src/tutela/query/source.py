"""Reading an estate's tables as Arrow: SQLite, PostgreSQL, MariaDB (SQLAlchemy) or Parquet.

Errors name what is wrong (missing file, not a database, unreachable server, missing table
or column) and are raised before anything is computed; reading never writes.

SQLite and PostgreSQL tables are read as CSV text that the database writes itself (SQLite's
`group_concat` over ranges of rowids; PostgreSQL's `COPY ... TO STDOUT`) and
Arrow parses to the columns' types, so no Python object is made per value. A value that
does not parse as its column's type sends the table to the row-by-row read (SQLAlchemy),
which every database has.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pymysql
import pymysql.cursors
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from tutela.connectors.sqltypes import arrow_type, to_array
from tutela.connectors.urls import SQL_SCHEMES, path_of, redact, scheme, unsupported, url_hint
from tutela.errors import InputError, StoreUnavailable


@dataclass
class EstateSource:
    url: str
    _engine: sa.Engine | None = field(default=None, repr=False)
    _folder: Path | None = None
    _columns: dict[str, dict[str, pa.DataType]] = field(default_factory=dict)

    @classmethod
    def open(cls, url: str) -> EstateSource:
        kind = scheme(url)
        if kind == "parquet":
            folder = path_of(url)
            if not folder.is_dir():
                raise InputError("parquet estate folder not found", where=str(folder))
            src = cls(url, _folder=folder)
            for f in folder.glob("*.parquet"):
                try:
                    schema = pq.read_schema(f)
                    src._columns[f.stem] = {n: schema.field(n).type for n in schema.names}
                except (pa.ArrowInvalid, OSError) as exc:
                    raise InputError(f"not a readable Parquet file: {exc}", where=str(f)) from None
            return src
        if kind not in SQL_SCHEMES:
            raise InputError(unsupported(url), where="--estate", hint=url_hint(url))
        if kind == "sqlite":
            path = path_of(url)
            if not path.is_file():
                raise InputError("SQLite estate file not found", where=str(path))
            with path.open("rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise InputError("not a SQLite database (corrupt or wrong file)", where=str(path))
        try:
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                insp = sa.inspect(conn)
                cols = {t: {c["name"]: arrow_type(c["type"]) for c in insp.get_columns(t)}
                        for t in insp.get_table_names()}
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot open the estate database: {str(exc.orig).splitlines()[0]}",
                                   where=redact(url)) from None
        except DatabaseError as exc:
            raise InputError(f"cannot open the estate database: {str(exc.orig).splitlines()[0]}",
                             where=redact(url)) from None
        except (ArgumentError, NoSuchModuleError) as exc:
            raise InputError(f"bad database URL: {exc}", where="--estate") from None
        return cls(url, _engine=engine, _columns=cols)

    def require(self, table: str, columns: set[str], why: str) -> None:
        if table not in self._columns:
            raise InputError(f"table `{table}` is missing from the estate (needed by {why})",
                             where=redact(self.url), hint="does the estate match its data map?")
        missing = sorted(columns - set(self._columns[table]))
        if missing:
            raise InputError(f"column(s) {', '.join(f'`{table}.{c}`' for c in missing)} missing from the "
                             f"estate (needed by {why})", where=redact(self.url),
                             hint="does the estate match its data map?")

    def parquet_file(self, table: str) -> Path | None:
        """The Parquet file of `table` when the estate is a Parquet folder (a query engine may scan it)."""
        return None if self._folder is None else self._folder / f"{table}.parquet"

    def read(self, table: str, columns: list[str]) -> pa.Table:
        cols = list(dict.fromkeys(columns))
        if self._folder is not None:
            return pq.read_table(self._folder / f"{table}.parquet", columns=cols)
        assert self._engine is not None
        fast = _AS_TEXT.get(self._engine.dialect.name)
        if fast is not None:
            types = self._columns[table]
            try:
                return fast(self._engine, table, {c: types[c] for c in cols})
            except (pa.ArrowInvalid, sqlite3.Error, psycopg.Error, pymysql.Error):
                pass  # not the text the types expect (or a database error, which the typed read reports)
        return self._read_rows(table, cols)

    def _read_rows(self, table: str, cols: list[str]) -> pa.Table:
        assert self._engine is not None
        try:
            with self._engine.connect() as conn:
                meta = sa.Table(table, sa.MetaData(), autoload_with=conn)  # typed: dates come back as dates
                result = conn.execute(sa.select(*(meta.c[c] for c in cols)))
                rows = result.fetchall()
        except OperationalError as exc:
            raise StoreUnavailable(f"cannot read `{table}`: {str(exc.orig).splitlines()[0]}",
                                   where=redact(self.url)) from None
        except DatabaseError as exc:
            raise InputError(f"cannot read `{table}`: {str(exc.orig).splitlines()[0]}",
                             where=redact(self.url)) from None
        data = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
        types = self._columns[table]
        return pa.table({c: to_array(v, types[c]) for c, v in zip(cols, data, strict=True)})

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


Types = dict[str, pa.DataType]
_ROWS_PER_QUERY = 500_000


def _parse_csv(data: bytes, types: Types, true: tuple[str, ...] = ("1",), false: tuple[str, ...] = ("0",)) -> pa.Table:
    """CSV without a header, one line per row: an unquoted empty field is null, a quoted one an empty string."""
    if not data:
        return pa.schema(list(types.items())).empty_table()
    return pcsv.read_csv(
        io.BytesIO(data),
        read_options=pcsv.ReadOptions(column_names=list(types)),
        parse_options=pcsv.ParseOptions(newlines_in_values=any(pa.types.is_string(t) for t in types.values()),
                                        ignore_empty_lines=False),  # a row of one null column
        convert_options=pcsv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
            true_values=list(true), false_values=list(false)),
    )


def _sqlite_field(col: str, kind: pa.DataType) -> str:
    if pa.types.is_string(kind):
        return f"""CASE WHEN {col} IS NULL THEN '' ELSE '"' || replace({col}, '"', '""') || '"' END"""
    if pa.types.is_floating(kind):  # quote() writes a REAL so that it reads back as the same double
        return f"CASE WHEN {col} IS NULL THEN '' ELSE quote({col}) END"
    return f"ifnull({col}, '')"  # integers, 0/1 booleans, ISO dates and timestamps as stored


def _sqlite_as_text(engine: sa.Engine, table: str, types: Types) -> pa.Table:
    q = engine.dialect.identifier_preparer.quote
    line = " || ',' || ".join(_sqlite_field(q(c), k) for c, k in types.items())
    sql = f"SELECT group_concat({line}, char(10)) FROM {q(table)}"
    parts = []
    with closing(sqlite3.connect(f"file:{quote(str(engine.url.database))}?mode=ro", uri=True)) as con:
        con.text_factory = bytes
        try:  # one query per range of rowids: a bounded string each
            lo, hi = con.execute(f"SELECT min(rowid), max(rowid) FROM {q(table)}").fetchone()
            step = _ROWS_PER_QUERY
            queries = [] if lo is None else [(f"{sql} WHERE rowid BETWEEN {a} AND {a + step - 1}")
                                             for a in range(lo, hi + 1, step)]
        except sqlite3.OperationalError:  # a table WITHOUT ROWID: one query
            queries = [sql]
        for query in queries:
            text = con.execute(query).fetchone()[0]
            if text is not None:  # null: no rows
                parts.append(_parse_csv(text + b"\n", types))
    return pa.concat_tables(parts) if parts else _parse_csv(b"", types)


def _postgres_as_text(engine: sa.Engine, table: str, types: Types) -> pa.Table:
    q = engine.dialect.identifier_preparer.quote
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        if not isinstance(conn, psycopg.Connection):
            raise psycopg.NotSupportedError("COPY through psycopg 3 only")
        with conn.cursor() as cur:
            cur.execute("SET LOCAL DateStyle = 'ISO, YMD'")  # ended with the transaction, never committed
            with cur.copy(f"COPY (SELECT {', '.join(q(c) for c in types)} FROM {q(table)}) "
                          "TO STDOUT (FORMAT csv)") as copy:
                data = b"".join(bytes(block) for block in copy)
    finally:
        raw.close()  # rolls back
    return _parse_csv(data, types, true=("t",), false=("f",))


def _mysql_field(col: str, kind: pa.DataType) -> str:
    if pa.types.is_string(kind):
        return f"""CASE WHEN {col} IS NULL THEN '' ELSE CONCAT('"', REPLACE({col}, '"', '""'), '"') END"""
    return f"IFNULL({col}, '')"  # numbers, 0/1 booleans, dates and datetimes as the server writes them


def _mysql_as_text(engine: sa.Engine, table: str, types: Types) -> pa.Table:
    """One CSV line per row, built by the server: the driver decodes one string a row."""
    q = engine.dialect.identifier_preparer.quote
    line = ", ".join(_mysql_field(q(c), k) for c, k in types.items())
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        if not isinstance(conn, pymysql.Connection):
            raise pymysql.NotSupportedError("one line per row through PyMySQL only")
        with conn.cursor(pymysql.cursors.SSCursor) as cur:  # streamed: the rows are not buffered twice
            cur.execute(f"SELECT CONCAT_WS(',', {line}) FROM {q(table)}")
            lines = [row[0] for row in cur]
    finally:
        raw.close()
    return _parse_csv(("\n".join(lines) + "\n").encode() if lines else b"", types)


_AS_TEXT: dict[str, Callable[[sa.Engine, str, Types], pa.Table]] = {
    "sqlite": _sqlite_as_text, "postgresql": _postgres_as_text, "mysql": _mysql_as_text,
    "mariadb": _mysql_as_text,
}
