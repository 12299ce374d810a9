"""Reading an estate's tables as Arrow: SQLite, PostgreSQL, MariaDB (SQLAlchemy) or Parquet.

Errors name what is wrong (missing file, not a database, unreachable server, missing table
or column) and are raised before anything is computed; reading never writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from tutela.errors import InputError

SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb")


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


@dataclass
class EstateSource:
    url: str
    _engine: sa.Engine | None = field(default=None, repr=False)
    _folder: Path | None = None
    _columns: dict[str, dict[str, pa.DataType]] = field(default_factory=dict)

    @classmethod
    def open(cls, url: str) -> EstateSource:
        scheme = urlparse(url).scheme.split("+")[0]
        if scheme == "parquet":
            folder = Path(urlparse(url).path)
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
        if scheme not in SQL_SCHEMES:
            raise InputError(f"unsupported estate URL scheme `{scheme}`", where="--estate",
                             hint="use sqlite:///file.db, postgresql+psycopg://..., mysql+pymysql://... or parquet:///dir")
        if scheme == "sqlite":
            path = Path(make_url(url).database or "")
            if not path.is_file():
                raise InputError("SQLite estate file not found", where=str(path))
            with path.open("rb") as fh:
                if fh.read(16) != b"SQLite format 3\x00":
                    raise InputError("not a SQLite database (corrupt or wrong file)", where=str(path))
        try:
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                insp = sa.inspect(conn)
                cols = {t: {c["name"]: _arrow_type(c["type"]) for c in insp.get_columns(t)}
                        for t in insp.get_table_names()}
        except (OperationalError, DatabaseError) as exc:
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
        try:
            with self._engine.connect() as conn:
                meta = sa.Table(table, sa.MetaData(), autoload_with=conn)  # typed: dates come back as dates
                result = conn.execute(sa.select(*(meta.c[c] for c in cols)))
                rows = result.fetchall()
        except (OperationalError, DatabaseError) as exc:
            raise InputError(f"cannot read `{table}`: {str(exc.orig).splitlines()[0]}",
                             where=redact(self.url)) from None
        data = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
        types = self._columns[table]
        return pa.table({c: _array(v, types[c]) for c, v in zip(cols, data, strict=True)})

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _array(values: tuple[Any, ...], kind: pa.DataType) -> pa.Array:
    if pa.types.is_boolean(kind):  # MariaDB returns TINYINT(1) booleans as 0/1
        return pa.array([None if v is None else bool(v) for v in values], type=kind)
    if pa.types.is_floating(kind):  # NUMERIC/DECIMAL columns come back as Decimal
        return pa.array([None if v is None else float(v) for v in values], type=kind)
    return pa.array(list(values), type=kind)


def _arrow_type(t: sa.types.TypeEngine[Any]) -> pa.DataType:
    """Arrow type for a reflected SQL column type (booleans may be TINYINT(1) in MariaDB)."""
    name = type(t).__name__.upper()
    if "BOOL" in name or (name == "TINYINT" and getattr(t, "display_width", None) == 1):
        return pa.bool_()
    if "INT" in name:
        return pa.int64()
    if name in ("FLOAT", "REAL", "DOUBLE", "DOUBLE_PRECISION", "NUMERIC", "DECIMAL"):
        return pa.float64()
    if name in ("DATETIME", "TIMESTAMP"):
        return pa.timestamp("us")
    if name == "DATE":
        return pa.date32()
    return pa.string()
