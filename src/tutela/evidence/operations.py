"""What an operator asks of a running Tutela: is it ready, and how far along is its work.

    readiness()   [(check, ok, detail)]: the state store answers, the rulebook is loaded, the
                  ledger answers (only when TUTELA_LEDGER_URL is set)
    snapshot()    remediation jobs' progress and open rights requests by deadline bucket, read
                  from the state store when there is one (never created to be read)

Nothing here returns an identifier of a person: job ids, statuses and counts only.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from tutela import settings
from tutela.errors import TutelaError
from tutela.ledger import Ledger
from tutela.rights import load_deadlines
from tutela.rights.lifecycle import OPEN, RequestStore, rights_requests
from tutela.rulebook import Rulebook
from tutela.store import StateStore

BUCKETS = ("overdue", "due_within_3_days", "due_later", "no_fixed_period")
_open: dict[str, StateStore] = {}  # one store per URL for the process: opening one runs the migrations check
_lock = threading.Lock()


def _state(create: bool) -> StateStore | None:
    """The state store, opened once per URL and kept (probes and scrapes come every few seconds)."""
    url = settings.state_url() or f"sqlite:///{settings.home() / 'state.db'}"
    with _lock:
        if url not in _open:
            store = StateStore() if create else StateStore.existing()
            if store is None:
                return None
            _open[url] = store
        return _open[url]


def readiness(book: Rulebook | None) -> list[tuple[str, bool, str]]:
    out: list[tuple[str, bool, str]] = []
    out.append(("rulebook", book is not None and bool(book.jurisdictions),
                f"version {book.version}" if book is not None else "not loaded"))
    try:
        state = _state(create=True)
        assert state is not None
        with state.engine.connect() as c:
            c.execute(sa.select(sa.literal(1)))
        out.append(("state_store", True, "answers"))
    except (TutelaError, SQLAlchemyError) as exc:
        out.append(("state_store", False, f"does not answer ({type(exc).__name__})"))
    if settings.text("TUTELA_LEDGER_URL"):
        try:
            with Ledger(create=False) as ledger:
                seq = ledger.store.last_seq()
            out.append(("ledger", True, f"answers, head seq {seq}"))
        except (TutelaError, SQLAlchemyError) as exc:
            out.append(("ledger", False, f"does not answer ({type(exc).__name__})"))
    return out


def bucket(view: dict[str, Any], today: dt.date) -> str:
    if view["due"] is None:
        return "no_fixed_period"
    due = dt.date.fromisoformat(view["due"])
    if due < today:
        return "overdue"
    return "due_within_3_days" if (due - today).days <= 3 else "due_later"


def snapshot(today: dt.date | None = None) -> dict[str, Any]:
    """{"jobs": [{job, status, planned, done}], "requests": {bucket: open requests}} (empty without a state store)."""
    day = today or dt.datetime.now(dt.UTC).date()
    state = _state(create=False)
    if state is None:
        return {"jobs": [], "requests": dict.fromkeys(BUCKETS, 0)}
    jobs = []
    for j in state.jobs(limit=50):
        steps = (j["spec"].get("summary") or {}).get("steps", [])
        jobs.append({"job": j["job_id"], "status": j["status"], "planned": sum(int(s["rows"]) for s in steps),
                     "done": sum(state.done_batches(j["job_id"]).values())})
    store = RequestStore(state, load_deadlines())
    with state.engine.connect() as c:
        rows = [dict(r) for r in c.execute(sa.select(rights_requests)
                                           .where(rights_requests.c.status.in_(OPEN))).mappings()]
    counts = dict.fromkeys(BUCKETS, 0)
    for r in rows:
        counts[bucket(store.view(r, day), day)] += 1
    return {"jobs": jobs, "requests": counts}
