"""The console's tables in Tutela's state store (migration `0003_console`): staff accounts,
server-side sessions and the audits the console ran (its history and trend).

No secret is stored as it is: a password as its argon2id hash, a session id as its SHA-256.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from tutela.store.state import meta

staff_accounts = sa.Table(
    "staff_accounts", meta,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),  # dpo | support | auditor
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, with its parameters and salt
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
)

staff_sessions = sa.Table(
    "staff_sessions", meta,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the random session id
    sa.Column("name", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
)

audit_runs = sa.Table(  # counts and pseudonymous example ids only: no personal data
    "audit_runs", meta,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("estate_key", sa.String(64), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("by", sa.String(64), nullable=False),  # a staff name, or `system`
    sa.Column("summary", sa.Text, nullable=False),  # JSON: distinct subjects and children by severity
    sa.Column("findings", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
)

notices_sent = sa.Table(  # what the watch has told the team, so each notice goes out once (migration 0005_watch)
    "staff_notices_sent", meta,
    sa.Column("notice_key", sa.String(128), primary_key=True),  # e.g. critical:<estate>:<rule>, deadline:<request>
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
)
