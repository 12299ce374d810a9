"""Store and estate URLs, read in one place: the scheme, a path, a redacted form, a stable id.

    scheme("postgresql+psycopg://u:pw@db/x")   -> "postgresql"
    variant("parquet+spark:///lake")           -> "spark"
    redact("postgresql://u:pw@db/x")           -> "postgresql://u:***@db/x"
    estate_id("sqlite:///./clip.db")           -> 32 hex digits, the same for every spelling
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb")


def scheme(url: str) -> str:
    """The URL's scheme without a `+driver` suffix, lowercase (`""` when there is none)."""
    return urlsplit(url).scheme.split("+")[0].lower()


def variant(url: str) -> str | None:
    """What follows `+` in the scheme (`psycopg`, `pymysql`, `spark`), if anything."""
    head = urlsplit(url).scheme
    return head.split("+", 1)[1].lower() if "+" in head else None


def path_of(url: str) -> Path:
    """The local path of a `parquet:`, `file:` or `sqlite:` URL (not resolved)."""
    if scheme(url) == "sqlite":
        try:
            return Path(make_url(url).database or "")
        except ArgumentError:
            return Path(urlsplit(url).path)
    return Path(urlsplit(url).path)


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def estate_id(url: str) -> str:
    """A stable id of an estate URL (password dropped, SQLite and Parquet paths made absolute):
    the key Tutela's state store files jobs, receipts and requests under."""
    kind = scheme(url)
    if kind in ("parquet", "sqlite"):
        norm = f"{kind}://" + ("/" if kind == "sqlite" else "") + str(path_of(url).resolve())
    else:
        try:
            norm = make_url(url).set(password=None).render_as_string(hide_password=False)
        except ArgumentError:
            norm = url
    return hashlib.sha256(norm.encode()).hexdigest()[:32]


ESTATE_FORMS = "sqlite:///file.db, postgresql+psycopg://..., mysql+pymysql://... or parquet:///dir"


def unsupported(url: str, what: str = "estate") -> str:
    """The message for a URL Tutela cannot open: a plain path says so instead of naming an empty scheme."""
    kind = scheme(url)
    return f"not a URL: `{redact(url)}`" if kind == "" else f"unsupported {what} URL scheme `{kind}`"


def url_hint(url: str, forms: str = ESTATE_FORMS) -> str:
    """The hint of an unsupported-URL error: a plain path gets the URL it probably meant
    (`out/cs.db` -> `sqlite:///out/cs.db`, a folder -> `parquet:///folder`), else the forms."""
    if scheme(url) == "" and url.strip():
        path = Path(url)
        if path.is_dir():
            return f"a folder is given as a URL: did you mean `parquet://{path.resolve()}`? (use {forms})"
        return f"a path is given as a URL: did you mean `sqlite:///{path}`? (use {forms})"
    return f"use {forms}"
