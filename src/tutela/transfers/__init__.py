"""Cross-border transfers: the recipient registry, the transfer gate and the notice's country list.

    gate = engine.transfers(registry=Path("recipients.yml"))   # or estate=URL, or TUTELA_TRANSFER_REGISTRY
    gate.check("bengaluru-ts", subject={"jurisdiction": "NL", "age": 12}, on=day)   # TransferCheck
    gate.status(on=day)                                          # every recipient under a regime
    gate.notice(on=day)                                          # GDPR Art. 13(1)(f) countries

The audit reads an estate's processors through `registry_from_processors` and `Registry.audit_facts`;
the stream guard's gate (`tutela.guard.stream_transfers`) calls `check_under`. See docs/guard.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tutela.errors import InputError
from tutela.rulebook import Rulebook
from tutela.rulebook.models import Regime
from tutela.transfers.gate import Dataset, DatasetCheck, Subject, TransferCheck, check, check_under
from tutela.transfers.models import Recipient
from tutela.transfers.notice import Notice, notice_countries
from tutela.transfers.registry import Registry, load_registry, registry_from_processors
from tutela.transfers.sources import open_registry

__all__ = ["Dataset", "DatasetCheck", "Notice", "Recipient", "Registry", "Subject", "TransferCheck", "TransferGate",
           "check", "check_under", "load_registry", "notice_countries", "open_registry", "registry_from_processors"]

DEFAULT_REGIME = "EU-GDPR"


def _subject(raw: Any, where: str) -> Subject:
    if not isinstance(raw, dict):
        raise InputError("`subject` must be an object with `jurisdiction` and, optionally, `age`", where=where)
    unknown = sorted(set(raw) - {"jurisdiction", "age"})
    if unknown:
        raise InputError(f"unknown field `{unknown[0]}`", where=f"{where}.{unknown[0]}")
    jur, age = raw.get("jurisdiction"), raw.get("age")
    if not isinstance(jur, str) or not jur:
        raise InputError("`jurisdiction` is required (a rulebook code such as `NL`)", where=f"{where}.jurisdiction")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 130):
        raise InputError(f"`age` must be a whole number 0-130, not `{age}`", where=f"{where}.age")
    return Subject(jur, age)


def _dataset(raw: Any, where: str) -> Dataset:
    if not isinstance(raw, dict):
        raise InputError("`dataset` must be an object with `name` and `jurisdictions`", where=where)
    unknown = sorted(set(raw) - {"name", "jurisdictions", "children"})
    if unknown:
        raise InputError(f"unknown field `{unknown[0]}`", where=f"{where}.{unknown[0]}")
    name, jurs, children = raw.get("name"), raw.get("jurisdictions"), raw.get("children", True)
    if not isinstance(name, str) or not name:
        raise InputError("`name` is required", where=f"{where}.name")
    if not isinstance(jurs, list) or not jurs or not all(isinstance(j, str) for j in jurs):
        raise InputError("`jurisdictions` must be a non-empty list of rulebook codes", where=f"{where}.jurisdictions")
    if not isinstance(children, bool):
        raise InputError("`children` must be true or false", where=f"{where}.children")
    return Dataset(name, tuple(jurs), children)


class TransferGate:
    """The gate over one registry and the engine's rulebook (what `Engine.transfers` returns)."""

    def __init__(self, book: Rulebook, registry: Registry):
        self.book, self.registry = book, registry

    def check(self, recipient: str, subject: Subject | dict[str, Any] | None = None,
              dataset: Dataset | dict[str, Any] | None = None,
              on: dt.date | None = None) -> TransferCheck | DatasetCheck:
        """Allow or deny `recipient` for a subject or a dataset (exactly one), on `on` (default today, UTC)."""
        if (subject is None) == (dataset is None):
            raise InputError("give a subject or a dataset (exactly one)", where="subject")
        day = on or dt.datetime.now(dt.UTC).date()
        who: Subject | Dataset
        if subject is not None:
            who = subject if isinstance(subject, Subject) else _subject(subject, "subject")
        else:
            who = dataset if isinstance(dataset, Dataset) else _dataset(dataset, "dataset")
        return check(self.book, self.registry, recipient, who, day)

    def regime(self, regime: str | None = None, jurisdiction: str | None = None) -> Regime:
        """A transfer regime by code, or the one a jurisdiction's data is under (default EU-GDPR)."""
        if jurisdiction is not None:
            found = self.book.transfer_regime(self.book.jurisdiction(jurisdiction, where="subject-jurisdiction").code)
            if found is None:
                raise InputError(f"`{jurisdiction}` has no cross-border transfer regime in the rulebook",
                                 where="subject-jurisdiction", hint="use an EU/EEA or UK jurisdiction, or --regime")
            return found
        code = regime or DEFAULT_REGIME
        reg = self.book.regimes.get(code)
        if reg is None or reg.transfers is None:
            choices = sorted(c for c, r in self.book.regimes.items() if r.transfers is not None)
            raise InputError(f"`{code}` is not a transfer regime of the rulebook", where="regime",
                             hint="one of " + ", ".join(choices))
        return reg

    def status(self, on: dt.date | None = None, regime: str | None = None,
               jurisdiction: str | None = None) -> list[TransferCheck]:
        """Every recipient's check under the regime, for children's data (the strict reading)."""
        day = on or dt.datetime.now(dt.UTC).date()
        reg = self.regime(regime, jurisdiction)
        return [check_under(self.book, reg, r, day, children=True, review_days=self.registry.tia_review_days)
                for r in self.registry]

    def notice(self, on: dt.date | None = None, regime: str | None = None, jurisdiction: str | None = None) -> Notice:
        """The third countries reached, for the privacy notice (GDPR Art. 13(1)(f))."""
        day = on or dt.datetime.now(dt.UTC).date()
        return notice_countries(self.book, self.registry, self.regime(regime, jurisdiction), day)
