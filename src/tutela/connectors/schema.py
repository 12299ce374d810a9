"""A live database's schema for `tutela datamap draft`: tables, columns, primary and foreign keys
(SQLAlchemy's inspector; SQLite, PostgreSQL, MariaDB/MySQL). Reads the catalogue, never a row."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from tutela.connectors.urls import SQL_SCHEMES, path_of, redact, scheme, unsupported, url_hint, variant
from tutela.datamap.draft import Column, TableSchema
from tutela.errors import InputError, StoreUnavailable

_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}
FORMS = "sqlite:///file.db, postgresql://user@host/db or mysql+pymysql://user@host/db"


def sqlalchemy_url(url: str) -> str:
    """The URL with the driver Tutela ships (`postgresql://` -> `postgresql+psycopg://`)."""
    kind = scheme(url)
    if kind not in SQL_SCHEMES:
        raise InputError(unsupported(url, "database"), where="--url", hint=url_hint(url, FORMS))
    if variant(url) is None and kind in _DRIVERS:
        return _DRIVERS[kind] + url[len(url.split(":", 1)[0]):]
    if kind == "sqlite" and not path_of(url).is_file():
        raise InputError("SQLite database file not found", where=str(path_of(url)))
    return url


def dataset_name(url: str) -> str:
    """A Fides key for the database: the SQLite file's stem or the database's name."""
    try:
        base = path_of(url).stem if scheme(url) == "sqlite" else (sa.make_url(sqlalchemy_url(url)).database or "")
    except ArgumentError:
        base = ""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("_.-") or "dataset"


def read_schema(url: str, schema: str | None = None) -> list[TableSchema]:
    """Every table of the database (or of `schema`), in name order, with its keys."""
    try:
        engine = sa.create_engine(sqlalchemy_url(url))
    except (ArgumentError, NoSuchModuleError) as exc:
        raise InputError(f"bad database URL: {exc}", where="--url") from None
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            tables = []
            for name in sorted(insp.get_table_names(schema=schema)):
                pk = set(insp.get_pk_constraint(name, schema=schema).get("constrained_columns") or [])
                refs: dict[str, tuple[str, str]] = {}
                for fk in insp.get_foreign_keys(name, schema=schema):
                    for local, remote in zip(fk["constrained_columns"], fk["referred_columns"], strict=False):
                        refs.setdefault(local, (fk["referred_table"], remote))
                cols = tuple(Column(c["name"], c["name"] in pk, refs.get(c["name"]))
                             for c in insp.get_columns(name, schema=schema))
                tables.append(TableSchema(name, cols))
    except OperationalError as exc:
        raise StoreUnavailable(f"cannot read the database's schema: {str(exc.orig).splitlines()[0]}",
                               where=redact(url)) from None
    except DatabaseError as exc:
        raise InputError(f"cannot read the database's schema: {str(exc.orig).splitlines()[0]}",
                         where=redact(url)) from None
    finally:
        engine.dispose()
    if not tables:
        raise InputError("the database has no tables", where=redact(url) + (f" (schema `{schema}`)" if schema else ""))
    return tables
