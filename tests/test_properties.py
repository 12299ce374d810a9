"""Named semantic properties (as in Cedar), on small random rulebooks built in code.

The packaged rulebook supplies the age of digital consent (through the facts' jurisdiction);
the rules themselves are generated and passed to `reference.verdict(..., rules=...)`. The
compiled evaluator is checked on the same properties by compiling modified rulebooks.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutela.engine import Engine
from tutela.policy import reference
from tutela.policy.compiled import CompiledPolicy
from tutela.policy.facts import Facts, GrantFact
from tutela.rulebook import Rulebook, ScopedRule
from tutela.rulebook.models import (
    AgeBand,
    Citation,
    Condition,
    ConsentRequirement,
    Obligation,
    Requirement,
    Rule,
)

BOOK = Engine().rulebook  # loaded once at import; cheap (no compile)
JURS = ["IT", "PT", "DE", "SI", "GB", "US", "US-CA", "IN", "BR", "KR"]
CATS = ["user", "user.location", "user.location.precise", "user.behavior.media_consumption",
        "user.biometric", "user.biometric.face_geometry", "user.contact.email"]
USES = ["essential", "essential.service", "personalize", "personalize.content.profiled",
        "marketing", "marketing.advertising.third_party.targeted", "analytics",
        "third_party_sharing.sale"]
SCOPES = sorted(BOOK.scopes)[:6]
RECIPIENTS = ("first_party", "processor", "third_party")
CITE = Citation(instrument="Test Act", section="s.1", url="https://example.org/test")
PROPS = settings(max_examples=400, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

counter = iter(range(10**9))


def _rid() -> str:
    return f"T-PROP.r{next(counter)}"


ages = st.one_of(
    st.none(),
    st.builds(AgeBand, min=st.none(), below=st.integers(1, 20)),
    st.tuples(st.integers(0, 17), st.integers(1, 6)).map(lambda t: AgeBand(min=t[0], below=t[0] + t[1])),
)
conditions = st.builds(
    Condition,
    age=ages,
    categories=st.lists(st.sampled_from(CATS), max_size=2).map(tuple),
    except_categories=st.lists(st.sampled_from(CATS), max_size=1).map(tuple),
    uses=st.lists(st.sampled_from(USES), max_size=2).map(tuple),
    except_uses=st.lists(st.sampled_from(USES), max_size=1).map(tuple),
    recipients=st.sets(st.sampled_from(RECIPIENTS), max_size=2).map(lambda x: tuple(sorted(x))),
    destination=st.sampled_from(("any", "any", "third_country", "non_adequate")),
)
consents = st.builds(
    ConsentRequirement,
    scope=st.sampled_from(SCOPES),
    by=st.sampled_from(("self", "parent", "holder", "any")),
    assurance=st.sampled_from(("declared", "confirmed", "verified")),
    separate=st.booleans(),
)
requirements = st.one_of(
    st.builds(Requirement, consent=consents),
    st.builds(Requirement, consent=st.none() | consents,
              safeguards=st.sets(st.sampled_from(("scc", "tia")), min_size=1).map(
                  lambda x: tuple(sorted(x)))),
)
OBLIGATIONS = [Obligation(kind="coarsen_location"), Obligation(kind="truncate_ip"),
               Obligation(kind="retain_max_days", value=30), Obligation(kind="notify_parent")]


def obligation_lists(min_size: int = 0) -> st.SearchStrategy[tuple[Obligation, ...]]:
    return st.sets(st.sampled_from(OBLIGATIONS), min_size=min_size, max_size=2).map(
        lambda x: tuple(sorted(x, key=Obligation.label)))
days_from = st.sampled_from([dt.date(2018, 1, 1), dt.date(2024, 6, 1), dt.date(2026, 4, 22)])


@st.composite
def rules(draw: st.DrawFn, effect: str | None = None) -> Rule:
    eff = effect or draw(st.sampled_from(("permit", "permit", "forbid", "obligate")))
    kw: dict = {"id": _rid(), "title": "t", "effect": eff, "citation": CITE,
                "effective_from": draw(days_from), "when": draw(conditions)}
    if draw(st.integers(0, 5)) == 0:
        kw["status"] = draw(st.sampled_from(("unverified", "enjoined", "not_modelled")))
    if eff == "permit":
        kw["requires"] = draw(st.none() | requirements)
        kw["obligations"] = draw(obligation_lists())
    elif eff == "forbid":
        kw["unless"] = draw(st.none() | requirements)
    else:
        kw["obligations"] = draw(obligation_lists(1))
    return Rule(**kw)


def scoped(rs: list[Rule]) -> tuple[ScopedRule, ...]:
    return tuple(ScopedRule(r, "TEST") for r in rs)


grant_facts = st.frozensets(
    st.builds(GrantFact, st.sampled_from(SCOPES), st.sampled_from(("self", "parent")),
              st.integers(0, 2), st.booleans()), max_size=5)
facts = st.builds(
    Facts,
    jurisdiction=st.sampled_from(JURS),
    age=st.integers(0, 25),
    day=st.dates(dt.date(2017, 1, 1), dt.date(2028, 12, 31)),
    category=st.sampled_from(CATS),
    use=st.sampled_from(USES),
    recipient=st.sampled_from(RECIPIENTS),
    dest_class=st.sampled_from(("none", "adequate", "non_adequate")),
    grants=grant_facts,
    safeguards=st.frozensets(st.sampled_from(("scc", "tia"))),
)
rulesets = st.lists(rules(), max_size=8)


def verdict(f: Facts, rs: list[Rule]):
    return reference.verdict(BOOK, f, rules=scoped(rs))


def _applies(r: Rule, f: Facts) -> bool:
    return r.in_force(f.day) and reference.matches(r.when, f)


# -- the four properties on the reference evaluator ------------------------------------------

@PROPS
@given(rs=rulesets, f=facts, when=conditions, obligate=st.booleans())
def test_prohibition_beats_any_permission(rs: list[Rule], f: Facts, when: Condition,
                                          obligate: bool) -> None:
    # An unconditional prohibition that applies denies, whatever permits exist or are met.
    ban = Rule(id=_rid(), title="ban", effect="forbid", citation=CITE,
               effective_from=dt.date(2000, 1, 1), when=when)
    # make every permit's requirement met by giving every grant at the highest level
    everything = frozenset(GrantFact(s, by, 2, True) for s in BOOK.scopes for by in ("self", "parent"))
    rich = Facts(**{**f.__dict__, "grants": everything, "safeguards": frozenset({"scc", "tia"})})
    for g in (f, rich):
        v = verdict(g, [*rs, ban])
        if _applies(ban, g):
            assert v.effect == "deny"
            assert ban.id in {d.id for d in v.determining}
            assert v.lawful_possible is False
            assert v.obligations == ()
        else:
            assert v == verdict(g, rs)
    # and in general: an allow means no applicable forbid is left unlifted
    v = verdict(f, rs)
    if v.allowed:
        for r in rs:
            if r.effect == "forbid" and _applies(r, f):
                assert r.unless is not None


@PROPS
@given(rs=st.lists(rules(), max_size=8), f=facts)
def test_no_lawful_basis_means_deny(rs: list[Rule], f: Facts) -> None:
    v = verdict(f, rs)
    permits_applicable = [r for r in rs if r.effect == "permit" and _applies(r, f)]
    if not permits_applicable:
        assert v.effect == "deny"
        assert v.lawful_possible is False
    # with the permits removed, nothing is ever allowed
    only_others = [r for r in rs if r.effect != "permit"]
    v2 = verdict(f, only_others)
    assert v2.effect == "deny" and v2.lawful_possible is False and v2.obligations == ()
    if v.allowed:
        assert any(d.kind == "permit" for d in v.determining)


@PROPS
@given(rs=rulesets, f=facts, data=st.data())
def test_rule_order_and_duplicates_do_not_matter(rs: list[Rule], f: Facts, data: st.DataObject) -> None:
    want = verdict(f, rs)
    shuffled = data.draw(st.permutations(rs)) if rs else []
    dups = data.draw(st.lists(st.sampled_from(rs), max_size=6)) if rs else []
    mixed = data.draw(st.permutations([*shuffled, *dups])) if rs else []
    assert verdict(f, list(shuffled)) == want
    assert verdict(f, list(mixed)) == want
    assert verdict(f, list(reversed(rs))) == want


@PROPS
@given(rs=rulesets, f=facts, ban=rules(effect="forbid"))
def test_adding_a_prohibition_never_allows_more(rs: list[Rule], f: Facts, ban: Rule) -> None:
    before = verdict(f, rs)
    after = verdict(f, [*rs, ban])
    if not before.allowed:
        assert not after.allowed
    if after.allowed:
        assert before.allowed
        assert after == before  # a forbid that does not bite changes nothing
    # a possible-lawful flag never appears by adding a prohibition
    if not before.lawful_possible:
        assert not after.lawful_possible


# -- the compiled evaluator on the same properties -------------------------------------------

@pytest.fixture(scope="module")
def engine() -> Engine:
    e = Engine(rulebook=BOOK)
    e.compiled  # noqa: B018
    return e


def _sample_facts(engine: Engine, rnd: random.Random, n: int) -> list[Facts]:
    cats = list(engine.taxonomy.categories.keys)
    uses = list(engine.taxonomy.uses.keys)
    scopes = sorted(BOOK.scopes)
    out = []
    for _ in range(n):
        out.append(Facts(
            jurisdiction=rnd.choice(JURS), age=rnd.randrange(0, 25),
            day=dt.date(2017, 1, 1) + dt.timedelta(days=rnd.randrange(0, 12 * 365)),
            category=rnd.choice(cats), use=rnd.choice(uses), recipient=rnd.choice(RECIPIENTS),
            dest_class=rnd.choice(("none", "adequate", "non_adequate")),
            grants=frozenset(GrantFact(rnd.choice(scopes), rnd.choice(("self", "parent")),
                                       rnd.randrange(3), rnd.random() < 0.5)
                             for _ in range(rnd.randrange(0, 5))),
            safeguards=frozenset(s for s in ("scc", "tia") if rnd.random() < 0.5),
        ))
    return out


def _rebuild(book: Rulebook, regimes=None, jurisdictions=None) -> Rulebook:
    return Rulebook(regimes=regimes or dict(book.regimes),
                    jurisdictions=jurisdictions or dict(book.jurisdictions),
                    scopes=book.scopes, version=book.version)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_compiled_rule_order_and_duplicates_do_not_matter(engine: Engine, seed: int) -> None:
    rnd = random.Random(seed)
    jurs = {}
    for code, j in BOOK.jurisdictions.items():
        rs = list(j.rules)
        rnd.shuffle(rs)
        rs += rnd.sample(rs, min(len(rs), 2))
        jurs[code] = j.model_copy(update={"rules": tuple(rs)})
    regs = {}
    for code, reg in BOOK.regimes.items():
        rs = list(reg.rules)
        rnd.shuffle(rs)
        regs[code] = reg.model_copy(update={"rules": tuple(rs)})
    shuffled = _rebuild(BOOK, regs, jurs)
    other = CompiledPolicy(shuffled, engine.taxonomy)
    for f in _sample_facts(engine, rnd, 3000):
        assert other.verdict(f) == engine.compiled.verdict(f), f
        assert reference.verdict(shuffled, f) == reference.verdict(BOOK, f), f


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ban=rules(effect="forbid"), jur=st.sampled_from(JURS), seed=st.integers(0, 2**32))
def test_compiled_adding_a_prohibition_never_allows_more(engine: Engine, ban: Rule, jur: str,
                                                          seed: int) -> None:
    j = BOOK.jurisdictions[jur]
    book2 = _rebuild(BOOK, jurisdictions={**BOOK.jurisdictions,
                                          jur: j.model_copy(update={"rules": (*j.rules, ban)})})
    compiled2 = CompiledPolicy(book2, engine.taxonomy)
    rnd = random.Random(seed)
    fs = _sample_facts(engine, rnd, 3000)
    for f in fs:
        before, after = engine.compiled.verdict(f), compiled2.verdict(f)
        assert after == reference.verdict(book2, f), f
        if not before.allowed:
            assert not after.allowed, f
        if f.jurisdiction != jur:
            assert after == before
