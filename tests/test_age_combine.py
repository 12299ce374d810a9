"""Roll-over, lowest-category-wins and sticky results; the stores (memory, SQLite, PostgreSQL);
Hypothesis properties: order independence, no early adulthood, no lifting by self-declaration."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.age import AgeRecord, MemoryStore, SqlStore, band_on, combine, stick
from tutela.age.combine import age_on, whole_years
from tutela.age.levels import LEVELS

UTC = dt.UTC
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def rec(lower: int, upper: int | None, observed: dt.date, level: str = "self_declared", lag: int = 0,
        birth: dt.date | None = None, expires: dt.datetime | None = None, source: str = "apple") -> AgeRecord:
    return AgeRecord(lower=lower, upper=upper, as_of=observed - dt.timedelta(days=lag), birth_date=birth,
                     method=f"{source}.test", level=level, issuer="test", source=source,  # type: ignore[arg-type]  # level/source drawn as plain str
                     observed_at=dt.datetime.combine(observed, dt.time(9), UTC), expires_at=expires)


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), UTC)


def test_whole_years_and_the_29_february_birthday() -> None:
    leap = dt.date(2012, 2, 29)
    assert age_on(leap, dt.date(2030, 2, 28)) == 17
    assert age_on(leap, dt.date(2030, 3, 1)) == 18  # common year: the birthday falls on 1 March
    assert age_on(leap, dt.date(2032, 2, 29)) == 20
    assert whole_years(dt.date(2026, 3, 10), dt.date(2027, 3, 9)) == 0
    assert whole_years(dt.date(2026, 3, 10), dt.date(2027, 3, 10)) == 1


def test_a_band_rolls_over_on_the_anniversary_of_its_observation_never_before() -> None:
    r = rec(13, 15, dt.date(2026, 3, 10))
    assert band_on(r, dt.date(2026, 3, 10)) == (13, 15)
    assert band_on(r, dt.date(2026, 9, 1)) == (13, 16)   # someone may have had a birthday since
    assert band_on(r, dt.date(2027, 3, 9)) == (13, 16)
    assert band_on(r, dt.date(2027, 3, 10)) == (14, 16)  # everyone has had one
    assert band_on(rec(18, None, dt.date(2026, 3, 10)), dt.date(2030, 1, 1)) == (21, None)


def test_a_lagging_store_band_widens_upwards_only() -> None:
    play = rec(16, 17, dt.date(2026, 11, 2), lag=56)  # Play refreshes 2-8 weeks after the birthday
    assert band_on(play, dt.date(2026, 11, 2)) == (16, 18)  # may already be 18, not yet shown
    assert band_on(play, dt.date(2027, 11, 2))[0] == 17


def test_a_known_birth_date_rolls_over_on_the_birthday() -> None:
    r = rec(12, 12, dt.date(2026, 12, 3), birth=dt.date(2014, 5, 1))
    assert band_on(r, dt.date(2027, 4, 30)) == (12, 12)
    assert band_on(r, dt.date(2027, 5, 1)) == (13, 13)


def test_lowest_category_wins_and_conflicts_are_flagged() -> None:
    day = dt.date(2026, 12, 3)
    adult = rec(18, None, day, "verified", source="oidc")
    teen = rec(13, 15, day, "parent_declared", source="google")
    best = combine([adult, teen], noon(day))
    assert best is not None
    assert (best.lower, best.upper, best.category, best.level, best.sources) == (13, 15, "younger_teenager",
                                                                                "parent_declared", 2)
    assert best.conflict
    assert not combine([teen, rec(13, 15, day, "verified")], noon(day)).conflict  # type: ignore[union-attr]  # combine() gives None only for no records
    assert combine([teen, rec(13, 15, day, "verified")], noon(day)).level == "verified"  # type: ignore[union-attr]  # combine() gives None only for no records


def test_expired_records_are_not_used() -> None:
    day = dt.date(2026, 12, 3)
    old = rec(10, 12, day, expires=noon(day) - dt.timedelta(hours=1))
    fresh = rec(16, 17, day)
    assert combine([old, fresh], noon(day)).lower == 16  # type: ignore[union-attr]  # combine() gives None only for no records
    assert combine([old], noon(day)) is None


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[MemoryStore | SqlStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    prefix = f"age_t{uuid.uuid4().hex[:8]}_"
    if request.param == "sqlite":
        s = SqlStore(f"sqlite:///{tmp_path}/age.db", prefix=prefix)
    else:
        try:
            sa.create_engine(PG).connect().close()
        except sa.exc.OperationalError:
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable (make test starts it)")
        s = SqlStore(PG, prefix=prefix)
    yield s
    s.drop()


def test_sticky_keeps_the_lowest_and_only_strong_evidence_lifts_it(store: MemoryStore | SqlStore) -> None:
    day = dt.date(2026, 12, 3)
    now = noon(day)
    child = rec(12, 12, day, birth=dt.date(2014, 5, 1))
    assert stick(store, "dev-1", child, now) == child
    for level in ("self_declared", "inferred", "parent_declared"):
        held = stick(store, "dev-1", rec(30, 30, day, level), now)
        assert band_on(held, day)[0] == 12, level
    kept = store.get("dev-1")
    assert kept is not None and kept.birth_date is None and kept.subject is None  # a band, not a birth date
    verified = rec(18, None, day, "verified", source="mdoc")
    assert stick(store, "dev-1", verified, now) == verified
    assert band_on(stick(store, "dev-1", rec(14, 14, day), now), day)[0] == 14  # a lower one still wins


def test_sql_store_keeps_keys_hashed(tmp_path: object) -> None:
    s = SqlStore(f"sqlite:///{tmp_path}/h.db")
    day = dt.date(2026, 12, 3)
    stick(s, "session-secret-id", rec(12, 12, day), noon(day))
    with s.engine.connect() as c:
        keys = [row[0] for row in c.execute(sa.select(s.sticky.c.key))]
    assert keys and "session-secret-id" not in keys[0] and len(keys[0]) == 64


def test_memory_sticky_store_is_bounded() -> None:
    s = MemoryStore(capacity=50)
    day = dt.date(2026, 12, 3)
    for i in range(500):
        s.put(f"k{i}", rec(12, 12, day))
    assert len(s._sticky) == 50 and s.get("k499") is not None and s.get("k0") is None


# ---- properties -------------------------------------------------------------------------

DAYS = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31))


@st.composite
def records(draw: st.DrawFn) -> AgeRecord:
    lower = draw(st.integers(0, 40))
    upper = draw(st.one_of(st.none(), st.integers(lower, 45)))
    return rec(lower, upper, draw(st.dates(dt.date(2025, 1, 1), dt.date(2026, 12, 1))),
               draw(st.sampled_from(LEVELS)), lag=draw(st.integers(0, 56)),
               source=draw(st.sampled_from(["apple", "google", "appstore", "oidc"])))


@settings(max_examples=200, deadline=None)
@given(st.lists(records(), min_size=1, max_size=6).flatmap(lambda rs: st.tuples(st.just(rs), st.permutations(rs))),
       st.dates(dt.date(2026, 12, 1), dt.date(2030, 12, 31)))
def test_combination_does_not_depend_on_order(pair: tuple[list[AgeRecord], list[AgeRecord]], day: dt.date) -> None:
    first, shuffled = pair
    assert combine(first, noon(day)) == combine(shuffled, noon(day))


@settings(max_examples=400, deadline=None)
@given(birth=st.dates(dt.date(2000, 1, 1), dt.date(2025, 12, 31)), held_days=st.integers(0, 56),
       extra_lag=st.integers(0, 56), below=st.integers(0, 5), above=st.one_of(st.none(), st.integers(0, 5)),
       observed=st.dates(dt.date(2026, 1, 1), dt.date(2030, 12, 31)), later=st.integers(0, 4000))
def test_roll_over_never_makes_a_minor_an_adult_before_the_birthday(
        birth: dt.date, held_days: int, extra_lag: int, below: int, above: int | None, observed: dt.date,
        later: int) -> None:
    lag = held_days + extra_lag           # the record admits a lag of `lag` days ...
    held_on = observed - dt.timedelta(days=held_days)  # ... and the band really held on this day
    true = age_on(birth, held_on)
    r = rec(max(true - below, 0), None if above is None else true + above, observed, lag=lag)
    day = observed + dt.timedelta(days=later)
    lo, hi = band_on(r, day)
    assert lo <= age_on(birth, day)
    assert hi is None or age_on(birth, day) <= hi
    if lo >= 18:
        assert day >= birth.replace(year=birth.year + 18) if (birth.month, birth.day) != (2, 29) else \
            day >= dt.date(birth.year + 18, 3, 1)


@settings(max_examples=200, deadline=None)
@given(first=st.integers(0, 17), later=st.lists(st.tuples(st.integers(0, 90),
                                                          st.sampled_from(["self_declared", "inferred",
                                                                           "parent_declared"])), max_size=8),
       days=st.lists(st.integers(0, 300), min_size=8, max_size=8))
def test_a_sticky_under_threshold_result_is_never_lifted_by_declarations(
        first: int, later: list[tuple[int, str]], days: list[int]) -> None:
    store = MemoryStore()
    start = dt.date(2026, 12, 3)
    stick(store, "dev", rec(first, first, start), noon(start))
    for (age, level), offset in zip(later, days, strict=False):
        day = start + dt.timedelta(days=offset)
        held = stick(store, "dev", rec(age, age, day, level), noon(day))
        # no higher than the first result rolled over to that day (it can only age, never be lifted)
        assert band_on(held, day)[0] <= band_on(rec(first, first, start), day)[0]


def test_the_roll_over_example_in_docs_age_md() -> None:
    play = rec(13, 15, dt.date(2026, 11, 2), lag=56)
    assert play.as_of == dt.date(2026, 9, 7)
    assert band_on(play, dt.date(2027, 11, 1)) == (13, 17)
    assert band_on(play, dt.date(2027, 11, 2)) == (14, 17)


def test_a_store_band_beside_a_self_declared_birth_date_as_docs_age_md_says() -> None:
    play = rec(13, 15, dt.date(2026, 11, 2), "parent_declared", lag=56, source="google")
    typed = rec(13, 13, dt.date(2026, 11, 2), birth=dt.date(2012, 12, 1), source="gate")
    expect = {dt.date(2026, 11, 2): 13, dt.date(2027, 11, 2): 14, dt.date(2027, 12, 1): 14, dt.date(2028, 11, 2): 15}
    for day, lower in expect.items():
        c = combine([play, typed], noon(day))
        assert c is not None and c.lower == lower, day
    assert combine([play, typed], noon(dt.date(2026, 11, 2))).winner == play  # type: ignore[union-attr]  # combine() gives None only for no records
    younger = rec(12, 12, dt.date(2026, 11, 2), birth=dt.date(2014, 1, 1), source="gate")
    assert combine([play, younger], noon(dt.date(2026, 11, 2))).category == "child"  # type: ignore[union-attr]  # combine() gives None only for no records
