"""The vectorised lowest-category-per-subject pass agrees with tutela.age.combine, row by row."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.age.batch import lowest_per_subject, reference, whole_years
from tutela.age.combine import whole_years as whole_years_ref
from tutela.age.levels import LEVELS
from tutela.errors import InputError

EPOCH = dt.date(1970, 1, 1)
SCHEMA = pa.schema([("subject", pa.string()), ("lower", pa.int16()), ("upper", pa.int16()), ("as_of", pa.date32()),
                    ("observed", pa.date32()), ("level", pa.string()), ("expires_at", pa.timestamp("us", "UTC")),
                    ("birth_date", pa.date32())])


@st.composite
def row(draw: st.DrawFn) -> dict[str, Any]:
    observed = draw(st.dates(dt.date(2023, 1, 1), dt.date(2027, 12, 31)))
    lower = draw(st.integers(0, 40))
    birth = draw(st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(2020, 2, 29))))
    return {"subject": draw(st.sampled_from(["a", "b", "c", "d"])), "lower": lower,
            "upper": draw(st.one_of(st.none(), st.integers(lower, 50))),
            "as_of": observed - dt.timedelta(days=draw(st.integers(0, 56))), "observed": observed,
            "level": draw(st.sampled_from(LEVELS)), "birth_date": birth,
            "expires_at": draw(st.one_of(st.none(), st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2030, 1, 1),
                                                                 timezones=st.just(dt.UTC))))}


@settings(max_examples=300, deadline=None)
@given(st.lists(row(), max_size=25), st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2032, 1, 1),
                                                  timezones=st.just(dt.UTC)))
def test_vectorised_pass_agrees_with_the_reference(rows: list[dict[str, Any]], now: dt.datetime) -> None:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    assert lowest_per_subject(table, now).to_pylist() == reference(rows, now)


@settings(max_examples=500, deadline=None)
@given(st.dates(dt.date(1960, 1, 1), dt.date(2040, 12, 31)), st.dates(dt.date(1960, 1, 1), dt.date(2040, 12, 31)))
def test_vectorised_whole_years_agrees(start: dt.date, end: dt.date) -> None:
    years, _ = whole_years(np.array([(start - EPOCH).days]), np.array([(end - EPOCH).days]))
    assert int(years[0]) == whole_years_ref(start, end)


def test_bad_batches_are_refused() -> None:
    with pytest.raises(InputError, match="missing columns"):
        lowest_per_subject(pa.table({"subject": ["a"]}), dt.datetime.now(dt.UTC))
    bad = pa.Table.from_pylist([{"subject": "a", "lower": 1, "upper": None, "as_of": dt.date(2026, 1, 1),
                                 "observed": dt.date(2026, 1, 1), "level": "sworn", "expires_at": None,
                                 "birth_date": None}], schema=SCHEMA)
    with pytest.raises(InputError, match="unknown assurance level"):
        lowest_per_subject(bad, dt.datetime.now(dt.UTC))
