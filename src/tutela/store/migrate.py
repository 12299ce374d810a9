"""The state store's schema moves by Alembic migrations (src/tutela/store/migrations/versions).

    migrate(engine)          # to the head revision: what every StateStore() does when it opens
    revision(engine)         # the revision a store is at (None: not under Alembic yet)

Two processes opening a new store at once may race to create it; the loser sees the winner's
work and tries once more.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

HERE = Path(__file__).resolve().parent / "migrations"


def _config(conn: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(_config()).get_current_head()
    assert rev is not None
    return rev


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: sa.Engine) -> None:
    """Upgrade the store to the head revision (nothing to do when it is there already)."""
    if revision(engine) == head():
        return
    for attempt in (1, 2):
        try:
            with engine.begin() as conn:
                command.upgrade(_config(conn), "head")
            return
        except (OperationalError, IntegrityError, ProgrammingError):
            if attempt == 2 or revision(engine) == head():  # a concurrent opener finished it
                if revision(engine) == head():
                    return
                raise
