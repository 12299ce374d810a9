"""The parent portal's tables in Tutela's state store (migration 0004_portal): sign-in links and
sessions, each kept only as the SHA-256 of its secret, with the guardian it belongs to."""

from __future__ import annotations

import sqlalchemy as sa

from tutela.store.state import meta

signins = sa.Table(  # a magic sign-in link emailed to a guardian: single use, expiring
    "portal_signins", meta,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("guardian_id", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("used_at", sa.DateTime),
)

sessions = sa.Table(  # a signed-in guardian's browser session (the cookie holds the id, the store its hash)
    "portal_sessions", meta,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("guardian_id", sa.String(32), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)
