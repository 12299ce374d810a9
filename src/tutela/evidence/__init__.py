"""Evidence packs: what Tutela did over a period, in one zip that shows tampering (docs/evidence.md).

    ev = engine.evidence
    data = ev.build(since, until, estate="sqlite:///estate.db", cohort=(d1, d2))   # zip bytes
    ev.verify(Path("pack.zip")).ok

Modules: `ropa` (the record of processing activities from the data map), `cohort` (findings
before and after remediation for accounts created between two dates), `sections` (rights
requests, erasure receipts, the ledger), `pack` (zip, manifest, signature, verify), `html`
(the offline summary).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tutela import settings
from tutela.connectors.urls import redact
from tutela.datamap import load_datamap
from tutela.errors import InputError
from tutela.evidence import pack as zipped
from tutela.evidence import sections
from tutela.evidence.cohort import cohort_findings
from tutela.evidence.html import render
from tutela.evidence.pack import Verdict
from tutela.evidence.ropa import record
from tutela.ledger.checkpoint import key_id, private_key
from tutela.ledger.config import environment
from tutela.policy import CompiledPolicy
from tutela.query import EstateSource
from tutela.rulebook import Rulebook
from tutela.rulebook.diff import diff
from tutela.store import StateStore
from tutela.taxonomy import Taxonomy

__all__ = ["Evidence", "Verdict"]


def _check_period(since: dt.date, until: dt.date) -> None:
    if since > until:
        raise InputError(f"the period ends ({until}) before it starts ({since})", where="--until",
                         hint="give --since on or before --until (YYYY-MM-DD)")


@dataclass
class Evidence:
    rulebook: Rulebook
    taxonomy: Taxonomy
    compiled: Callable[[], CompiledPolicy]

    def build(self, since: dt.date, until: dt.date, estate: str | None = None, datamap: Path | None = None,
              cohort: tuple[dt.date, dt.date] | None = None, today: dt.date | None = None) -> bytes:
        """The pack for [since, until] as zip bytes. `estate`: the estate the data map describes (its
        processors, consents and the cohort's findings are read there); `cohort`: accounts created between."""
        _check_period(since, until)
        if cohort is not None:
            _check_period(*cohort)
        day = today or dt.datetime.now(dt.UTC).date()
        period = (since, until)
        not_searched: list[str] = []
        dm = load_datamap(datamap)
        state = StateStore.existing()
        if state is None:
            not_searched.append("state store: none exists (TUTELA_STATE / $TUTELA_HOME/state.db): rights requests "
                                "and erasure receipts were not searched")
        try:
            parts = self._parts(dm, estate, state, period, day, cohort, not_searched)
        finally:
            if state is not None:
                state.close()
        key_text = environment().key
        key = private_key(key_text) if key_text else None
        built = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        summary = {"period": {"since": since.isoformat(), "until": until.isoformat()}, "built_at": built,
                   "not_searched": not_searched, "signed": key is not None,
                   "key_id": key_id(key.public_key()) if key else None, **parts}
        files = {f"{name}.json": json.dumps(value, indent=1, sort_keys=True, default=str).encode()
                 for name, value in parts.items()}
        files["index.html"] = render(summary).encode()
        meta = {"period": summary["period"], "built_at": built, "rulebook_version": self.rulebook.version,
                "not_searched": not_searched}
        return zipped.write_zip(files, meta, key)

    def _parts(self, dm: Any, estate: str | None, state: StateStore | None, period: sections.Period,
               day: dt.date, cohort: tuple[dt.date, dt.date] | None, not_searched: list[str]) -> dict[str, Any]:
        no_estate = "estate: not given (--estate URL)"
        processors, consents = None, None
        if estate is not None and dm.tutela is not None:
            source = EstateSource.open(estate)
            try:
                if dm.tutela.transfers is not None:
                    p = dm.tutela.transfers.processors
                    processors = source.read(p.collection, [p.key, p.kind, p.country, p.certified, p.scc, p.tia])
                if dm.tutela.consents is not None:
                    c = dm.tutela.consents
                    consents = source.read(c.collection, [c.by, c.assurance, c.granted_at])
            finally:
                source.close()
        elif estate is None:
            not_searched.append(no_estate + ": processors, consent records and the cohort's findings")
        ropa = record(dm, self.taxonomy, processors, "no estate given")
        rulebook = {"version": self.rulebook.version, "since": period[0].isoformat(), "until": period[1].isoformat(),
                    # diff() covers (start, end]: from the day before, so a change on `since` itself is in
                    "changes": [c.to_dict() for c in diff(self.rulebook, period[0] - dt.timedelta(days=1), period[1])]}
        if cohort is None:
            findings: dict[str, Any] = {"not_searched": ["no cohort given (--cohort-created-from/-until)"]}
        elif estate is None:
            findings = {"not_searched": [no_estate]}
        else:
            findings = cohort_findings(self.compiled(), self.rulebook, dm, estate, state, day, *cohort)
        default = settings.home() / "ledger.db"  # where `tutela ledger append` writes without a URL
        ledger_url = settings.text("TUTELA_LEDGER_URL") or (f"sqlite:///{default}" if default.is_file() else None)
        ledger, consent = sections.ledger_section(ledger_url, period)
        if ledger.get("not_searched"):
            not_searched.append("ledger: " + ledger["not_searched"][0])
        consent = {**consent, **self._consent(consents, dm, period, not_searched, state)}
        if state is None:
            gone = ["no state store"]
            rights: dict[str, Any] = {"not_searched": gone}
            receipts: dict[str, Any] = {"not_searched": gone}
        else:
            rights = sections.rights_log(state, period, day)
            receipts = sections.erasure_receipts(state, period)
        return {"ropa": ropa, "rulebook": rulebook, "findings": findings, "consent": consent, "rights": rights,
                "receipts": receipts, "ledger": ledger,
                "stores": {"estate": redact(estate) if estate else None, "datamap": dm.source,
                           "state": redact(state.url) if state else None,
                           "ledger": redact(ledger_url) if ledger_url else None}}

    @staticmethod
    def _consent(table: Any, dm: Any, period: sections.Period, not_searched: list[str],
                 state: StateStore | None = None) -> dict[str, Any]:
        from tutela.consent.stats import consent_stats

        out: dict[str, Any] = {}
        missing = []
        if state is None:
            missing.append("consent store: no state store, so no consent requests or grants were searched")
        else:
            out["consent_store"] = consent_stats(state, *period)
        if table is not None:
            c = dm.tutela.consents
            counts = Counter((r[c.by], r[c.assurance]) for r in table.to_pylist())
            out["estate_consents"] = [{"by": b, "assurance": a, "records": n} for (b, a), n in sorted(counts.items())]
            out["estate_consents_collection"] = c.collection
        not_searched.extend(missing)
        out["not_searched"] = missing
        return out

    @staticmethod
    def verify(path: Path) -> Verdict:
        """Check every file's hash against the manifest, and its signature (trusted keys: TUTELA_LEDGER_PUBLIC_KEYS)."""
        return zipped.verify(zipped.read_zip(path))

    def readiness(self) -> list[tuple[str, bool, str]]:
        """(check, ok, detail) for the state store, the rulebook and, when configured, the ledger."""
        from tutela.evidence.operations import readiness

        return readiness(self.rulebook)

    @staticmethod
    def snapshot() -> dict[str, Any]:
        """Remediation jobs' progress and open rights requests by deadline bucket (no personal data)."""
        from tutela.evidence.operations import snapshot

        return snapshot()
