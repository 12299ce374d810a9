"""Connectors: plan, dry-run, retrieve and erase a batch of subjects in one store, set-based.

    base        Target, Connector (the interface), ConnectorUnavailable
    strategies  masking strategies (Fides names), pure Arrow functions
    sql         SQLite, PostgreSQL, MariaDB          lake   a Parquet folder through DuckDB
    redis       key families per subject              files  a media folder (JPEG/MP4)
    memory      dict of Arrow tables (unit tests)     planner  the data map as a graph

`open_connector` picks the connector by URL scheme. See docs/repair.md.
"""

from __future__ import annotations

from tutela.connectors.base import Connector, ConnectorUnavailable, Target, needs_of
from tutela.connectors.files import FilesConnector
from tutela.connectors.lake import LakeConnector
from tutela.connectors.memory import MemoryConnector
from tutela.connectors.planner import ESTATE, Erasure, Plan, erasure_targets, needs, plan, resolve
from tutela.connectors.redis import RedisConnector
from tutela.connectors.sql import SCHEMES, SqlConnector
from tutela.connectors.strategies import Strategy, parse_strategy
from tutela.connectors.urls import path_of, redact, scheme, unsupported, url_hint, variant
from tutela.datamap.models import FilesStoreDecl, RedisStoreDecl, StoreDecl
from tutela.errors import InputError

__all__ = [
    "ESTATE", "Connector", "ConnectorUnavailable", "Erasure", "FilesConnector", "LakeConnector", "MemoryConnector",
    "Plan", "RedisConnector", "SqlConnector", "Strategy", "Target", "erasure_targets", "needs", "needs_of",
    "open_connector", "parse_strategy", "plan", "resolve",
]


def open_connector(url: str, *, store: StoreDecl | None = None, key_prefix: str = "") -> Connector:
    """The connector for a store URL:

    sqlite:///file.db, postgresql+psycopg://..., mysql+pymysql://...  -> SqlConnector
    parquet:///dir (parquet+spark:///dir: matched on Spark)           -> LakeConnector
    redis://host:port/db (needs `store`: its key families)            -> RedisConnector
    file:///dir (needs `store`: which field holds each collection's paths) -> FilesConnector

    `store` is the store's declaration (`DataMap.tutela.stores[name]`); `key_prefix` is put in
    front of every Redis key (tests and tenants sharing a server)."""
    kind = scheme(url)
    if kind in SCHEMES:
        return SqlConnector(url)
    if kind == "parquet":  # parquet+spark:///dir: the Spark path
        return LakeConnector(path_of(url), "spark" if variant(url) == "spark" else "duckdb")
    if kind in ("redis", "rediss", "unix"):
        if not isinstance(store, RedisStoreDecl):
            raise InputError("a Redis store needs its key families", where=redact(url),
                             hint="pass the `kind: redis` store declared under `tutela.stores`")
        return RedisConnector(url, store.collections, key_prefix=key_prefix)
    if kind == "file":
        if not isinstance(store, FilesStoreDecl):
            raise InputError("a media folder needs its file fields", where=url,
                             hint="pass the `kind: files` store declared under `tutela.stores`")
        return FilesConnector(path_of(url), {c: d.field for c, d in store.collections.items()})
    raise InputError(unsupported(url, "store"), where=redact(url),
                     hint=url_hint(url, "sqlite:///file.db, postgresql+psycopg://..., mysql+pymysql://..., "
                                        "parquet:///dir, redis://host:6379/0 or file:///media-dir"))
