"""The Engine's part for the people behind the data: age assurance and parental consent."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tutela.age import AgeAssurance, AgeRecord
    from tutela.age import Context as AgeContext
    from tutela.connectors.estate import EstateConfig as RightsEstate
    from tutela.consent import ConsentDesk
    from tutela.consent.portal import ParentPortal
    from tutela.engine._core import EngineCore
    from tutela.guard.stream_subjects import StateBuild
    from tutela.rulebook import Rulebook
    from tutela.taxonomy import Taxonomy


class PeopleMixin:
    rulebook: Rulebook
    taxonomy: Taxonomy

    # -- age assurance (docs/age.md) --------------------------------------------------------

    def age_record(self: EngineCore, signal: dict[str, Any], kind: str, context: AgeContext | None = None) -> AgeRecord:
        """One age signal of `kind` (apple, google, ca-daaa, appstore, oidc, mdoc) as a normalised
        record; a bad or unverifiable signal is an InputError naming what (see docs/age.md)."""
        from tutela.age import read_signal

        record = read_signal(signal, kind, context)
        if self.recorder is not None:
            self.recorder.age(record.subject, record.method, "pass", record.band_text(), record.level)
        return record

    def age_threshold(self, jurisdiction: str, day: dt.date | None = None) -> int:
        """The age gate's threshold for `jurisdiction`: its age of digital consent on `day`."""
        from tutela.age.gate import consent_age
        from tutela.policy.compiled import today

        return consent_age(self.rulebook, jurisdiction, day or today())

    def age_required(self, jurisdiction: str, service: str, day: dt.date | None = None) -> str | None:
        """The lowest assurance level an age record needs for `service` in `jurisdiction` (None: no cited rule)."""
        from tutela.age import load_age_requirements
        from tutela.policy.compiled import today

        j = self.rulebook.jurisdiction(jurisdiction)
        return load_age_requirements().required(j.code, service, day or today(), regimes=j.inherits)[0]

    def age_requirements(self, path: Path | None = None) -> AgeAssurance:
        """The age-assurance data (levels each act needs, signal sources), validated."""
        from tutela.age import load_age_requirements

        return load_age_requirements(path)

    # -- verifiable parental consent (docs/consent.md) -------------------------------------

    @cached_property
    def consent(self: EngineCore) -> ConsentDesk:
        """The consent desk on Tutela's state store, writing grants and revocations to the ledger
        when one is set (assign another desk to use a different store)."""
        from tutela.consent import ConsentDesk
        from tutela.store import StateStore

        return ConsentDesk(self.rulebook, StateStore(), recorder=self.recorder)

    def portal(self: EngineCore, estate: RightsEstate | None = None) -> ParentPortal:
        """The parent portal over the consent desk and `estate`'s rights desk (docs/portal.md)."""
        from tutela.consent.portal import ParentPortal

        return ParentPortal(self.consent, (lambda: self.requests(estate)) if estate is not None else None, estate)

    def subject_state(self: EngineCore, day: dt.date | None = None, config: Path | None = None,
                      out: Path | None = None) -> StateBuild:
        """The stream guard's subject-state table from the consent store on `day`: every account,
        its age, and the grants live that day; written whole to `out` when given (docs/consent.md)."""
        from tutela.consent.roster import roster
        from tutela.guard.stream_config import load_config
        from tutela.guard.stream_subjects import SubjectGrants, state_from_grants, write_state
        from tutela.policy.compiled import today

        on = day or today()
        desk = self.consent
        bits = load_config(self.rulebook, self.taxonomy, config).grant_bits

        def holder(jurisdiction: str, age: int) -> str:
            below = desk.consent_age(jurisdiction, on)
            return "parent" if below is not None and age < below else "self"

        build = state_from_grants((SubjectGrants(subject, j, age, holder(j, age), desk.policy_grants(subject))
                                   for subject, j, age in roster(desk, on)), bits, on)
        if out is not None:
            write_state(build.table, out)
        return build

    def consent_stats(self: EngineCore, since: dt.date, until: dt.date) -> dict[str, Any]:
        """Consent requests, grants given and ended, grants live at the end, over [since, until]:
        counts only (tutela.consent.stats; the console's funnel and the evidence pack)."""
        from tutela.consent.stats import consent_stats

        return consent_stats(self.consent.state, since, until)
