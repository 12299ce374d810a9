"""Scheduled audits and notifications: the notices already sent (each goes out once).

The table definition is frozen here on purpose (tutela.staff.tables describes the head).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_watch"
down_revision = "0004_portal"
branch_labels = None
depends_on = None

meta = sa.MetaData()

sa.Table(
    "staff_notices_sent", meta,
    sa.Column("notice_key", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
)


def upgrade() -> None:
    meta.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_table("staff_notices_sent")
