"""The reference evaluator: the specification, rule by rule, no caches.

Semantics (as in Cedar): a prohibition that applies and is not lifted by its `unless` denies,
whatever permits say; otherwise the act needs at least one applicable permit whose
requirement is met (no lawful basis means deny); obligations of the met permits and of the
applicable obligate rules are attached. Rule order and duplicates do not matter.
"""

from __future__ import annotations

from tutela.policy import explain
from tutela.policy.facts import Facts, Token, resolve, satisfied
from tutela.policy.model import Decision, Determining, EffectOut, Verdict
from tutela.rulebook import Rulebook, ScopedRule
from tutela.rulebook.models import Condition
from tutela.taxonomy.model import covers


def matches(when: Condition, f: Facts) -> bool:
    if when.age is not None and not when.age.contains(f.age):
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
    if when.destination == "third_country":
        return f.dest_class != "none"
    if when.destination == "non_adequate":
        return f.dest_class == "non_adequate"
    return True


def evaluate(book: Rulebook, f: Facts) -> Decision:
    v = verdict(book, f)
    return Decision.of(v, book.version, f.day, f.age, f.dest_class)


def verdict(book: Rulebook, f: Facts, rules: tuple[ScopedRule, ...] | None = None) -> Verdict:
    """Decide one act. `rules` overrides the jurisdiction's rules (used by property tests)."""
    dc = book.digital_consent(f.jurisdiction, f.day)
    scoped = book.rules_for(f.jurisdiction) if rules is None else rules
    applicable = {s for s in scoped if s.rule.in_force(f.day) and matches(s.rule.when, f)}

    def unmet(s: ScopedRule) -> tuple[frozenset[Token], bool]:
        req = s.rule.requirement
        if req is None:
            return frozenset(), False
        tokens, used = resolve(req, f.age, dc)
        return frozenset(t for t in tokens if not satisfied(t, f.grants, f.safeguards)), used

    forbids = [s for s in applicable if s.rule.effect == "forbid"]
    permits = [s for s in applicable if s.rule.effect == "permit"]
    obligates = [s for s in applicable if s.rule.effect == "obligate"]

    blocking = [s for s in forbids if s.rule.unless is None or unmet(s)[0]]
    met = [s for s in permits if not unmet(s)[0]]
    permit_missing = frozenset() if met else explain.cheapest(unmet(s)[0] for s in permits)

    effect: EffectOut = "deny"
    if blocking:
        determining = blocking
        missing = set(permit_missing).union(*(unmet(s)[0] for s in blocking))
        possible = all(s.rule.unless is not None for s in blocking) and bool(permits)
        obligations: tuple[str, ...] = ()
    elif not met:
        determining, missing, possible = permits, set(permit_missing), bool(permits)
        obligations = ()
    else:
        labels = {o.label() for s in (*met, *obligates) for o in s.rule.obligations}
        obligations = tuple(sorted(labels))
        effect = "allow_with_obligations" if obligations else "allow"
        determining, missing, possible = [*met, *obligates], set(), True

    reasons: list[Determining] = [explain.of_rule(s) for s in determining]
    if dc is not None and any(unmet(s)[1] for s in determining):
        reasons.append(explain.of_consent_age(f.jurisdiction, dc))
    return Verdict(
        effect=effect,
        obligations=obligations,
        determining=explain.ordered(reasons),
        missing=explain.of_tokens(missing),
        lawful_possible=possible,
    )
