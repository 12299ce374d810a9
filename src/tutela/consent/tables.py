"""Consent tables in Tutela's state store (migration 0002_consent). Identifiers, dates and method
names only: no image, document or message body is ever stored; a guardian's email is the one
contact detail kept, to send the consent link and the confirmation."""

from __future__ import annotations

import sqlalchemy as sa

from tutela.store.state import meta

guardians = sa.Table(  # a parent or guardian; the email is the online contact COPPA §312.5(c)(1) lets us keep
    "consent_guardians", meta,
    sa.Column("guardian_id", sa.String(32), primary_key=True),
    sa.Column("email", sa.Text),  # erased when a request is never confirmed (data_lite.delete_after_days)
    sa.Column("email_digest", sa.String(64), nullable=False, index=True),  # sha256 of the normalised address
    sa.Column("verified_at", sa.DateTime),
    sa.Column("method", sa.String(32)),
    sa.Column("assurance", sa.String(16)),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

links = sa.Table(  # a guardian linked to a child's account; verified once a method confirmed the guardian
    "consent_links", meta,
    sa.Column("subject", sa.String(64), primary_key=True),
    sa.Column("guardian_id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("verified_at", sa.DateTime),
    sa.Column("unlinked_at", sa.DateTime),
)

accounts = sa.Table(  # a minor's account: where, how old when seen, its settings, data-lite or full
    "consent_accounts", meta,
    sa.Column("subject", sa.String(64), primary_key=True),
    sa.Column("jurisdiction", sa.String(16), nullable=False),
    sa.Column("age", sa.Integer, nullable=False),
    sa.Column("age_on", sa.Date, nullable=False),
    sa.Column("settings", sa.Text, nullable=False),  # JSON {setting: value}
    sa.Column("mode", sa.String(16), nullable=False),  # data_lite | full
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

requests = sa.Table(
    "consent_requests", meta,
    sa.Column("request_id", sa.String(32), primary_key=True),
    sa.Column("subject", sa.String(64), nullable=False, index=True),
    sa.Column("guardian_id", sa.String(32), nullable=False),
    sa.Column("jurisdiction", sa.String(16), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),  # JSON list of the scopes asked for
    sa.Column("notice_version", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | link_confirmed | granted | refused | expired
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the link's token
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("link_used_at", sa.DateTime),
    sa.Column("completed_at", sa.DateTime),
    sa.Column("method", sa.String(32)),
)

grants = sa.Table(  # one scope each; history is kept: a revoked or superseded grant stays, dated
    "consent_grants", meta,
    sa.Column("grant_id", sa.String(32), primary_key=True),
    sa.Column("subject", sa.String(64), nullable=False, index=True),
    sa.Column("scope", sa.String(32), nullable=False),
    sa.Column("by", sa.String(8), nullable=False),  # parent | self
    sa.Column("guardian_id", sa.String(32)),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("assurance", sa.String(16), nullable=False),
    sa.Column("notice_version", sa.String(32), nullable=False),
    sa.Column("request_id", sa.String(32)),
    sa.Column("granted_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime),
    sa.Column("revoked_at", sa.DateTime),
    sa.Column("revoked_by", sa.String(64)),
    sa.Column("renewal_needed_at", sa.DateTime),
    # the ledger's outbox: the grant and its revocation are each written to the ledger once
    sa.Column("ledgered_grant", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("ledgered_revoke", sa.Boolean, nullable=False, server_default=sa.false()),
)

notices = sa.Table(  # privacy-notice versions; a material change names the scopes it affects
    "consent_notices", meta,
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("published_at", sa.DateTime, nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),  # JSON list
)

evidence = sa.Table(  # what a method reported: outcome and a provider reference, never an image or document
    "consent_evidence", meta,
    sa.Column("evidence_id", sa.String(32), primary_key=True),
    sa.Column("request_id", sa.String(32), nullable=False, index=True),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # passed | failed
    sa.Column("reported_by", sa.String(64), nullable=False),  # staff name or provider
    sa.Column("reference", sa.String(128)),
    sa.Column("at", sa.DateTime, nullable=False),
)

webhook_events = sa.Table(  # signed provider events already accepted (replays are refused)
    "consent_webhook_events", meta,
    sa.Column("event_digest", sa.String(64), primary_key=True),
    sa.Column("received_at", sa.DateTime, nullable=False),
)
