"""The state store's schema moves by Alembic migrations: a new store is at the head revision and
its schema is exactly what the models describe (no drift between models and migrations), on
SQLite, PostgreSQL and MariaDB; a pre-Alembic store is brought up without losing a row; two
processes opening a new store at once both succeed."""

from __future__ import annotations

import multiprocessing as mp
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import tutela.consent.portal_tables
import tutela.consent.tables
import tutela.rights.lifecycle
import tutela.rights.options
import tutela.staff.tables
from estate_fixture import server_database
from tutela.store.migrate import head, revision
from tutela.store.state import StateStore, meta

KINDS = ["sqlite", "postgresql", "mariadb"]


def _url(kind: str, tmp_path: Path) -> AbstractContextManager[str]:
    if kind == "sqlite":
        return nullcontext(f"sqlite:///{tmp_path / 'state.db'}")
    return server_database(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_store_is_at_head_and_matches_the_models(tmp_path: Path, kind: str) -> None:
    with _url(kind, tmp_path) as url:
        store = StateStore(url)
        assert revision(store.engine) == head()
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), meta)
        assert diff == [], f"the models and the migrations disagree: {diff}"
        store.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_pre_alembic_store_keeps_its_rights_requests(tmp_path: Path, kind: str) -> None:
    """A store from before `stores` existed, made by create_all (no alembic_version)."""
    with _url(kind, tmp_path) as url:
        old = sa.MetaData()
        cols = [sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
                for c in tutela.rights.lifecycle.rights_requests.columns if c.name != "stores"]
        table = sa.Table("rights_requests", old, *cols)
        eng = sa.create_engine(url)
        old.create_all(eng)
        row = {c.name: None for c in cols}
        row.update(request_id="r1", kind="access", scope="all", estate_key="k", estate="sqlite:///e.db",
                   subject="42", jurisdiction="NL", codes="[]", requester_kind="staff", approval="staff",
                   created_by="alice", created_at=sa.func.now(), received=sa.func.current_date(),
                   status="awaiting_approval", extended=False)
        with eng.begin() as c:
            c.execute(table.insert().values(**row))
        eng.dispose()
        store = StateStore(url)
        assert revision(store.engine) == head()
        with store.engine.connect() as c:
            got = c.execute(sa.text("SELECT request_id, subject, stores FROM rights_requests")).all()
        assert [tuple(r) for r in got] == [("r1", "42", None)]
        store.close()


def _open(url: str) -> str | None:
    store = StateStore(url)
    try:
        return revision(store.engine)
    finally:
        store.close()


def test_two_processes_opening_a_new_store_both_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'raced.db'}"
    with mp.get_context("spawn").Pool(2) as pool:
        assert pool.map(_open, [url, url]) == [head(), head()]
