"""The minors' accounts the consent store holds, with their age on a day: what the stream
guard's subject-state table is built from (Engine.subject_state)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa

from tutela.consent import tables as t

if TYPE_CHECKING:
    from tutela.consent.desk import ConsentDesk


def roster(desk: ConsentDesk, day: dt.date) -> list[tuple[str, str, int]]:
    """(subject, jurisdiction, age on `day`) of every account, in subject order."""
    with desk.state.engine.connect() as c:
        rows = c.execute(sa.select(t.accounts).order_by(t.accounts.c.subject)).mappings().all()
    return [(str(r["subject"]), str(r["jurisdiction"]), desk._age(r, day)) for r in rows]
