"""Consent statistics over a period, from the consent store (the evidence pack's consent section):
sign-ups that asked a parent, how those requests ended, grants given and revoked by scope, method
and who gave them, and the grants live at the period's end. Counts only: no subject, no address."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import sqlalchemy as sa

from tutela.consent import tables as t
from tutela.store import StateStore


def consent_stats(state: StateStore, since: dt.date, until: dt.date) -> dict[str, Any]:
    start = dt.datetime.combine(since, dt.time())
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time())  # until is included
    g, r = t.grants, t.requests
    with state.engine.connect() as c:
        requests = c.execute(sa.select(r.c.status, sa.func.count()).where((r.c.created_at >= start)
                                                                            & (r.c.created_at < end))
                             .group_by(r.c.status)).all()
        given = c.execute(sa.select(g.c.scope, g.c.method, g.c.by, g.c.assurance)
                          .where((g.c.granted_at >= start) & (g.c.granted_at < end))).all()
        revoked = c.execute(sa.select(g.c.scope, g.c.revoked_by).where(
            (g.c.revoked_at >= start) & (g.c.revoked_at < end))).all()
        live = c.execute(sa.select(g.c.scope, sa.func.count()).where(
            (g.c.granted_at < end) & (g.c.revoked_at.is_(None) | (g.c.revoked_at >= end))
            & (g.c.expires_at.is_(None) | (g.c.expires_at >= end))
            & (g.c.renewal_needed_at.is_(None) | (g.c.renewal_needed_at >= end))).group_by(g.c.scope)).all()
    by_status = {str(s): int(n) for s, n in requests}
    granted = Counter((str(s), str(m), str(b), str(a)) for s, m, b, a in given)
    gone = Counter((str(s), "superseded" if by == "superseded" else "revoked") for s, by in revoked)
    return {
        "requests": {"total": sum(by_status.values()), "by_status": dict(sorted(by_status.items()))},
        "funnel": {"asked": sum(by_status.values()), "link_opened": sum(n for s, n in by_status.items()
                                                                       if s in ("link_confirmed", "granted")),
                   "granted": by_status.get("granted", 0)},
        "grants_given": [{"scope": s, "method": m, "by": b, "assurance": a, "grants": n}
                         for (s, m, b, a), n in sorted(granted.items())],
        "grants_ended": [{"scope": s, "how": how, "grants": n} for (s, how), n in sorted(gone.items())],
        "live_at_end": {str(s): int(n) for s, n in sorted(live)},
    }
