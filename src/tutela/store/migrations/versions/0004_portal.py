"""The parent portal: magic sign-in links and guardians' sessions, both kept as hashes.

The table definitions are frozen here on purpose (tutela.consent.portal_tables describes the head).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_portal"
down_revision = "0003_console"
branch_labels = None
depends_on = None

meta = sa.MetaData()

sa.Table(
    "portal_signins", meta,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("guardian_id", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("used_at", sa.DateTime),
)
sa.Table(
    "portal_sessions", meta,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("guardian_id", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)


def upgrade() -> None:
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for name in ("portal_sessions", "portal_signins"):
        op.drop_table(name)
