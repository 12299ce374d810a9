"""The neutral age gate page (GET/POST /age-gate) over HTTP: no threshold in the markup, nothing
pre-filled, one way on, CSRF, the same answer page for every result, sticky, rate limited."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tutela.engine import Engine
from tutela.web import create_app


def _token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


def _visible(html: str) -> str:
    """The page's text without tags, option lists and attribute values."""
    html = re.sub(r"<select.*?</select>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_markup_reveals_no_threshold_and_nudges_nowhere(engine: Engine) -> None:
    c = TestClient(create_app(engine))
    for code in ("NL", "IT", "DE", "US"):
        page = c.get(f"/age-gate?jurisdiction={code}")
        assert page.status_code == 200
        threshold = engine.age_threshold(code)
        text = _visible(page.text).lower()
        assert str(threshold) not in text and not re.search(r"\b\d{1,2}\b", text)  # no age number at all
        for nudge in ("must be", "at least", "older than", "over ", "under ", "old enough", "years old"):
            assert nudge not in text, nudge
        assert "selected" not in page.text and 'value="' not in re.sub(
            r'<(input type="hidden"|option)[^>]*>', "", page.text)  # nothing pre-filled, no year offered
        assert len(re.findall(r"<button", page.text)) == 1  # one way on: no "I am over N" beside it
        assert len(re.findall(r"<option value=\"\d+\">", page.text)) == 31 + 12  # days and months, no years
    assert c.get("/age-gate?jurisdiction=XX").status_code == 422


def test_answers_look_the_same_stick_and_need_csrf(engine: Engine) -> None:
    c = TestClient(create_app(engine))
    page = c.get("/age-gate?jurisdiction=NL")
    form = {"csrf": _token(page.text), "jurisdiction": "NL", "day": "1", "month": "5", "year": "2015"}
    assert c.post("/age-gate", data={**form, "csrf": "x" * 43}).status_code == 403
    assert c.post("/age-gate", data={k: v for k, v in form.items() if k != "csrf"}).status_code == 403
    young = c.post("/age-gate", data=form)
    assert young.status_code == 200 and 'data-experience="restricted"' in young.text
    older = c.post("/age-gate", data={**form, "year": "1990"})  # the same browser tries again: it sticks
    assert 'data-experience="restricted"' in older.text
    adult = TestClient(create_app(engine))
    p2 = adult.get("/age-gate?jurisdiction=NL")
    grown = adult.post("/age-gate", data={**form, "csrf": _token(p2.text), "year": "1990"})
    assert 'data-experience="standard"' in grown.text
    same = lambda html: re.sub(r'data-experience="\w+"|name="csrf" value="[^"]+"', "", html)  # noqa: E731
    assert same(young.text) == same(grown.text)  # the user sees the same page either way
    bad = adult.post("/age-gate", data={**form, "csrf": _token(p2.text), "day": "31", "month": "2"})
    assert bad.status_code == 422 and "Please enter a valid date of birth." in bad.text
    codes = [adult.post("/age-gate", data={**form, "csrf": _token(p2.text)}).status_code for _ in range(6)]
    assert codes[-1] == 429  # five attempts per gate session in ten minutes
