"""The ledger's callers in one place: what each part of Tutela writes, as ledger bodies.

    recorder = Recorder.from_env(rulebook)        # None when TUTELA_LEDGER_URL is not set
    recorder.decision(request, decision)          # a deny or a consent-based allow (API)
    recorder.stream_batch(counts, version)        # one aggregate per stream batch
    recorder.rights_request(view) / rights_decision(...) / rights_fulfilment(...)
    recorder.receipts(job_id, receipts)           # erasure receipts (remediation, rights erasure)

Subjects are written only as keyed pseudonyms (`Ledger.pseudonym`, TUTELA_LEDGER_PSEUDONYM_KEY):
a recorder refuses to start without that key. A ledger that stops answering is
StoreUnavailable (503 / exit 4): the caller's work is not reported done unrecorded.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from tutela import settings
from tutela.errors import InputError, StoreUnavailable
from tutela.ledger.config import environment
from tutela.ledger.core import Ledger
from tutela.ledger.kinds import REF_PATTERN

if TYPE_CHECKING:
    from tutela.policy.batch import BatchResult
    from tutela.policy.model import Decision, DecisionRequest
    from tutela.rulebook import Rulebook

Counts = Mapping[tuple[str, str, str], int]  # (action, field, reason) -> events, as the stream guard counts


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the ledger database did not answer; nothing was recorded",
                               where="TUTELA_LEDGER_URL", hint=type(exc).__name__) from None


def rulebook_digest(book: Rulebook) -> tuple[str, int]:
    """SHA-256 over every rule and consent age of the rulebook (canonical JSON), and its rule count."""
    data = {"regimes": {c: r.model_dump(mode="json") for c, r in sorted(book.regimes.items())},
            "jurisdictions": {c: j.model_dump(mode="json") for c, j in sorted(book.jurisdictions.items())}}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest(), len(book.all_rules)


class Recorder:
    """Writes Tutela's acts into one ledger; thread-safe (the API calls it from its thread pool)."""

    def __init__(self, ledger: Ledger, rulebook: Rulebook, pseudonym_key: bytes):
        Ledger.pseudonym("check", pseudonym_key)  # a short key fails here, before anything is written
        self.ledger, self.book, self._key = ledger, rulebook, pseudonym_key
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, rulebook: Rulebook, url: str | None = None) -> Recorder | None:
        """A recorder on `url` or TUTELA_LEDGER_URL; None when neither is set (nothing is recorded)."""
        url = url or settings.text("TUTELA_LEDGER_URL") or None
        if url is None:
            return None
        key = environment().pseudonym_key
        if not key:
            raise InputError("a ledger is configured but no pseudonym key: subjects cannot be written",
                             where="TUTELA_LEDGER_PSEUDONYM_KEY",
                             hint="set it to at least 16 random bytes, kept apart from the ledger")
        every = settings.positive_int("TUTELA_LEDGER_CHECKPOINT_EVERY", 1000) if environment().key else None
        with _reachable():
            return cls(Ledger(url, checkpoint_every=every), rulebook, key.encode())

    def close(self) -> None:
        self.ledger.close()

    def check(self) -> None:
        """StoreUnavailable unless the ledger answers now: callers ask before they change their own
        state, so a ledger that is down stops the act instead of leaving it unrecorded."""
        with _reachable():
            self.ledger.store.last_seq()

    def subject(self, subject_id: str | int) -> str:
        return Ledger.pseudonym(str(subject_id), self._key)

    def staff(self, name: str) -> str:
        """A staff name as it is, unless it is not a plain reference (an e-mail address): then its pseudonym."""
        return name if re.match(REF_PATTERN, name) else self.subject(name)

    def append(self, kind: str, body: Mapping[str, Any]) -> int:
        with self._lock, _reachable():
            return self.ledger.append(kind, body)[0]

    def append_many(self, kind: str, bodies: Sequence[Mapping[str, Any]]) -> int:
        if not bodies:
            return 0
        with self._lock, _reachable():
            self.ledger.append_many(kind, bodies)
        return len(bodies)

    # -- the rulebook ------------------------------------------------------------------------
    def rulebook_version(self) -> bool:
        """Record the rulebook's version when it differs from the last one recorded (checked and
        written under the writers' lock, so two engines starting together write it once); True if written."""
        digest, rules = rulebook_digest(self.book)
        version = self.book.version

        def make(last: dict[str, Any] | None) -> dict[str, Any] | None:
            previous = last["version"] if last else None
            return None if previous == version else {"version": version, "previous": previous, "digest": digest,
                                                     "rules": rules}

        with self._lock, _reachable():
            return self.ledger.append_after_last("rulebook_version", make) is not None

    # -- decisions ---------------------------------------------------------------------------
    def basis(self, decision: Decision) -> str:
        """`consent` when a determining permit needs a consent (or an age of digital consent decided), else `other`."""
        for d in decision.determining:
            if d.kind == "digital_consent":
                return "consent"
            scoped = self.book.rule_index.get(d.id)
            if d.kind == "permit" and scoped is not None and scoped.rule.requires is not None \
                    and scoped.rule.requires.consent is not None:
                return "consent"
        return "other"

    def decisions(self, requests: Sequence[DecisionRequest], decisions: Sequence[Decision],
                  subjects: Sequence[str | None] = ()) -> int:
        """One `decision` entry (source api) per deny and per consent-based allow, in one transaction;
        `subjects`: the callers' subject ids where given (written as pseudonyms)."""
        bodies = []
        for i, (req, dec) in enumerate(zip(requests, decisions, strict=True)):
            basis = self.basis(dec)
            if dec.effect != "deny" and basis != "consent":
                continue
            sid = subjects[i] if i < len(subjects) else None
            bodies.append({"source": "api", "rulebook_version": dec.rulebook_version, "effect": dec.effect,
                           "subject": self.subject(sid) if sid else None,
                           "jurisdiction": req.subject.jurisdiction, "category": req.act.category,
                           "use": req.act.use, "basis": basis,
                           "rules": " ".join(d.id for d in dec.determining) or None})
        return self.append_many("decision", bodies)

    def api_decisions(self, requests: Sequence[Any], decisions: Sequence[Decision] | BatchResult) -> int:
        """The API's decisions: JSON requests one entry each (`decisions`); an Arrow batch one aggregate."""
        from tutela.policy.parse import parse_request

        if isinstance(decisions, Sequence):
            return self.decisions([parse_request(r) if isinstance(r, dict) else r for r in requests], decisions)
        eff = decisions.effects()
        return self.batch("api", uuid.uuid4().hex[:16], len(eff), len(eff) - eff.count("deny"), eff.count("deny"),
                          eff.count("allow_with_obligations"))

    def batch(self, source: str, batch_id: str, total: int, allow: int, deny: int, obligations: int) -> int:
        return self.append("decision", {"source": source, "rulebook_version": self.book.version,
                                        "batch_id": batch_id, "total": total, "allow": allow, "deny": deny,
                                        "obligations": obligations})

    def stream_batch(self, counts: Counts, batch_id: str) -> int:
        """One aggregate per guarded stream batch: events in, kept, dropped, obligations applied."""
        kept = sum(n for (a, f, _r), n in counts.items() if a == "keep" and f == "event")
        dropped = sum(n for (a, f, _r), n in counts.items() if a == "drop" and f == "event")
        applied = sum(n for (a, _f, _r), n in counts.items() if a == "obligation")
        return self.batch("stream", batch_id, kept + dropped, kept, dropped, applied)

    # -- rights requests ---------------------------------------------------------------------
    def rights_request(self, view: Mapping[str, Any]) -> int:
        return self.append("rights_request", {
            "request_id": view["id"], "subject": self.subject(view["subject"]), "type": view["kind"],
            "jurisdiction": view["jurisdiction"], "deadline": view["due"] or view["received"],
            "created_by": self.staff(view["created_by"])})

    def rights_decision(self, view: Mapping[str, Any], decision: str, by: str, reason: str | None = None) -> int:
        """`approved`, `rejected` or `extended`; the reason is written as a word (`reason_given`), the
        text itself stays in the state store (free text never enters the ledger)."""
        return self.append("rights_approval", {
            "request_id": view["id"], "decision": decision, "by": self.staff(by),
            "reason": "reason_given" if reason else None,
            "deadline": view["due"] if decision == "extended" else None})

    def rights_fulfilment(self, view: Mapping[str, Any], result: Mapping[str, Any]) -> int:
        not_searched = [s["store"] for s in result.get("stores") or () if not s.get("searched")]
        digest = (result.get("receipt") or {}).get("digest")
        return self.append("rights_fulfilment", {
            "request_id": view["id"], "type": view["kind"], "rows": int(result.get("rows") or 0),
            "complete": bool(result.get("complete")), "not_searched": " ".join(not_searched) or None,
            "receipt": digest})

    # -- receipts ----------------------------------------------------------------------------
    def receipts(self, job_id: str, receipts: Sequence[Mapping[str, Any]]) -> int:
        """Erasure receipts from the state store's receipt chain (rows `{subject, body, digest}`):
        one entry per subject and changed collection, carrying the state-store receipt's digest."""
        bodies = []
        for r in receipts:
            body = json.loads(r["body"]) if isinstance(r["body"], str) else r["body"]
            for change in body.get("changes", ()):
                bodies.append({"job_id": job_id, "subject": self.subject(r["subject"]),
                               "store": change["store"], "collection": change["collection"],
                               "rows": int(change.get("rows", 0)), "fields": None, "receipt": r["digest"]})
        return self.append_many("erasure_receipt", bodies)

    def remediation(self, job_id: str, steps: Sequence[Mapping[str, Any]], dry_run: bool) -> int:
        """One entry per step and rule: `{store, collection, action, rows, rules}` as a job reports them."""
        bodies = [{"job_id": job_id, "rule_id": rule, "store": s["store"], "collection": s["collection"],
                   "action": s["action"], "rows": int(s["rows"]), "dry_run": dry_run, "receipt": None}
                  for s in steps for rule in s.get("rules") or ("unattributed",)]
        return self.append_many("remediation_receipt", bodies)

    # -- age assurance -----------------------------------------------------------------------
    def age(self, subject: str | None, method: str, result: str, band: str | None, assurance: str,
            jurisdiction: str | None = None) -> int:
        return self.append("age_assurance", {
            "subject": self.subject(subject) if subject else "unidentified", "method": method, "result": result,
            "age_band": band, "assurance": assurance, "jurisdiction": jurisdiction})
