"""Deadlines of rights requests: cited data, month arithmetic, extensions, overdue; staff tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
import yaml

from tutela.api.auth import StaffConfigError, StaffTokens, hash_token
from tutela.errors import RulebookError
from tutela.rights.deadlines import add_months, load_deadlines

EU = ["NL", "EU-GDPR", "EU-EPRIVACY", "EU-DSA"]
D = dt.date


@pytest.mark.parametrize(("start", "months", "end"), [
    (D(2026, 1, 15), 1, D(2026, 2, 15)),
    (D(2026, 1, 31), 1, D(2026, 2, 28)),   # no 31 Feb: the month's last day
    (D(2028, 1, 31), 1, D(2028, 2, 29)),   # leap year
    (D(2026, 3, 31), 1, D(2026, 4, 30)),
    (D(2026, 12, 31), 1, D(2027, 1, 31)),  # across the year
    (D(2026, 11, 30), 3, D(2027, 2, 28)),
    (D(2026, 2, 28), 1, D(2026, 3, 28)),   # not "end of month to end of month"
])
def test_add_months_clamps_to_the_last_day(start: dt.date, months: int, end: dt.date) -> None:
    assert add_months(start, months) == end


def test_every_entry_is_cited_and_effective_dated() -> None:
    book = load_deadlines()
    assert {e.id for e in book.entries} >= {"EU-GDPR.art12-3", "UK-GDPR.art12-3", "US-COPPA.312-6",
                                             "US-CA-CCPA.1798-130-a-2"}
    for e in book.entries:
        assert e.citation.instrument and e.citation.section and e.citation.url.startswith("https://")
        assert e.effective_from is not None
        assert e.status in ("enforced", "unverified")


def test_gdpr_one_month_month_end_and_extension() -> None:
    book = load_deadlines()
    due = book.due(EU, "access", D(2026, 1, 31))
    assert due.due == D(2026, 2, 28) and not due.extended and not due.no_fixed_period
    assert due.extendable_until == D(2026, 2, 28)
    assert [b["id"] for b in due.basis] == ["EU-GDPR.art12-3"]
    assert due.basis[0]["section"] == "Art. 12(3)"
    longer = book.due(EU, "access", D(2026, 1, 31), extended=True)
    assert longer.due == D(2026, 4, 28)  # two further months from the end of the first: the stricter count
    assert book.due(EU, "erasure", D(2028, 1, 31)).due == D(2028, 2, 29)


def test_overdue_is_against_today_and_only_while_open() -> None:
    due = load_deadlines().due(EU, "erasure", D(2026, 3, 2))
    assert due.due == D(2026, 4, 2)
    assert not due.overdue(D(2026, 4, 2), open_=True)  # the due day itself is in time
    assert due.overdue(D(2026, 4, 3), open_=True)
    assert not due.overdue(D(2026, 4, 3), open_=False)  # a closed request is not overdue


def test_uk_before_and_after_article_12a() -> None:
    book = load_deadlines()
    old = book.due(["GB", "UK-GDPR"], "access", D(2025, 6, 30))
    new = book.due(["GB", "UK-GDPR"], "access", D(2026, 6, 30))
    assert [b["id"] for b in old.basis] == ["UK-GDPR.art12-3"] and old.due == D(2025, 7, 30)
    assert [b["id"] for b in new.basis] == ["UK-GDPR.art12-3-12A"] and new.due == D(2026, 7, 30)


def test_coppa_sets_no_period_and_only_for_children_under_13() -> None:
    book = load_deadlines()
    us = ["US", "US-FTC", "US-COPPA"]
    child = book.due(us, "erasure", D(2026, 3, 1), age=11)
    assert child.due is None and child.no_fixed_period and child.extendable_until is None
    assert child.basis[0]["id"] == "US-COPPA.312-6" and child.basis[0]["due"] is None
    teen = book.due(us, "erasure", D(2026, 3, 1), age=15)
    assert teen.basis == [] and teen.due is None and not teen.no_fixed_period
    unknown_age = book.due(us, "erasure", D(2026, 3, 1), age=None)
    assert unknown_age.no_fixed_period  # age unknown: the stricter reading, the parent's right applies


def test_california_45_days_plus_45_and_coppa_together() -> None:
    book = load_deadlines()
    ca = ["US-CA", "US-FTC", "US-COPPA"]
    due = book.due(ca, "access", D(2026, 3, 1), age=11)
    assert due.due == D(2026, 4, 15) and due.no_fixed_period  # the CCPA date; COPPA's flag stays
    assert book.due(ca, "access", D(2026, 3, 1), age=11, extended=True).due == D(2026, 5, 30)
    assert book.due(ca, "access", D(2022, 6, 1), age=15).due is None  # before the text Tutela checked


def _write(tmp_path: Path, entries: list[dict[str, object]]) -> Path:
    p = tmp_path / "deadlines.yaml"
    p.write_text(yaml.safe_dump({"deadlines": entries}))
    return p


CITE = {"instrument": "Example Act", "section": "s. 1", "url": "https://example.test/act"}


def test_unverified_entries_are_listed_never_enforced(tmp_path: Path) -> None:
    book = load_deadlines(_write(tmp_path, [
        {"id": "XX-LAW.s1", "title": "ten days, from a blog", "applies_to": ["NL"], "period": {"days": 10},
         "status": "unverified", "citation": CITE, "effective_from": "2020-01-01"},
        {"id": "EU-GDPR.art12-3", "title": "one month", "applies_to": ["EU-GDPR"], "period": {"months": 1},
         "status": "enforced", "citation": CITE, "effective_from": "2018-05-25"},
    ]))
    due = book.due(EU, "access", D(2026, 5, 1))
    assert due.due == D(2026, 6, 1) and due.unverified == ["XX-LAW.s1"]


@pytest.mark.parametrize(("entry", "where", "message"), [
    ({"period": {"months": 1, "days": 3}}, "deadlines.XX-LAW.s1.period", "exactly one"),
    ({"period": None, "extension": {"days": 5}}, "deadlines.XX-LAW.s1", "`extension` needs a `period`"),
    ({"citation": {**CITE, "url": "example.test"}}, "deadlines.XX-LAW.s1.citation.url", "pattern"),
    ({"status": "probably"}, "deadlines.XX-LAW.s1.status", "input should be"),
    ({"colour": "red"}, "deadlines.XX-LAW.s1.colour", "unknown field"),
    ({"effective_from": "someday"}, "deadlines.XX-LAW.s1.effective_from", "date"),
])
def test_bad_deadline_data_names_the_entry_and_field(tmp_path: Path, entry: dict[str, object], where: str,
                                                     message: str) -> None:
    base = {"id": "XX-LAW.s1", "title": "a law", "applies_to": ["NL"], "period": {"days": 10},
            "status": "enforced", "citation": CITE, "effective_from": "2020-01-01"}
    with pytest.raises(RulebookError) as err:
        load_deadlines(_write(tmp_path, [{**base, **entry}]))
    assert err.value.where is not None and err.value.where.endswith(where)
    assert message in err.value.message


def test_staff_tokens_are_hashed_and_matched() -> None:
    secret = "s3cret-token-for-alice"
    tokens = StaffTokens.from_env(f"alice={secret}, bob={hash_token('bobs-token-0123456789')}")
    assert tokens.who(secret) == "alice"
    assert tokens.who("bobs-token-0123456789") == "bob"
    assert tokens.who("nope") is None and tokens.who("") is None
    assert all(secret not in repr(h) for h in tokens.hashes)
    assert tokens.hashes[0][1] == hashlib.sha256(secret.encode()).digest()
    assert not StaffTokens.from_env("")


@pytest.mark.parametrize("value", ["justatoken", "alice=short", "al ice=long-enough-token-x", "bob=sha256:abc"])
def test_malformed_staff_tokens_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(StaffConfigError) as err:
        StaffTokens.from_env(value)
    secret = value.partition("=")[2]
    assert not secret or secret not in str(err.value)
