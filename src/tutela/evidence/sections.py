"""The pack's sections read from Tutela's stores: rights requests, erasure receipts, the ledger.

Each section says which store it read (`searched`, URLs without passwords) and which it did not
(`not_searched`, with the reason). Subjects appear as keyed pseudonyms (TUTELA_LEDGER_PSEUDONYM_KEY)
or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from tutela.connectors.urls import redact
from tutela.errors import InputError
from tutela.ledger import Ledger, trusted_keys
from tutela.ledger.config import environment
from tutela.rights import load_deadlines
from tutela.rights.lifecycle import RequestStore, rights_requests
from tutela.store import StateStore

Period = tuple[dt.date, dt.date]


def pseudonymiser() -> Callable[[str], str] | None:
    key = environment().pseudonym_key
    return (lambda sid: Ledger.pseudonym(sid, key.encode())) if key else None


def _in(day: dt.date, period: Period) -> bool:
    return period[0] <= day <= period[1]


def deadline_status(v: dict[str, Any], today: dt.date) -> str:
    """met | missed | open | rejected | no_fixed_period, for one request's view."""
    if v["status"] == "rejected":
        return "rejected"
    if v["status"] == "done":
        if v["due"] is None:
            return "no_fixed_period"
        return "missed" if v["answered_late"] else "met"
    if v["overdue"]:
        return "missed"
    return "open" if v["due"] is not None else "no_fixed_period"


def rights_log(state: StateStore, period: Period, today: dt.date) -> dict[str, Any]:
    """Every rights request received in the period with its deadline and whether it was met."""
    store = RequestStore(state, load_deadlines())
    t = rights_requests
    q = sa.select(t).where(t.c.received >= period[0], t.c.received <= period[1]).order_by(t.c.received,
                                                                                          t.c.request_id)
    with state.engine.connect() as c:
        rows = [dict(r) for r in c.execute(q).mappings()]
    ps = pseudonymiser()
    out = []
    for r in rows:
        v = store.view(r, today)
        out.append({"id": v["id"], "kind": v["kind"], "subject": ps(v["subject"]) if ps else None,
                    "jurisdiction": v["jurisdiction"], "received": v["received"], "due": v["due"],
                    "extended": v["extended"], "status": v["status"], "completed_at": v["completed_at"],
                    "deadline": deadline_status(v, today), "deadline_basis": v["deadline"],
                    "complete": not v["partial"] if v["status"] == "done" else None})
    return {"searched": [f"state store {redact(state.url)}"], "requests": out,
            "counts": dict(sorted(Counter(r["deadline"] for r in out).items())),
            "subjects": "keyed pseudonyms" if ps else "withheld (TUTELA_LEDGER_PSEUDONYM_KEY is not set)"}


def erasure_receipts(state: StateStore, period: Period) -> dict[str, Any]:
    """Receipts of remediation jobs and erasure requests written in the period, and whether the
    state store's receipt chain still holds."""
    checked, bad = state.verify_receipts()
    ps = pseudonymiser()
    out = []
    for r in state.receipts():
        body = json.loads(r["body"])
        at = str(body.get("at", ""))[:10]
        if not at or not _in(dt.date.fromisoformat(at), period):
            continue
        changes = body.get("changes", body.get("read", []))
        out.append({"job": r["job_id"], "kind": body.get("kind", "remediation"), "at": body.get("at"),
                    "subject": ps(str(r["subject"])) if ps else None, "attempt": r["attempt"],
                    "digest": r["digest"],
                    "changes": [{k: c.get(k) for k in ("store", "collection", "action", "rows")} for c in changes]})
    return {"searched": [f"state store {redact(state.url)}"], "receipts": out,
            "chain": {"receipts_checked": checked, "ok": not bad, "bad_seq": bad[:20]}}


def ledger_section(url: str | None, period: Period) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ledger section, consent events from the ledger); the ledger verified end to end."""
    if url is None:
        why = "no ledger configured (TUTELA_LEDGER_URL) and none at $TUTELA_HOME/ledger.db"
        return {"searched": [], "not_searched": [why]}, {"ledger": f"not searched: {why}"}
    try:
        ledger = Ledger(url, create=False)
    except InputError as exc:  # configured, but there is no ledger there yet
        why = f"no ledger at {redact(url)} ({exc.message})"
        return {"searched": [], "not_searched": [why]}, {"ledger": f"not searched: {why}"}
    with ledger:
        signed = None
        head = ledger.store.last_seq()
        if ledger.signing_key is not None and head and max((c.seq for c in ledger.checkpoints()), default=0) < head:
            signed = ledger.checkpoint().to_dict()  # sign before export: the pack keeps the head outside the database
        report = ledger.verify(trusted_keys())
        kinds: Counter[str] = Counter()
        consent: Counter[tuple[str, str, str, str]] = Counter()
        versions = []
        for e in ledger.entries():
            if not _in(dt.date.fromisoformat(e["time"][:10]), period):
                continue
            kinds[e["kind"]] += 1
            b = e["body"]
            if e["kind"] == "consent_event":
                consent[(b["action"], b["scope"], b["granted_by"], b["assurance"])] += 1
            elif e["kind"] == "rulebook_version":
                versions.append({"seq": e["seq"], "time": e["time"], "version": b["version"],
                                 "previous": b["previous"], "digest": b["digest"]})
        checkpoints = [c.to_dict() for c in ledger.checkpoints()]
        where = ledger.store.safe_url
    section = {"searched": [f"ledger {where}"], "verification": report.to_dict(), "checkpoints": checkpoints,
               "signed_for_this_pack": signed,
               "entries_in_period": dict(sorted(kinds.items())), "rulebook_versions": versions}
    events = [{"action": a, "scope": s, "granted_by": g, "assurance": lv, "events": n}
              for (a, s, g, lv), n in sorted(consent.items())]
    return section, {"ledger_consent_events": events, "ledger_consent_total": sum(consent.values())}
