"""SQL stores through SQLAlchemy Core: SQLite, PostgreSQL (psycopg) and MariaDB/MySQL (pymysql).

Every call loads the batch's keys into a temporary table (COPY on PostgreSQL, one batched
INSERT elsewhere) and does one statement per collection against it:

    delete   DELETE FROM t USING tmp WHERE ...          (PostgreSQL)
             DELETE FROM t USING t, tmp WHERE ...       (MariaDB)
             DELETE FROM t WHERE (k) IN (SELECT k FROM tmp)   (SQLite)
    mask     SELECT pk, fields FROM t JOIN tmp; masks computed in Arrow for the changed rows;
             their new values into a second temporary table; one UPDATE t ... FROM/JOIN vals

An `apply` is one transaction: it commits whole or not at all. `count` and `retrieve` roll
back (temporary tables live outside the estate's tables). Errors name the table or column;
a lost or unreachable server raises ConnectorUnavailable (no password in the message).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, NoSuchTableError, OperationalError

from tutela.connectors.base import Applied, ConnectorUnavailable, Target, missing_fields, prepare_keys, scrub
from tutela.connectors.sqltypes import arrow_type, to_array
from tutela.connectors.strategies import changed, mask, require_field_strategy, require_ready
from tutela.connectors.urls import SQL_SCHEMES
from tutela.errors import InputError

SCHEMES = SQL_SCHEMES


class SqlConnector:
    kind = "sql"

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise InputError(f"bad database URL: {exc}", where="url") from None
        self.where = parsed.render_as_string(hide_password=True)
        self._secret = parsed.password if isinstance(parsed.password, str) else None
        backend = parsed.get_backend_name()
        if backend not in SCHEMES:
            raise InputError(f"unsupported database `{backend}`", where=self.where)
        if backend == "sqlite":
            path = Path(parsed.database or "")
            if not path.is_file():
                raise InputError("SQLite file not found", where=str(path))
        connect_args = {"connect_timeout": 10} if backend != "sqlite" else {}
        try:
            self._engine = sa.create_engine(url, connect_args=connect_args)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise InputError(f"bad database URL: {exc}", where=self.where) from None
        self._dialect = self._engine.dialect.name  # sqlite | postgresql | mysql | mariadb
        self._tables: dict[str, sa.Table] = {}

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _connection(self, what: str, *, commit: bool) -> Iterator[sa.Connection]:
        """One transaction; committed when `commit`, else rolled back. Driver errors translated."""
        try:
            conn = self._engine.connect()
        except DBAPIError as exc:
            raise ConnectorUnavailable(f"cannot reach the database: {scrub(str(exc.orig), self._secret)}",
                                       where=self.where) from None
        try:
            with conn:
                trans = conn.begin()
                yield conn
                if commit:
                    trans.commit()
                else:
                    trans.rollback()
        except DBAPIError as exc:
            message = scrub(str(exc.orig), self._secret)
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise ConnectorUnavailable(f"{what}: the database failed: {message}", where=self.where) from None
            raise InputError(f"{what}: {message}", where=self.where) from None

    def _table(self, conn: sa.Connection, name: str) -> sa.Table:
        if name not in self._tables:
            try:
                table: sa.Table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            except NoSuchTableError:
                raise InputError(f"table `{name}` is missing", where=self.where,
                                 hint="does the store match its data map?") from None
            self._tables[name] = table
        return self._tables[name]

    def _temp(self, conn: sa.Connection, columns: Sequence[sa.Column[Any]], rows: pa.Table,
              key: Sequence[str]) -> sa.Table:
        """A temporary table with `columns` (types copied) holding `rows`, unique on `key`."""
        name = f"tutela_tmp_{uuid.uuid4().hex[:12]}"
        indexable = all(not isinstance(c.type, sa.Text) for c in columns if c.name in key)
        cols = [sa.Column(c.name, c.type, primary_key=indexable and c.name in key) for c in columns]
        kw: dict[str, Any] = {"postgresql_on_commit": "DROP"} if self._dialect == "postgresql" else {}
        tmp: sa.Table = sa.Table(name, sa.MetaData(), *cols, prefixes=["TEMPORARY"], **kw)
        tmp.create(conn)
        if rows.num_rows == 0:
            return tmp
        names = [c.name for c in columns]
        if self._dialect == "postgresql":
            q = self._engine.dialect.identifier_preparer.quote
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur, cur.copy(f"COPY {q(name)} ({', '.join(q(n) for n in names)}) FROM STDIN") as cp:
                for row in zip(*(rows[n].to_pylist() for n in names), strict=True):
                    cp.write_row(row)
            conn.exec_driver_sql(f"ANALYZE {q(name)}")
        else:
            conn.execute(tmp.insert(), rows.select(names).to_pylist())
        return tmp

    def _drop(self, conn: sa.Connection, tmp: sa.Table) -> None:
        if self._dialect == "postgresql":
            return  # ON COMMIT DROP (and gone on rollback)
        q = self._engine.dialect.identifier_preparer.quote(tmp.name)
        # MariaDB: plain DROP TABLE would commit the transaction; DROP TEMPORARY TABLE does not
        conn.exec_driver_sql(f"DROP TEMPORARY TABLE {q}" if self._dialect in ("mysql", "mariadb")
                             else f"DROP TABLE temp.{q}")

    def _keys(self, conn: sa.Connection, table: sa.Table, match: tuple[str, ...], keys: pa.Table) -> sa.Table:
        missing_fields(table.name, table.c.keys(), match, self.where)
        return self._temp(conn, [table.c[m] for m in match], prepare_keys(keys, match, f"{table.name} keys"),
                          key=match)

    @staticmethod
    def _on(table: sa.Table, tmp: sa.Table, cols: Sequence[str]) -> sa.ColumnElement[bool]:
        return sa.and_(*(table.c[c] == tmp.c[c] for c in cols))

    # -- the interface ----------------------------------------------------------------------

    def check(self, need: Mapping[str, set[str]]) -> None:
        with self._connection("check", commit=False) as conn:
            for name, fields in need.items():
                missing_fields(name, self._table(conn, name).c.keys(), fields, self.where)

    def count(self, target: Target, keys: pa.Table) -> int:
        require_ready(target.masks.values())
        with self._connection(f"count `{target.collection}`", commit=False) as conn:
            table = self._table(conn, target.collection)
            tmp = self._keys(conn, table, target.match, keys)
            if target.action == "delete":
                n = conn.execute(sa.select(sa.func.count()).select_from(
                    table.join(tmp, self._on(table, tmp, target.match)))).scalar_one()
            else:
                n = self._masked(conn, table, tmp, target).num_rows
            self._drop(conn, tmp)
        return int(n)

    def retrieve(self, collection: str, match: tuple[str, ...], keys: pa.Table,
                 fields: Sequence[str]) -> pa.Table:
        with self._connection(f"retrieve `{collection}`", commit=False) as conn:
            table = self._table(conn, collection)
            missing_fields(collection, table.c.keys(), fields, self.where)
            tmp = self._keys(conn, table, match, keys)
            rows = conn.execute(sa.select(*(table.c[f] for f in fields))
                                .select_from(table.join(tmp, self._on(table, tmp, match)))).fetchall()
            self._drop(conn, tmp)
        return _arrow(rows, [table.c[f] for f in fields])

    def apply(self, target: Target, keys: pa.Table) -> Applied:
        require_ready(target.masks.values())
        with self._connection(f"apply to `{target.collection}`", commit=True) as conn:
            table = self._table(conn, target.collection)
            tmp = self._keys(conn, table, target.match, keys)
            if target.action == "delete":
                n = conn.execute(self._delete(table, tmp, target.match)).rowcount
            else:
                n = self._update(conn, table, self._masked(conn, table, tmp, target))
            self._drop(conn, tmp)
        return Applied(int(n))

    def close(self) -> None:
        self._engine.dispose()

    # -- delete and mask --------------------------------------------------------------------

    def _delete(self, table: sa.Table, tmp: sa.Table, match: tuple[str, ...]) -> sa.Delete:
        if self._dialect == "sqlite":  # no multi-table DELETE: a row-value IN subquery
            left = table.c[match[0]] if len(match) == 1 else sa.tuple_(*(table.c[m] for m in match))
            return sa.delete(table).where(left.in_(sa.select(*(tmp.c[m] for m in match))))
        return sa.delete(table).where(self._on(table, tmp, match))  # DELETE ... USING

    def _require_maskable(self, table: sa.Table, target: Target) -> None:
        """Everything that would make the UPDATE fail, found before it runs."""
        where = f"{self.where}: {table.name}"
        if not table.primary_key.columns:
            raise InputError(f"table `{table.name}` has no primary key; masking writes rows back by it",
                             where=self.where, hint="delete the rows instead, or add a primary key")
        missing_fields(table.name, table.c.keys(), target.masks, self.where)
        for name, s in target.masks.items():
            col = table.c[name]
            if col.primary_key:
                raise InputError(f"cannot mask `{table.name}.{name}`: it is the primary key", where=self.where)
            require_field_strategy(s, f"{where}.{name}")
            if s.strategy == "null_rewrite" and not col.nullable:
                raise InputError(f"`null_rewrite` on `{table.name}.{name}`, which is NOT NULL", where=self.where,
                                 hint="override the field's masking_strategy_override or delete the rows")
            length, longest = getattr(col.type, "length", None), s.max_length()
            if length is not None and longest is not None and longest > length:
                raise InputError(f"`{s}` writes up to {longest} characters; `{table.name}.{name}` holds "
                                 f"{length}", where=self.where)

    def _masked(self, conn: sa.Connection, table: sa.Table, tmp: sa.Table, target: Target) -> pa.Table:
        """Primary keys and new values of the matched rows whose masked values change."""
        self._require_maskable(table, target)
        pk = [c.name for c in table.primary_key.columns]
        cols = [table.c[c] for c in dict.fromkeys([*pk, *target.masks])]
        rows = conn.execute(sa.select(*cols).select_from(table.join(tmp, self._on(table, tmp, target.match))))
        current = _arrow(rows.fetchall(), cols)
        if current.num_rows == 0:
            return current
        hit = pa.array([False] * current.num_rows)
        out = current
        for name, s in target.masks.items():
            new = mask(s, current[name], f"{table.name}.{name}").cast(current.schema.field(name).type)
            _require_fits(new, table.c[name], f"{self.where}: {table.name}.{name}", str(s))
            hit = pc.or_(hit, changed(current[name], new))
            out = out.set_column(out.schema.get_field_index(name), name, new)
        return out.filter(hit)

    def _update(self, conn: sa.Connection, table: sa.Table, values: pa.Table) -> int:
        if values.num_rows == 0:
            return 0
        pk = [c.name for c in table.primary_key.columns]
        fields = [n for n in values.column_names if n not in pk]
        vals = self._temp(conn, [table.c[n] for n in values.column_names], values, key=pk)
        on = self._on(table, vals, pk)
        if self._dialect == "sqlite" and conn.dialect.dbapi is not None and \
                conn.dialect.dbapi.sqlite_version_info < (3, 33):  # no UPDATE ... FROM before 3.33
            sets = {table.c[f]: sa.select(vals.c[f]).where(on).scalar_subquery() for f in fields}
            left = table.c[pk[0]] if len(pk) == 1 else sa.tuple_(*(table.c[p] for p in pk))
            stmt = sa.update(table).values(sets).where(left.in_(sa.select(*(vals.c[p] for p in pk))))
        else:  # PostgreSQL UPDATE ... FROM, MariaDB UPDATE t, vals SET ..., SQLite UPDATE ... FROM
            stmt = sa.update(table).values({table.c[f]: vals.c[f] for f in fields}).where(on)
        n = conn.execute(stmt).rowcount
        self._drop(conn, vals)
        return int(n)


def _require_fits(values: pa.Array, col: sa.Column[Any], where: str, strategy: str) -> None:
    """Masked text longer than its column (e.g. `aes_encrypt` of a long value) fails before any write."""
    length = getattr(col.type, "length", None)
    if length is None or not pa.types.is_string(values.type) or values.null_count == len(values):
        return
    longest = pc.max(pc.utf8_length(values)).as_py()
    if longest is not None and longest > length:
        raise InputError(f"`{strategy}` writes {longest} characters; the column holds {length}", where=where,
                         hint="widen the column or choose another masking strategy")


def _arrow(rows: Sequence[Any], cols: Sequence[sa.Column[Any]]) -> pa.Table:
    data = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
    return pa.table({c.name: to_array(v, arrow_type(c.type)) for c, v in zip(cols, data, strict=True)})
