"""Alembic environment for Tutela's state store: run by tutela.store.migrate() on the
connection it is given (there is no alembic.ini; `script_location` is this folder)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
