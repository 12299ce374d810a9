"""The rulebook: children's-privacy law as validated, cited, effective-dated data."""

from tutela.rulebook.book import Rulebook, ScopedRule
from tutela.rulebook.loader import load_rulebook
from tutela.rulebook.models import (
    Citation,
    Condition,
    ConsentRequirement,
    DigitalConsent,
    Jurisdiction,
    Obligation,
    Regime,
    Requirement,
    Rule,
)

__all__ = [
    "Citation",
    "Condition",
    "ConsentRequirement",
    "DigitalConsent",
    "Jurisdiction",
    "Obligation",
    "Regime",
    "Requirement",
    "Rule",
    "Rulebook",
    "ScopedRule",
    "load_rulebook",
]
