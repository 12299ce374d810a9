"""Baseline: the state store's schema when Tutela moved to Alembic (every table of earlier releases).

A store made before Alembic (by `create_all`) has no `alembic_version`: this revision creates
the tables it lacks and brings two older shapes up to date, keeping every row: v1 receipts
(one per job and subject) gain `attempt`, and rights requests gain `stores`.

The table definitions are frozen here on purpose: later revisions change the schema, and the
models in tutela.store / tutela.rights describe the head.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

meta = sa.MetaData()

jobs = sa.Table(
    "jobs", meta,
    sa.Column("job_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # remediation | erasure | access
    sa.Column("estate_key", sa.String(64), nullable=False, index=True),
    sa.Column("estate", sa.String(512), nullable=False),  # URL without password
    sa.Column("status", sa.String(16), nullable=False),  # planning|running|paused|done|done_with_errors|failed
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),  # JSON: rules, as_of, data map, plan summary
    sa.Column("note", sa.Text),  # why it paused or failed (no personal data)
)

checkpoints = sa.Table(
    "checkpoints", meta,
    sa.Column("job_id", sa.String(40), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("batch", sa.Integer, primary_key=True),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("done_at", sa.DateTime, nullable=False),
)

failures = sa.Table(  # items a job could not change or verify; `open` until a later attempt changes them
    "job_failures", meta,
    sa.Column("job_id", sa.String(40), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("batch", sa.Integer, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("item_digest", sa.String(64), primary_key=True),  # sha256 of `item` (keys of any length)
    sa.Column("item", sa.Text, nullable=False),  # JSON list of the key's values; "*" = the whole batch
    sa.Column("reason", sa.Text, nullable=False),  # no personal data: a status word and a cause
    sa.Column("open", sa.Boolean, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

receipts = sa.Table(
    "receipts", meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("estate_key", sa.String(64), nullable=False, index=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # canonical JSON
    sa.Column("digest", sa.String(64), nullable=False),  # sha256(prev + body)
    sa.Column("prev", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),  # a retry's receipt follows the first
    sa.UniqueConstraint("job_id", "subject", "attempt", name="one_receipt_per_subject_attempt"),
)

settled = sa.Table(  # past transfers whose route is blocked and whose recipient was asked to erase
    "settled_transfers", meta,
    sa.Column("estate_key", sa.String(64), primary_key=True),
    sa.Column("transfer", sa.String(64), primary_key=True),  # the transfer record's key, as text
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(96), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

blocked_routes = sa.Table(
    "blocked_routes", meta,
    sa.Column("estate_key", sa.String(64), primary_key=True),
    sa.Column("recipient", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(64), primary_key=True),  # the collection whose data went
    sa.Column("rule", sa.String(96), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

erasure_requests = sa.Table(  # to recipients abroad, one per (recipient, job), listing subjects
    "erasure_requests", meta,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("estate_key", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("subjects", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

rights_requests = sa.Table(
    "rights_requests", meta,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # access | erasure
    sa.Column("scope", sa.String(16), nullable=False),  # all (access) | data | account (erasure)
    sa.Column("estate_key", sa.String(64), nullable=False, index=True),
    sa.Column("estate", sa.String(512), nullable=False),  # URL without password
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("jurisdiction", sa.String(16), nullable=False),
    sa.Column("codes", sa.Text, nullable=False),  # JSON: the jurisdiction and the regimes it inherits
    sa.Column("age", sa.Integer),  # the subject's age on `received`, when the estate knows it
    sa.Column("requester_kind", sa.String(16), nullable=False),  # staff | parent | subject
    sa.Column("requester_ref", sa.String(200)),  # a ticket or case number, not a name
    sa.Column("approval", sa.String(16), nullable=False),  # staff (the only kind implemented)
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("received", sa.Date, nullable=False),
    sa.Column("status", sa.String(24), nullable=False, index=True),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("note", sa.Text),  # why rejected / why extended (no personal data)
    sa.Column("extended", sa.Boolean, nullable=False),
    sa.Column("extended_at", sa.DateTime),
    sa.Column("due", sa.Date),
    sa.Column("running_since", sa.DateTime),
    sa.Column("completed_at", sa.DateTime),
    sa.Column("result", sa.Text),  # JSON summary: rows per collection, receipt digest (counts only)
    sa.Column("error", sa.Text),  # why the last run failed (no personal data)
    sa.Column("stores", sa.Text),  # JSON: where each declared store is, without secrets (tutela.connectors.places)
)

rights_exports = sa.Table(  # the access export the requester receives, kept until delivered
    "rights_exports", meta,
    sa.Column("request_id", sa.String(40), primary_key=True),
    # canonical JSON; LONGTEXT on MariaDB/MySQL (TEXT there holds 64 KB), plain TEXT elsewhere (PostgreSQL
    # refuses a length on TEXT, so `Text(length=...)` made the state store fail to open there)
    sa.Column("body", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

rights_request_options = sa.Table(
    "rights_request_options", meta,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("policy", sa.Text),  # canonical JSON of the erasure policy, or NULL (the data map's rules)
    sa.Column("allow_unreachable", sa.Boolean, nullable=False),
    sa.Column("undecided", sa.Text, nullable=False),  # JSON list of statements (no personal data)
)


def upgrade() -> None:
    bind = op.get_bind()
    found = sa.inspect(bind)
    if found.has_table("receipts") and "attempt" not in {c["name"] for c in found.get_columns("receipts")}:
        _receipts_v1(bind, found)
    if found.has_table("rights_requests") and "stores" not in {c["name"] for c in found.get_columns("rights_requests")}:
        op.add_column("rights_requests", sa.Column("stores", sa.Text))
    meta.create_all(bind, checkfirst=True)  # the frozen tables above, those missing only


def _receipts_v1(bind: sa.Connection, found: sa.Inspector) -> None:
    """v1 receipts gain `attempt` (1 for all of them); the hash chain and its sequence numbers stay."""
    if bind.dialect.name != "sqlite":
        op.add_column("receipts", sa.Column("attempt", sa.Integer, nullable=False, server_default="1"))
        op.drop_constraint("one_receipt_per_subject", "receipts", type_="unique")
        op.create_unique_constraint("one_receipt_per_subject_attempt", "receipts", ["job_id", "subject", "attempt"])
        return
    cols = "seq, job_id, estate_key, subject, body, digest, prev"  # SQLite cannot drop a constraint: rebuild
    for ix in found.get_indexes("receipts"):
        op.execute(f"DROP INDEX {ix['name']}")
    op.execute("ALTER TABLE receipts RENAME TO receipts_v1")
    receipts.create(bind)
    op.execute(f"INSERT INTO receipts ({cols}, attempt) SELECT {cols}, 1 FROM receipts_v1")
    op.execute("DROP TABLE receipts_v1")


def downgrade() -> None:
    raise RuntimeError("the baseline cannot be downgraded: it is the first schema Tutela knows")
