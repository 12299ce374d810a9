"""tutela.ledger.canonical against the `rfc8785` package (an independent RFC 8785 implementation)
on random values, and what it refuses."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.errors import InputError
from tutela.ledger.canonical import MAX_INT, canonical_json

# all of Unicode but lone surrogates, keys included (characters above U+FFFF sort differently in UTF-16)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
scalars = st.none() | st.booleans() | st.integers(-MAX_INT, MAX_INT) | text
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                      max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(values)
def test_canonical_json_is_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    value = {"\uffff": 1, "\U0001f600": 2, "a": 3}
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).index("\U0001f600".encode()) < canonical_json(value).index("\uffff".encode())


def test_escapes_follow_the_rfc() -> None:
    assert canonical_json({"s": 'a"b\\c\n\x01\x7f\u2028é'}) == b'{"s":"a\\"b\\\\c\\n\\u0001\x7f\xe2\x80\xa8\xc3\xa9"}'


@pytest.mark.parametrize(("value", "where", "says"), [
    ({"a": 1.5}, "a", "floating-point"),
    ({"a": [1, math.nan]}, "a[1]", "floating-point"),
    ({"a": {"b": math.inf}}, "a.b", "floating-point"),
    ({"n": 2**53}, "n", "outside"),
    ({"n": -(2**53)}, "n", "outside"),
    ({"s": "\ud800"}, "s", "surrogate"),
    ({1: "x"}, "value", "not a string"),
    ({"d": b"bytes"}, "d", "no canonical JSON form"),
])
def test_what_has_no_canonical_form_is_refused_by_name(value: Any, where: str, says: str) -> None:
    with pytest.raises(InputError) as err:
        canonical_json(value)
    assert err.value.where == where
    assert says in err.value.message
