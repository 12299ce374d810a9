"""Age signals: the query engine's regex pre-filter never misses what Presidio finds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.audit.signals import REGEXES, stated_ages

FORMS = ["I'm {a}", "im {a}", "I am {a}", "I am {a} years old", "{a} y/o", "{a}yo", "age {a}", "{a} years old"]


def test_documented_forms() -> None:
    for form in FORMS:
        for a in (5, 11, 17):
            assert stated_ages(f"hello {form.format(a=a)} :)") == [a] * len(stated_ages(form.format(a=a))), form
            assert min(stated_ages(form.format(a=a))) == a
    assert stated_ages("I'm 25 years old") == []
    assert stated_ages("im 4") == []
    assert stated_ages(None) == []


words = st.sampled_from(["hi", "I'm", "im", "I am", "age", "years old", "yo", "y/o", "lol", "12", "9", "30", "7yo",
                         "i am 13", "Age: 15", "\n", "!!"])


@settings(max_examples=400, deadline=None)
@given(st.lists(words, max_size=12).map(" ".join))
def test_prefilter_keeps_every_text_with_a_signal(text: str) -> None:
    prefilter = any(re.search(rx, text) for rx in REGEXES)
    if stated_ages(text):
        assert prefilter
