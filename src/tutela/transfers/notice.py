"""The countries reached, as a privacy notice must name them (GDPR Art. 13(1)(f)).

Art. 13(1)(f) asks the controller to tell the data subject that it intends to transfer personal
data to a third country, whether an adequacy decision exists, and for Art. 46/47 transfers which
safeguards apply. The DPC's 2025 TikTok decision fined a privacy policy that did not name the
country staff accessed the data from (EUR 45m), so remote staff locations are listed too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tutela.rulebook import Rulebook
from tutela.rulebook.models import Regime
from tutela.transfers.gate import TransferCheck, check_under, cite
from tutela.transfers.registry import Registry, gate_law


@dataclass(frozen=True)
class CountryReached:
    country: str
    recipients: tuple[TransferCheck, ...]

    def to_dict(self) -> dict[str, Any]:
        safeguards = sorted({_safeguard(c) for c in self.recipients if c.mechanism in ("scc", "bcr", "dpf")})
        adequacy = next((c.citations[0] for c in self.recipients if c.mechanism in ("adequacy", "dpf")), None)
        return {
            "country": self.country,
            "adequacy_decision": adequacy,
            "safeguards": safeguards,
            "recipients": [{"id": c.recipient.id, "name": c.recipient.name, "kind": c.recipient.kind,
                            "mechanism": c.mechanism, "effect": c.effect} for c in self.recipients],
            "remote_access": any(c.recipient.kind == "remote_staff" for c in self.recipients),
            "lawful": all(c.allowed for c in self.recipients),
        }


def _safeguard(c: TransferCheck) -> str:
    r = c.recipient
    if c.mechanism == "scc":
        return f"standard contractual clauses (module {r.scc_module})"
    if c.mechanism == "bcr":
        return "binding corporate rules"
    return "EU-US Data Privacy Framework certification"


@dataclass(frozen=True)
class Notice:
    regime: str
    on: dt.date
    countries: tuple[CountryReached, ...]
    citation: dict[str, Any] | None

    @property
    def codes(self) -> list[str]:
        return [c.country for c in self.countries]

    def to_dict(self) -> dict[str, Any]:
        return {"regime": self.regime, "on": self.on.isoformat(), "countries": [c.to_dict() for c in self.countries],
                "citation": self.citation}


def notice_countries(book: Rulebook, registry: Registry, regime: Regime, on: dt.date) -> Notice:
    """Every third country a recipient of the registry receives or reaches the data in, under
    `regime` on `on`, with its adequacy decision or safeguards (children's data: the strict reading)."""
    checks = [check_under(book, regime, r, on, children=True, review_days=registry.tia_review_days)
              for r in registry]
    by_country: dict[str, list[TransferCheck]] = {}
    for c in checks:
        if c.transfer:
            by_country.setdefault(c.recipient.country, []).append(c)
    law = gate_law().regimes.get(regime.code)
    return Notice(regime.code, on, tuple(CountryReached(k, tuple(v)) for k, v in sorted(by_country.items())),
                  cite(law.notice) if law else None)
