"""Where an estate's media folder is when nobody says otherwise: the one rule that the
generator (`tutela estate generate`, `tutela demo`), the rights desk and remediation share.

    sqlite:///dir/shop.db                 -> dir/shop-media
    parquet:///dir/lake                   -> dir/lake-media
    postgresql+psycopg://u@host:5432/shop -> $TUTELA_HOME/media/postgresql-host-5432-shop
    mysql+pymysql://u@host:3306/shop      -> $TUTELA_HOME/media/mysql-host-3306-shop

A server database has no folder beside it, so its media folder goes under Tutela's home
(the folder of the state store, `$TUTELA_HOME`, default `~/.tutela`), named by server and
database (never by user or password).
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tutela import settings
from tutela.connectors.urls import scheme
from tutela.errors import InputError


def media_folder(url: str) -> Path:
    """The default media folder of the estate at `url` (absolute; it may not exist)."""
    if "://" not in url:
        url = f"sqlite:///{url}"
    kind = scheme(url)
    if kind == "parquet":
        raw = url.split("://", 1)[1]
        path = Path(raw[1:] if raw.startswith("//") else raw).expanduser().resolve()
        return path.with_name(f"{path.name}-media")
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"malformed estate URL: {exc}", where="estate") from None
    if kind == "sqlite":
        path = Path(u.database or "").expanduser().resolve()
        return path.with_name(f"{path.stem}-media")
    kind = "postgresql" if kind == "postgresql" else "mysql" if kind in ("mysql", "mariadb") else kind
    parts = [kind, u.host or "localhost", str(u.port or "default"), u.database or "default"]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))
    return (settings.home() / "media" / name).resolve()
