"""Consent events into the ledger, through an outbox in the consent store.

Each grant row carries two flags: its grant and its revocation written to the ledger. After
every change the desk flushes: in one state-store transaction it claims the rows not yet
written (a conditional update, so two desks flushing at once never both write a row), appends a
`consent_event` per claim, and commits. The ledger is written before the state store commits:
if the ledger fails, the claims roll back and the next flush writes them; if the commit fails
after the ledger took the entries, the next flush writes them again. Every event reaches the
ledger at least once, none is lost; a rare duplicate carries the same grant id, so a reader can
tell. Subjects appear in the ledger only as keyed pseudonyms (the recorder's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tutela.consent import tables as t

if TYPE_CHECKING:
    from tutela.consent.desk import ConsentDesk

_BY = {"parent": "parent", "self": "self"}


def _body(row: Any, action: str) -> dict[str, Any]:
    expires = row["expires_at"]
    return {"scope": row["scope"], "action": action, "granted_by": _BY.get(row["by"], "guardian"),
            "method": row["method"], "assurance": row["assurance"], "grant_id": row["grant_id"],
            "notice_version": row["notice_version"], "expires": expires.date().isoformat() if expires else None}


def flush(desk: ConsentDesk) -> int:
    """Write the grants and revocations not yet in the ledger; how many entries were written."""
    rec = desk.recorder
    if rec is None:
        return 0
    g = t.grants
    written = 0
    with desk.state.tx() as c:
        pending = c.execute(sa.select(g).where(~g.c.ledgered_grant | (g.c.revoked_at.is_not(None)
                                                                      & ~g.c.ledgered_revoke))
                            .order_by(g.c.granted_at, g.c.grant_id)).mappings().all()
        for row in pending:
            for action, flag, due in (("grant", g.c.ledgered_grant, not row["ledgered_grant"]),
                                      ("revoke", g.c.ledgered_revoke,
                                       row["revoked_at"] is not None and not row["ledgered_revoke"])):
                if not due:
                    continue
                claimed = c.execute(g.update().where((g.c.grant_id == row["grant_id"]) & ~flag).values({flag: True}))
                if claimed.rowcount == 1:
                    rec.append("consent_event", {"subject": rec.subject(row["subject"]), **_body(row, action)})
                    written += 1
    return written
