"""The loaded rulebook and the questions asked of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from tutela.errors import UnknownKeyError
from tutela.rulebook.models import Adequacy, DigitalConsent, Jurisdiction, Regime, Rule
from tutela.rulebook.suggest import jurisdiction_hint


@dataclass(frozen=True)
class ScopedRule:
    """A rule as it applies in one jurisdiction, with where it came from."""

    rule: Rule
    source: str  # the regime code or the jurisdiction code that defines it


@dataclass(frozen=True)
class Rulebook:
    regimes: Mapping[str, Regime]
    jurisdictions: Mapping[str, Jurisdiction]
    scopes: Mapping[str, str]
    version: str

    def jurisdiction(self, code: str, where: str = "jurisdiction") -> Jurisdiction:
        try:
            return self.jurisdictions[code]
        except KeyError:
            raise UnknownKeyError(
                f"unknown jurisdiction `{code}`",
                where=where,
                hint=jurisdiction_hint(code, self.jurisdictions),
            ) from None

    def rules_for(self, code: str) -> tuple[ScopedRule, ...]:
        """Every rule in force-or-not for `code`: inherited regimes first, then its own."""
        jur = self.jurisdiction(code)
        out = [ScopedRule(r, name) for name in jur.inherits for r in self.regimes[name].rules]
        out += [ScopedRule(r, code) for r in jur.rules]
        return tuple(out)

    def digital_consent(self, code: str, day: dt.date) -> DigitalConsent | None:
        for entry in self.jurisdiction(code).digital_consent:
            if entry.effective_from <= day and (entry.effective_to is None or day < entry.effective_to):
                return entry
        return None

    def transfer_regime(self, code: str) -> Regime | None:
        for name in self.jurisdiction(code).inherits:
            if self.regimes[name].transfers is not None:
                return self.regimes[name]
        return None

    def adequacy(self, regime: Regime, country: str, day: dt.date, certified: bool) -> Adequacy | None:
        assert regime.transfers is not None
        for entry in regime.transfers.adequacy:
            if entry.country == country and entry.adequate(day, certified):
                return entry
        return None

    @cached_property
    def all_rules(self) -> tuple[ScopedRule, ...]:
        out = [ScopedRule(r, code) for code, reg in self.regimes.items() for r in reg.rules]
        out += [ScopedRule(r, code) for code, j in self.jurisdictions.items() for r in j.rules]
        return tuple(out)

    @cached_property
    def rule_index(self) -> Mapping[str, ScopedRule]:
        return {s.rule.id: s for s in self.all_rules}

    @cached_property
    def consent_index(self) -> Mapping[str, tuple[str, DigitalConsent]]:
        return {d.id: (code, d) for code, j in self.jurisdictions.items() for d in j.digital_consent}

    @cached_property
    def boundaries(self) -> tuple[dt.date, ...]:
        """Every date on which something in the rulebook starts or stops applying."""
        days: set[dt.date] = set()
        for s in self.all_rules:
            days.add(s.rule.effective_from)
            if s.rule.effective_to:
                days.add(s.rule.effective_to)
        for _, d in self.consent_index.values():
            days.add(d.effective_from)
            if d.effective_to:
                days.add(d.effective_to)
        for reg in self.regimes.values():
            for a in reg.transfers.adequacy if reg.transfers else ():
                days.add(a.effective_from)
                if a.effective_to:
                    days.add(a.effective_to)
        return tuple(sorted(days))
