"""The ClipStream estate: a synthetic short-video platform's tables (SQLAlchemy Core).

The same schema is written to SQLite, PostgreSQL, MariaDB (through SQLAlchemy) and to a
Parquet folder (one file per table). Its data map ships in `tutela/data/datamaps/`.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

accounts = Table(
    "accounts", metadata,
    Column("account_id", Integer, primary_key=True, autoincrement=False),
    Column("handle", String(64), nullable=False),
    Column("email", String(128), nullable=False),
    Column("phone", String(32)),
    Column("birth_date", Date, nullable=False),  # as declared at sign-up
    Column("country", String(8), nullable=False),  # jurisdiction code: NL, GB, US-CA ...
    Column("signup_ip", String(45)),
    Column("device_id", String(64)),
    Column("created_at", DateTime, nullable=False),
)

profiles = Table(
    "profiles", metadata,
    Column("account_id", Integer, primary_key=True, autoincrement=False),
    Column("bio", Text),
    Column("avatar_path", String(255)),
    Column("visibility", String(16), nullable=False),  # public | private
    Column("visibility_set_by", String(16), nullable=False),  # default | user
)

media = Table(
    "media", metadata,
    Column("media_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # video | photo
    Column("path", String(255), nullable=False),  # relative to the estate's media folder
    Column("caption", Text),
    Column("lat", Float),  # location read from the upload's metadata, null when absent
    Column("lon", Float),
    Column("created_at", DateTime, nullable=False),
)

watch_history = Table(
    "watch_history", metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("media_id", Integer, nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("watched_at", DateTime, nullable=False),
)

location_pings = Table(
    "location_pings", metadata,
    Column("ping_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("accuracy_m", Float, nullable=False),
    Column("at", DateTime, nullable=False),
)

ad_impressions = Table(
    "ad_impressions", metadata,
    Column("impression_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("segment", String(64), nullable=False),
    Column("targeting", String(16), nullable=False),  # profiled | contextual
    Column("exchange", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
)

messages = Table(
    "messages", metadata,
    Column("message_id", Integer, primary_key=True, autoincrement=False),
    Column("sender_id", Integer, nullable=False, index=True),
    Column("recipient_id", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_at", DateTime, nullable=False),
)

follows = Table(
    "follows", metadata,
    Column("follower_id", Integer, primary_key=True, autoincrement=False),
    Column("followee_id", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime, nullable=False),
)

face_templates = Table(
    "face_templates", metadata,
    Column("template_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("purpose", String(32), nullable=False),  # login | effects
    Column("created_at", DateTime, nullable=False),
)

consents = Table(
    "consents", metadata,
    Column("consent_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("scopes", String(255), nullable=False),  # `|`-separated consent scopes
    Column("given_by", String(8), nullable=False),  # self | parent
    Column("assurance", String(16), nullable=False),  # declared | confirmed | verified
    Column("method", String(32)),
    Column("granted_at", Date, nullable=False),
    Column("expires_at", Date),
    Column("revoked_at", Date),
)

processors = Table(
    "processors", metadata,
    Column("processor_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # processor | third_party
    Column("country", String(2), nullable=False),
    Column("dpf_certified", Boolean, nullable=False),
    Column("scc_module", String(8)),  # C2C | C2P | P2P | P2C, null = none
    Column("tia_date", Date),  # transfer impact assessment on file, null = none
)

transfers = Table(
    "transfers", metadata,
    Column("transfer_id", Integer, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False, index=True),
    Column("processor_id", Integer, nullable=False),
    Column("collection", String(32), nullable=False),  # which collection's data went
    Column("at", DateTime, nullable=False),
)

TABLES = tuple(metadata.sorted_tables)
