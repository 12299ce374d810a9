"""The console: staff accounts (argon2id hashes), server-side sessions (hashed ids) and the
history of audits the console ran.

The table definitions are frozen here on purpose (tutela.staff.tables describes the head).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003_console"
down_revision = "0002_consent"
branch_labels = None
depends_on = None

meta = sa.MetaData()

sa.Table(
    "staff_accounts", meta,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
)
sa.Table(
    "staff_sessions", meta,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
)
sa.Table(
    "audit_runs", meta,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("estate_key", sa.String(64), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("by", sa.String(64), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("findings", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
)


def upgrade() -> None:
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for name in ("audit_runs", "staff_sessions", "staff_accounts"):
        op.drop_table(name)
