"""Tutela's own state (jobs, checkpoints, receipts, settled transfers, rights requests), apart from
every estate: SQLite by default, PostgreSQL or MariaDB by URL; its schema moves by Alembic migrations."""

from tutela.store.state import StateStore

__all__ = ["StateStore"]
