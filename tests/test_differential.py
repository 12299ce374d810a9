"""Differential tests: the compiled evaluator (single and Arrow batch) against the reference.

Hypothesis drives every case: each example receives a Hypothesis-drawn seed and
draws a few hundred facts from it, so the default run checks well over 100,000 decisions.
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutela.engine import Engine
from tutela.policy import reference
from tutela.policy.batch import SET_SEP, decide_table, grant_token
from tutela.policy.compiled import EFFECTS
from tutela.policy.facts import Facts, GrantFact

CASES_PER_EXAMPLE = 550
EXAMPLES = 200  # 200 x 550 = 110,000 single decisions
BATCH_ROWS = 2500
BATCH_EXAMPLES = 12

SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
)

# Countries: EU/EEA area members, adequacy countries, and ISO codes nobody lists.
COUNTRIES = ["DE", "FR", "IT", "PL", "NO", "IS", "LI", "CH", "CA", "AR", "JP", "GB", "KR", "US",
             "BR", "IL", "NZ", "UY", "IN", "CN", "RU", "ZZ", "QQ", "XK", "AU"]
RECIPIENTS = ("first_party", "processor", "third_party")
DESTS = ("none", "adequate", "non_adequate")


@pytest.fixture(scope="module")
def engine() -> Engine:
    e = Engine()
    e.compiled  # noqa: B018 - compile once for the module
    return e


class Gen:
    """Draws facts that stress the compiled tables: boundary days and ages, parent keys."""

    def __init__(self, engine: Engine, rnd: random.Random):
        self.e, self.r = engine, rnd
        book = engine.rulebook
        self.jurs = sorted(book.jurisdictions)
        self.cats = list(engine.taxonomy.categories.keys)
        self.uses = list(engine.taxonomy.uses.keys)
        self.scopes = sorted(book.scopes)
        bounds = [d for d in book.boundaries if d.year >= 1990]
        self.days = sorted({d + dt.timedelta(days=k) for d in bounds for k in (-1, 0, 1)})
        ages = {0, 130}
        for s in book.all_rules:
            a = s.rule.when.age
            if a is not None:
                for p in (a.min, a.below):
                    if p is not None:
                        ages.update((p - 1, p, p + 1))
        for _, d in book.consent_index.values():
            ages.update((d.age - 1, d.age, d.age + 1))
        self.ages = sorted(a for a in ages if 0 <= a <= 130)

    def day(self) -> dt.date:
        r = self.r
        if r.random() < 0.5:
            return r.choice(self.days)
        return dt.date(2012, 1, 1) + dt.timedelta(days=r.randrange(0, 365 * 20))

    def age(self) -> int:
        r = self.r
        x = r.random()
        if x < 0.5:
            return r.choice(self.ages)
        if x < 0.9:
            return r.randrange(0, 19)
        return r.randrange(0, 131)

    def grant_facts(self) -> frozenset[GrantFact]:
        r = self.r
        n = r.choice((0, 0, 1, 2, 3, 5, 8))
        return frozenset(
            GrantFact(r.choice(self.scopes), r.choice(("self", "parent")), r.randrange(3),
                      r.random() < 0.5)
            for _ in range(n)
        )

    def facts(self) -> Facts:
        r = self.r
        return Facts(
            jurisdiction=r.choice(self.jurs),
            age=self.age(),
            day=self.day(),
            category=r.choice(self.cats),
            use=r.choice(self.uses),
            recipient=r.choice(RECIPIENTS),
            dest_class=r.choice(DESTS),
            grants=self.grant_facts(),
            safeguards=frozenset(s for s in ("scc", "tia") if r.random() < 0.5),
        )


def _diff(book, compiled, f: Facts) -> str | None:
    want = reference.verdict(book, f)
    got = compiled.verdict(f)
    if want != got:
        return f"{f}\nreference: {want}\ncompiled:  {got}"
    return None


@SETTINGS
@given(seed=st.integers(0, 2**64 - 1))
def test_compiled_agrees_with_reference(engine: Engine, seed: int) -> None:
    gen = Gen(engine, random.Random(seed))
    book, compiled = engine.rulebook, engine.compiled
    checked = 0
    for _ in range(CASES_PER_EXAMPLE):
        f = gen.facts()
        problem = _diff(book, compiled, f)
        assert problem is None, problem
        checked += 1
    assert checked == CASES_PER_EXAMPLE


# A pure-strategy variant (small, shrinks well): each field drawn by Hypothesis itself.
def _facts_strategy(engine: Engine) -> st.SearchStrategy[Facts]:
    gen = Gen(engine, random.Random(0))
    grant = st.builds(GrantFact, st.sampled_from(gen.scopes), st.sampled_from(("self", "parent")),
                      st.integers(0, 2), st.booleans())
    return st.builds(
        Facts,
        jurisdiction=st.sampled_from(gen.jurs),
        age=st.one_of(st.sampled_from(gen.ages), st.integers(0, 130)),
        day=st.one_of(st.sampled_from(gen.days), st.dates(dt.date(2000, 1, 1), dt.date(2035, 1, 1))),
        category=st.sampled_from(gen.cats),
        use=st.sampled_from(gen.uses),
        recipient=st.sampled_from(RECIPIENTS),
        dest_class=st.sampled_from(DESTS),
        grants=st.frozensets(grant, max_size=6),
        safeguards=st.frozensets(st.sampled_from(("scc", "tia"))),
    )


def test_compiled_agrees_with_reference_shrinking(engine: Engine) -> None:
    @settings(max_examples=300, deadline=None)
    @given(fs=st.lists(_facts_strategy(engine), min_size=1, max_size=20))
    def check(fs: list[Facts]) -> None:
        for f in fs:
            problem = _diff(engine.rulebook, engine.compiled, f)
            assert problem is None, problem

    check()


# -- the Arrow batch path -------------------------------------------------------------------

def _leap_birth(r: random.Random) -> tuple[dt.date, dt.date]:
    """A 29 February birth and an act day close to a birthday (28 Feb / 29 Feb / 1 Mar)."""
    by = r.choice([y for y in range(1996, 2024) if y % 4 == 0])
    birth = dt.date(by, 2, 29)
    ay = r.randrange(by + 1, by + 30)
    day = r.choice([dt.date(ay, 2, 28), dt.date(ay, 3, 1)] + ([dt.date(ay, 2, 29)] if ay % 4 == 0 else []))
    return birth, day


def _batch_case(gen: Gen) -> dict:
    """One row as a request dict plus its batch-column values."""
    r = gen.r
    row: dict = {}
    mode = r.random()
    if mode < 0.3:
        birth, day = _leap_birth(r)
        row["birth_date"] = birth
    elif mode < 0.6:
        day = gen.day()
        age = min(gen.age(), 100)
        birth = dt.date(day.year - age, 1, 1) + dt.timedelta(days=r.randrange(0, 366))
        if birth > day:
            birth = day
        row["birth_date"] = birth
    else:
        day = gen.day()
        row["age"] = gen.age()
    grants = []
    for _ in range(r.choice((0, 0, 1, 2, 3))):
        k = r.choice((1, 1, 2, 3))
        grants.append({
            "scopes": r.sample(gen.scopes, k),
            "by": r.choice(("self", "parent")),
            "assurance": r.choice(("declared", "confirmed", "verified")),
        })
    dest = r.choice([None, None, *COUNTRIES])
    row.update(
        jurisdiction=r.choice(gen.jurs), at=day, category=r.choice(gen.cats),
        use=r.choice(gen.uses), recipient=r.choice(RECIPIENTS), destination=dest,
        recipient_certified=r.random() < 0.3, scc=r.random() < 0.5, tia=r.random() < 0.5,
        grants=grants,
    )
    return row


def _grant_text(grants: list[dict]) -> str:
    return SET_SEP.join(grant_token(s, g["by"], g["assurance"], len(set(g["scopes"])) == 1)
                        for g in grants for s in g["scopes"])


def _request(row: dict) -> dict:
    subject = {"jurisdiction": row["jurisdiction"], "grants": row["grants"]}
    if "age" in row:
        subject["age"] = row["age"]
    else:
        subject["birth_date"] = row["birth_date"].isoformat()
    safeguards = [s for s in ("scc", "tia") if row[s]]
    act = {"category": row["category"], "use": row["use"], "recipient": row["recipient"],
           "destination": row["destination"], "recipient_certified": row["recipient_certified"],
           "safeguards": safeguards, "at": row["at"].isoformat()}
    return {"subject": subject, "act": act}


def _table(rows: list[dict], use_birth: bool, dictionary: bool) -> pa.Table:
    cols = {
        "jurisdiction": pa.array([x["jurisdiction"] for x in rows]),
        "at": pa.array([x["at"] for x in rows], type=pa.date32()),
        "category": pa.array([x["category"] for x in rows]),
        "use": pa.array([x["use"] for x in rows]),
        "recipient": pa.array([x["recipient"] for x in rows]),
        "destination": pa.array([x["destination"] for x in rows], type=pa.string()),
        "recipient_certified": pa.array([x["recipient_certified"] for x in rows]),
        "scc": pa.array([x["scc"] for x in rows]),
        "tia": pa.array([x["tia"] for x in rows]),
        "grants": pa.array([_grant_text(x["grants"]) or None for x in rows], type=pa.string()),
    }
    if use_birth:
        cols["birth_date"] = pa.array([x["birth_date"] for x in rows], type=pa.date32())
    else:
        cols["age"] = pa.array([x["age"] for x in rows], type=pa.int64())
    if dictionary:
        for name in ("jurisdiction", "category", "use", "recipient", "destination", "grants"):
            cols[name] = cols[name].dictionary_encode()
    return pa.table(cols)


def _check_batch(engine: Engine, rows: list[dict], use_birth: bool, dictionary: bool) -> int:
    table = _table(rows, use_birth, dictionary)
    result = engine.decide_arrow(table)
    assert len(result) == len(rows)
    effects = result.effects()
    singles = engine.decide_many([_request(x) for x in rows])
    for i, (x, d) in enumerate(zip(rows, singles, strict=True)):
        ref = engine.decide_reference(_request(x))
        assert d.verdict() == ref.verdict(), f"row {i}: {x}"
        assert effects[i] == d.effect, f"row {i}: {x}: batch {effects[i]} single {d.effect}"
        assert result.verdict(i) == d.verdict(), f"row {i}: {x}"
    arrow = result.to_arrow()
    assert arrow.column("effect").to_pylist() == effects
    det = arrow.column("determining").to_pylist()
    for i in range(0, len(rows), 97):
        assert det[i] == ",".join(r.id for r in singles[i].determining)
    return len(rows)


@settings(max_examples=BATCH_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**64 - 1), dictionary=st.booleans())
def test_batch_agrees_with_single(engine: Engine, seed: int, dictionary: bool) -> None:
    gen = Gen(engine, random.Random(seed))
    rows = [_batch_case(gen) for _ in range(BATCH_ROWS)]
    with_birth = [x for x in rows if "birth_date" in x]
    with_age = [x for x in rows if "age" in x]
    assert _check_batch(engine, with_birth, True, dictionary) == len(with_birth)
    assert _check_batch(engine, with_age, False, dictionary) == len(with_age)


def test_batch_leap_day_ages(engine: Engine) -> None:
    """A 29 Feb birth turns a year older on 1 March in common years, on 29 Feb in leap years."""
    births = [dt.date(2012, 2, 29)] * 4
    days = [dt.date(2025, 2, 28), dt.date(2025, 3, 1), dt.date(2028, 2, 28), dt.date(2028, 2, 29)]
    table = pa.table({
        "jurisdiction": ["US"] * 4, "birth_date": pa.array(births, type=pa.date32()),
        "at": pa.array(days, type=pa.date32()),
        "category": ["user.behavior.media_consumption"] * 4, "use": ["personalize"] * 4,
    })
    result = decide_table(engine.compiled, table)
    assert len(result) == 4
    for i, (b, d) in enumerate(zip(births, days, strict=True)):
        single = engine.decide({"subject": {"jurisdiction": "US", "birth_date": b.isoformat()},
                                "act": {"category": "user.behavior.media_consumption",
                                        "use": "personalize", "at": d.isoformat()}})
        assert result.effects()[i] == single.effect
        assert result.verdict(i) == single.verdict()
    ages = [engine.facts({"subject": {"jurisdiction": "US", "birth_date": "2012-02-29"},
                          "act": {"category": "user", "use": "personalize", "at": d.isoformat()}}).age
            for d in days]
    assert ages == [12, 13, 15, 16]
    # the 13th birthday flips COPPA: under 13 on 2025-02-28, 13 on 2025-03-01
    assert result.effects()[0] == "deny"
    assert EFFECTS.index(result.effects()[1]) in (1, 2)
