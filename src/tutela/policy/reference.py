"""The reference evaluator: the specification, rule by rule, no caches.

Semantics (as in Cedar): a prohibition that applies and is not lifted by its `unless` denies,
whatever permits say; otherwise the act needs at least one applicable permit whose
requirement is met (no lawful basis means deny); obligations of the met permits and of the
applicable obligate rules are attached. Rule order and duplicates do not matter.

A requirement asks, of one subject, for a set of *needs* (written as the `Missing` items a
decision reports): a transfer safeguard, or a consent to a scope by `self`, `parent` or `any`
at a minimum assurance, possibly given for that scope alone (`separate`). `by: holder` asks
the parent (at the rule's assurance) below the age of digital consent in force, and also the
child (any assurance) where that age says `parent_and_child`; otherwise, or when no age is
in force, the subject's own consent at any assurance. A need is met by a safeguard the act
carries, or by a valid grant of the scope from that person at that assurance or above,
given alone when the need is `separate`.

A decision explains itself: the determining rules (the unlifted prohibitions if any; else,
when allowed, the met permits and applicable obligate rules; else every applicable permit),
plus the age of digital consent when a determining rule asks the holder and an age is in
force; what is missing (when no permit is met, the needs of the cheapest permit: fewest
unmet, ties broken by the needs in order; plus what would lift each blocking prohibition);
and whether the act could be lawful at all (some permit applies and no blocking prohibition
is unconditional).

This module stands alone: it reads the rulebook's and the request's data, never the
compiled engine's code (`facts.py`, `explain.py`, `tables.py`, `compiled.py`) nor the
rulebook's helper methods and the taxonomy's `covers` the compiled tables call;
`reference_facts.py` derives its facts.
An import-linter contract (pyproject.toml) holds it to that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from tutela.policy.model import Decision, DecisionRequest, Determining, EffectOut, Facts, Missing, Verdict
from tutela.policy.reference_facts import LEVELS, consent_age, derive, in_window, rules_of
from tutela.rulebook import Rulebook, ScopedRule
from tutela.rulebook.models import Condition, DigitalConsent, Requirement, Rule
from tutela.taxonomy import Taxonomy

KINDS = ("forbid", "permit", "obligate", "digital_consent")


def covers(parent: str, key: str) -> bool:
    """A taxonomy key covers itself and every key below it (`user.location` covers `user.location.precise`)."""
    return key == parent or key.startswith(parent + ".")


def matches(when: Condition, f: Facts) -> bool:
    band = when.age
    if band is not None and ((band.min is not None and f.age < band.min)
                             or (band.below is not None and f.age >= band.below)):
        return False
    if when.categories and not any(covers(k, f.category) for k in when.categories):
        return False
    if any(covers(k, f.category) for k in when.except_categories):
        return False
    if when.uses and not any(covers(k, f.use) for k in when.uses):
        return False
    if any(covers(k, f.use) for k in when.except_uses):
        return False
    if when.recipients and f.recipient not in when.recipients:
        return False
    if when.destination == "third_country":  # outside the free-movement area, adequate or not
        return f.dest_class != "none"
    if when.destination == "non_adequate":
        return f.dest_class == "non_adequate"
    return True


def applies(r: Rule, f: Facts) -> bool:
    return r.status == "enforced" and in_window(r.effective_from, r.effective_to, f.day) and matches(r.when, f)


def consent(scope: str, by: str, assurance: str, separate: bool) -> Missing:
    return Missing(kind="consent", scope=scope, by=by, assurance=assurance, separate=separate)


def needs(req: Requirement, age: int, dc: DigitalConsent | None) -> tuple[frozenset[Missing], bool]:
    """What `req` asks of this subject, and whether it asked the holder under an age in force."""
    out = {Missing(kind="safeguard", safeguard=s) for s in req.safeguards}
    c = req.consent
    if c is None:
        return frozenset(out), False
    if c.by != "holder":
        out.add(consent(c.scope, c.by, c.assurance, c.separate))
    elif dc is not None and age < dc.age:
        out.add(consent(c.scope, "parent", c.assurance, c.separate))
        if dc.below == "parent_and_child":
            out.add(consent(c.scope, "self", "declared", c.separate))
    else:
        out.add(consent(c.scope, "self", "declared", c.separate))
    return frozenset(out), c.by == "holder" and dc is not None


def met(n: Missing, f: Facts) -> bool:
    if n.kind == "safeguard":
        return n.safeguard in f.safeguards
    return any(g.scope == n.scope and n.by in ("any", g.by) and g.level >= LEVELS.index(n.assurance or "")
               and (g.separate or not n.separate) for g in f.grants)


def order(n: Missing) -> tuple[str, str, str, int, bool]:
    """Missing items in order: kind, scope or safeguard, by, assurance level, separate."""
    level = LEVELS.index(n.assurance) if n.assurance else 0
    return n.kind, n.scope or n.safeguard or "", n.by or "", level, n.separate


def cheapest(options: Iterable[frozenset[Missing]]) -> frozenset[Missing]:
    return min(options, key=lambda o: (len(o), sorted(map(order, o))), default=frozenset())


def reason(s: ScopedRule) -> Determining:
    r, c = s.rule, s.rule.citation
    return Determining(id=r.id, kind=r.effect, title=r.title, source=s.source,
                       instrument=c.instrument, section=c.section, url=c.url)


def consent_reason(code: str, dc: DigitalConsent) -> Determining:
    who = "a parent consents" if dc.below == "parent" else "the child and a parent consent jointly"
    c = dc.citation
    return Determining(id=dc.id, kind="digital_consent", title=f"Age of digital consent {dc.age}; below it {who}",
                       source=code, instrument=c.instrument, section=c.section, url=c.url)


def label(kind: str, value: int | None) -> str:
    return kind if value is None else f"{kind}:{value}"


def verdict(book: Rulebook, f: Facts, rules: tuple[ScopedRule, ...] | None = None) -> Verdict:
    """Decide one act. `rules` overrides the jurisdiction's rules (used by property tests)."""
    dc = consent_age(book.jurisdictions[f.jurisdiction], f.day)
    applicable = {s for s in (rules_of(book, f.jurisdiction) if rules is None else rules) if applies(s.rule, f)}

    def unmet(s: ScopedRule) -> tuple[frozenset[Missing], bool]:
        req = s.rule.requires if s.rule.effect == "permit" else s.rule.unless
        if req is None:
            return frozenset(), False
        asked, holder = needs(req, f.age, dc)
        return frozenset(n for n in asked if not met(n, f)), holder

    forbids = [s for s in applicable if s.rule.effect == "forbid"]
    permits = [s for s in applicable if s.rule.effect == "permit"]
    obligates = [s for s in applicable if s.rule.effect == "obligate"]
    blocking = [s for s in forbids if s.rule.unless is None or unmet(s)[0]]
    met_permits = [s for s in permits if not unmet(s)[0]]
    permit_missing = frozenset() if met_permits else cheapest(unmet(s)[0] for s in permits)

    effect: EffectOut = "deny"
    obligations: tuple[str, ...] = ()
    if blocking:
        determining = blocking
        missing = set(permit_missing).union(*(unmet(s)[0] for s in blocking))
        possible = all(s.rule.unless is not None for s in blocking) and bool(permits)
    elif not met_permits:
        determining, missing, possible = permits, set(permit_missing), bool(permits)
    else:
        determining, missing, possible = [*met_permits, *obligates], set(), True
        obligations = tuple(sorted({label(o.kind, o.value) for s in determining for o in s.rule.obligations}))
        effect = "allow_with_obligations" if obligations else "allow"

    reasons = {reason(s) for s in determining}
    if dc is not None and any(unmet(s)[1] for s in determining):
        reasons.add(consent_reason(f.jurisdiction, dc))
    return Verdict(
        effect=effect,
        obligations=obligations,
        determining=tuple(sorted(reasons, key=lambda d: (KINDS.index(d.kind), d.id))),
        missing=tuple(sorted(missing, key=order)),
        lawful_possible=possible,
    )


def evaluate(book: Rulebook, f: Facts) -> Decision:
    """Decide facts derived elsewhere (the ground truth's plain loop uses this)."""
    return Decision.of(verdict(book, f), book.version, f.day, f.age, f.dest_class)


def decide(book: Rulebook, tax: Taxonomy, req: DecisionRequest, today: dt.date) -> Decision:
    """Decide a validated request, deriving the facts by the reference's own reading."""
    return evaluate(book, derive(book, tax, req, today))
