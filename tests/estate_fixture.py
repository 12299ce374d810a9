"""A small hand-built ClipStream estate whose findings are worked out by hand (test_audit.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from tutela.clipstream import schema as S

D = dt.datetime
ROWS: dict[str, list[dict[str, object]]] = {
    "accounts": [
        # 1: NL, 11 on 2026-03-01, declared truthfully, no consents
        dict(account_id=1, handle="a", email="a@example.test", phone=None, birth_date=dt.date(2014, 5, 1),
             country="NL", signup_ip="192.0.2.1", device_id="d1", created_at=D(2025, 1, 1)),
        # 2: IT, declared adult, but states "I'm 12" in her bio -> a child (signal)
        dict(account_id=2, handle="b", email="b@example.test", phone=None, birth_date=dt.date(1990, 5, 1),
             country="IT", signup_ip=None, device_id=None, created_at=D(2025, 1, 1)),
        # 3: US-IL adult, face template for login without a written release
        dict(account_id=3, handle="c", email="c@example.test", phone=None, birth_date=dt.date(1995, 5, 1),
             country="US-IL", signup_ip=None, device_id=None, created_at=D(2025, 1, 1)),
        # 4: GB, 30, everything lawful (consented)
        dict(account_id=4, handle="d", email="d@example.test", phone=None, birth_date=dt.date(1996, 1, 1),
             country="GB", signup_ip=None, device_id=None, created_at=D(2025, 1, 1)),
        # 5: NL, 12, a verified parent consented to location: lawful pings, two kept past 90 days
        dict(account_id=5, handle="e", email="e@example.test", phone=None, birth_date=dt.date(2014, 6, 1),
             country="NL", signup_ip=None, device_id=None, created_at=D(2025, 1, 1)),
        # 6: NL, 12, a "parent" nobody verified consented to location: unlawful pings
        dict(account_id=6, handle="f", email="f@example.test", phone=None, birth_date=dt.date(2014, 6, 1),
             country="NL", signup_ip=None, device_id=None, created_at=D(2025, 1, 1)),
        # 7: US, 10, a verified parent consented to collection (COPPA): one ping kept past 90 days
        dict(account_id=7, handle="g", email="g@example.test", phone=None, birth_date=dt.date(2016, 1, 1),
             country="US", signup_ip=None, device_id=None, created_at=D(2025, 1, 1)),
    ],
    "profiles": [
        dict(account_id=1, bio="hi", avatar_path=None, visibility="public", visibility_set_by="default"),
        dict(account_id=2, bio="I'm 12 lol", avatar_path=None, visibility="private", visibility_set_by="user"),
        dict(account_id=3, bio="", avatar_path=None, visibility="private", visibility_set_by="user"),
        dict(account_id=4, bio="30 and counting", avatar_path=None, visibility="public", visibility_set_by="user"),
    ],
    "media": [], "watch_history": [], "messages": [], "follows": [],
    "location_pings": [dict(ping_id=i, account_id=1 + i % 2, lat=52.0, lon=4.0, accuracy_m=5.0, at=D(2026, 3, 1))
                       for i in range(10)]
    + [dict(ping_id=10, account_id=4, lat=51.5, lon=0.1, accuracy_m=5.0, at=D(2026, 3, 1))]
    # retention of location_pings is 90 days: 2026-03-01 is 245 days before the audit, 2026-10-01 31 days
    + [dict(ping_id=11 + i, account_id=5, lat=52.0, lon=4.0, accuracy_m=5.0, at=at)
       for i, at in enumerate((D(2026, 3, 1), D(2026, 3, 1), D(2026, 10, 1)))]
    + [dict(ping_id=14 + i, account_id=6, lat=52.0, lon=4.0, accuracy_m=5.0, at=D(2026, 10, 1)) for i in range(3)]
    + [dict(ping_id=17, account_id=7, lat=38.9, lon=-77.0, accuracy_m=5.0, at=D(2026, 3, 1))],
    "ad_impressions": [dict(impression_id=i, account_id=2, segment="toys", targeting="profiled", exchange="x",
                            at=D(2026, 3, 1)) for i in range(4)]
    + [dict(impression_id=4, account_id=2, segment="toys", targeting="contextual", exchange="x",
            at=D(2026, 3, 1))],
    "face_templates": [dict(template_id=1, account_id=3, purpose="login", created_at=D(2026, 3, 1))],
    "consents": [
        dict(consent_id=1, account_id=2, scopes="processing|marketing", given_by="self", assurance="declared",
             method=None, granted_at=dt.date(2025, 1, 1), expires_at=None, revoked_at=None),
        dict(consent_id=2, account_id=4, scopes="processing|location|publish|profiling", given_by="self",
             assurance="declared", method=None, granted_at=dt.date(2025, 1, 1), expires_at=None, revoked_at=None),
        dict(consent_id=3, account_id=5, scopes="location", given_by="parent", assurance="verified",
             method="card_check", granted_at=dt.date(2025, 1, 1), expires_at=None, revoked_at=None),
        dict(consent_id=4, account_id=6, scopes="location", given_by="parent", assurance="declared",
             method="email_plus", granted_at=dt.date(2025, 1, 1), expires_at=None, revoked_at=None),
        dict(consent_id=5, account_id=7, scopes="collection", given_by="parent", assurance="verified",
             method="id_document", granted_at=dt.date(2025, 1, 1), expires_at=None, revoked_at=None),
    ],
    "processors": [dict(processor_id=1, name="p", kind="processor", country="IN", dpf_certified=False,
                        scc_module=None, tia_date=None)],
    "transfers": [dict(transfer_id=1, account_id=1, processor_id=1, collection="watch_history", at=D(2026, 3, 1))],
}

# Worked out by hand from the rulebook (see the comments on ROWS):
EXPECTED = {
    # account 1 (NL, 11): 5 pings without a parent's location consent; account 2 (IT, 12 by signal): 5 pings;
    # account 6 (NL, 12): 3 pings on an unverified parent's consent. Accounts 1 and 2's pings are also past
    # retention, but they are denied already: they count here only (erasure covers them).
    "EU-EPRIVACY.art5-3.location": (3, 13),
    # account 2 is a minor by her bio: 4 profiled impressions (the contextual one is lawful)
    "EU-DSA.art28-2": (1, 4),
    # account 1's public-by-default profile
    "EU-GDPR.art25-2": (1, 1),
    # account 1's watch history sent to IN without SCCs or an assessment
    "EU-GDPR.art44-46": (1, 1),
    # account 3's face template
    "US-IL-BIPA.15-b": (1, 1),
    # account 2's contextual impression: lawful only with a parent's marketing consent (IT: under 14)
    "EU-GDPR.art6-1-a.marketing": (1, 1),
    # account 5's two lawful pings of 2026-03-01, kept past the declared 90 days (the third is recent)
    "EU-GDPR.art5-1-e": (1, 2),
    # account 7's lawful ping of 2026-03-01, kept past 90 days
    "US-COPPA.312-10.retention": (1, 1),
}
# subjects whose only parental consent for the act was not verified (account 6)
UNVERIFIED_PARENT = {"EU-EPRIVACY.art5-3.location": 1}


def write_sql(url: str) -> None:
    engine = sa.create_engine(url)
    S.metadata.drop_all(engine)
    S.metadata.create_all(engine)
    with engine.begin() as conn:
        for table in S.TABLES:
            if ROWS[table.name]:
                conn.execute(table.insert(), ROWS[table.name])
    engine.dispose()


def write_parquet(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for table in S.TABLES:
        types = {c.name: _arrow(c.type) for c in table.columns}
        rows = ROWS[table.name]
        data = {c: pa.array([r[c] for r in rows], type=t) for c, t in types.items()}
        pq.write_table(pa.table(data), folder / f"{table.name}.parquet")


def _arrow(t: sa.types.TypeEngine[Any]) -> pa.DataType:
    return {sa.Integer: pa.int64(), sa.Float: pa.float64(), sa.Date: pa.date32(), sa.DateTime: pa.timestamp("us"),
            sa.Boolean: pa.bool_()}.get(type(t), pa.string())


@contextmanager
def server_database(kind: str) -> Iterator[str]:
    """A fresh database on the local PostgreSQL or MariaDB server, dropped afterwards."""
    name = f"tutela_test_{uuid.uuid4().hex[:10]}"
    admin_url = {"postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                 "mariadb": "mysql+pymysql://root@127.0.0.1:3306/"}[kind]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = (f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}" if kind == "postgresql"
           else f"mysql+pymysql://root@127.0.0.1:3306/{name}")
    try:
        yield url
    finally:
        sa.create_engine(url).dispose()
        with admin.connect() as conn:
            if kind == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()
