"""Turning rules and tokens into the reasons a Decision carries (shared by both evaluators)."""

from __future__ import annotations

from collections.abc import Iterable

from tutela.policy.facts import Token
from tutela.policy.model import Determining, Missing
from tutela.rulebook import ScopedRule
from tutela.rulebook.models import DigitalConsent

KIND_ORDER = {"forbid": 0, "permit": 1, "obligate": 2, "digital_consent": 3}
LEVEL_NAMES = ("declared", "confirmed", "verified")


def of_rule(s: ScopedRule) -> Determining:
    r = s.rule
    c = r.citation
    return Determining(
        id=r.id, kind=r.effect, title=r.title, source=s.source,
        instrument=c.instrument, section=c.section, url=c.url,
    )


def of_consent_age(jurisdiction: str, dc: DigitalConsent) -> Determining:
    c = dc.citation
    who = "a parent consents" if dc.below == "parent" else "the child and a parent consent jointly"
    return Determining(
        id=dc.id, kind="digital_consent",
        title=f"Age of digital consent {dc.age}; below it {who}",
        source=jurisdiction, instrument=c.instrument, section=c.section, url=c.url,
    )


def of_tokens(tokens: Iterable[Token]) -> tuple[Missing, ...]:
    out = []
    for t in sorted(set(tokens)):
        if t.kind == "safeguard":
            out.append(Missing(kind="safeguard", safeguard=t.name))
        else:
            out.append(Missing(kind="consent", scope=t.name, by=t.by,
                               assurance=LEVEL_NAMES[t.level], separate=t.separate))
    return tuple(out)


def ordered(items: Iterable[Determining]) -> tuple[Determining, ...]:
    return tuple(sorted(set(items), key=lambda d: (KIND_ORDER[d.kind], d.id)))


def cheapest(options: Iterable[frozenset[Token]]) -> frozenset[Token]:
    """The option with the fewest unmet tokens; ties broken by the sorted tokens."""
    return min(options, key=lambda o: (len(o), sorted(o)), default=frozenset())
