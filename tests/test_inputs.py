"""Bad decision inputs raise `InputError` whose `where` names the field (or batch row/column)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from tutela.engine import Engine
from tutela.errors import InputError, InvalidRequestError, UnknownKeyError

BASE: dict[str, Any] = {
    "subject": {"jurisdiction": "IT", "age": 13},
    "act": {"category": "user.contact.email", "use": "essential.service", "at": "2026-12-01"},
}
_DELETE = object()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def mod(*path: str, value: Any = _DELETE, base: dict[str, Any] | None = None) -> dict[str, Any]:
    req = copy.deepcopy(base or BASE)
    node = req
    for k in path[:-1]:
        node = node[k]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return req


def subject(**kw: Any) -> dict[str, Any]:
    return {"subject": {"jurisdiction": "IT", **kw}, "act": copy.deepcopy(BASE["act"])}


BAD: dict[str, tuple[Any, type[InputError], str]] = {
    # name: (request, error class, where)
    "unknown-jurisdiction": (mod("subject", "jurisdiction", value="XX"), UnknownKeyError,
                             "subject.jurisdiction"),
    "lowercase-jurisdiction": (mod("subject", "jurisdiction", value="it"), UnknownKeyError,
                               "subject.jurisdiction"),
    "jurisdiction-not-a-string": (mod("subject", "jurisdiction", value=12), InvalidRequestError,
                                  "subject.jurisdiction"),
    "unknown-category": (mod("act", "category", value="user.nope"), UnknownKeyError, "act.category"),
    "unknown-use": (mod("act", "use", value="nope"), UnknownKeyError, "act.use"),
    "unknown-scope": (mod("subject", "grants", value=[{"scopes": ["telepathy"], "by": "self"}]),
                      UnknownKeyError, "subject.grants[0].scopes"),
    "grant-by-unknown": (mod("subject", "grants", value=[{"scopes": ["processing"], "by": "uncle"}]),
                         InvalidRequestError, "subject.grants[0].by"),
    "grant-no-scopes": (mod("subject", "grants", value=[{"scopes": [], "by": "self"}]),
                        InvalidRequestError, "subject.grants[0].scopes"),
    "grants-not-a-list": (mod("subject", "grants", value="all"), InvalidRequestError, "subject.grants"),
    "malformed-date-month": (mod("act", "at", value="2026-13-01"), InvalidRequestError, "act.at"),
    "malformed-date-word": (mod("act", "at", value="yesterday"), InvalidRequestError, "act.at"),
    "malformed-birth-date": (subject(birth_date="2010-02-30"), InvalidRequestError, "subject.birth_date"),
    "birth-after-act": (subject(birth_date="2027-01-01"), InvalidRequestError, "subject.birth_date"),
    "birth-impossibly-early": (subject(birth_date="1800-01-01"), InvalidRequestError,
                               "subject.birth_date"),
    "age-200": (mod("subject", "age", value=200), InvalidRequestError, "subject.age"),
    "age-negative": (mod("subject", "age", value=-1), InvalidRequestError, "subject.age"),
    "age-a-word": (mod("subject", "age", value="thirteen"), InvalidRequestError, "subject.age"),
    "age-range-inverted": (subject(age_range=[15, 12]), InvalidRequestError, "subject.age_range"),
    "age-range-too-high": (subject(age_range=[10, 200]), InvalidRequestError, "subject.age_range"),
    "age-range-one-number": (subject(age_range=[12]), InvalidRequestError, "subject.age_range[1]"),
    "no-age-at-all": (mod("subject", "age"), InvalidRequestError, "subject"),
    "two-ages": (subject(age=13, birth_date="2010-01-01"), InvalidRequestError, "subject"),
    "recipient-unknown": (mod("act", "recipient", value="friend"), InvalidRequestError, "act.recipient"),
    "destination-not-iso": (mod("act", "destination", value="India"), InvalidRequestError,
                            "act.destination"),
    "destination-lowercase": (mod("act", "destination", value="in"), InvalidRequestError,
                              "act.destination"),
    "safeguard-unknown": (mod("act", "safeguards", value=["bcr"]), InvalidRequestError,
                          "act.safeguards[0]"),
    "certified-not-bool": (mod("act", "recipient_certified", value="maybe"), InvalidRequestError,
                           "act.recipient_certified"),
    "extra-field-subject": (mod("subject", "colour", value="red"), InvalidRequestError,
                            "subject.colour"),
    "extra-field-act": (mod("act", "colour", value="red"), InvalidRequestError, "act.colour"),
    "extra-field-top": (mod("colour", value="red"), InvalidRequestError, "colour"),
    "extra-field-grant": (mod("subject", "grants", value=[{"scopes": ["processing"], "by": "self",
                                                           "colour": "red"}]),
                          InvalidRequestError, "subject.grants[0].colour"),
    "no-subject": (mod("subject"), InvalidRequestError, "subject"),
    "no-act": (mod("act"), InvalidRequestError, "act"),
    "no-category": (mod("act", "category"), InvalidRequestError, "act.category"),
    "subject-a-string": (mod("subject", value="IT"), InvalidRequestError, "subject"),
    "not-an-object": ([1, 2], InvalidRequestError, "(request)"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_request(engine: Engine, name: str) -> None:
    request, cls, where = BAD[name]
    with pytest.raises(InputError) as info:
        engine.decide(request)
    err = info.value
    assert isinstance(err, cls), (type(err), err)
    assert err.where == where, str(err)
    assert err.message and not err.message[0].isupper(), err.message
    assert err.to_dict()["where"] == where
    # the reference path validates the same way
    with pytest.raises(cls):
        engine.decide_reference(request)


def test_good_request_is_fine(engine: Engine) -> None:
    assert engine.decide(BASE).effect in ("allow", "deny", "allow_with_obligations")


def test_pattern_in_message_keeps_its_case(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError) as info:
        engine.decide(mod("act", "destination", value="India"))
    assert "[A-Z]" in info.value.message


def test_decide_many_names_the_index_of_a_malformed_request(engine: Engine) -> None:
    bad = mod("subject", "age", value=200)
    with pytest.raises(InvalidRequestError) as info:
        engine.decide_many([BASE, BASE, bad, BASE])
    assert info.value.where == "[2].subject.age"


def test_decide_many_names_the_index_of_a_non_object(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError) as info:
        engine.decide_many([BASE, "nope"])
    assert info.value.where is not None and "[1]" in info.value.where


def test_decide_many_names_the_index_of_an_unknown_key(engine: Engine) -> None:
    with pytest.raises(UnknownKeyError) as info:
        engine.decide_many([BASE, BASE, mod("act", "category", value="user.nope")])
    assert info.value.where == "[2].act.category"


def test_decide_many_fails_whole(engine: Engine) -> None:
    with pytest.raises(InputError):
        engine.decide_many([BASE, mod("act", "use", value="nope")])
    assert len(engine.decide_many([BASE, BASE])) == 2


# -- Arrow batches ----------------------------------------------------------------------------

def table(**kw: Any) -> pa.Table:
    cols: dict[str, Any] = dict(
        jurisdiction=["IT", "US", "DE"], age=[13, 10, 30],
        category=["user.contact.email"] * 3, use=["essential.service"] * 3,
        at=pa.array([dt.date(2026, 1, 1)] * 3, pa.date32()),
    )
    cols.update(kw)
    return pa.table({k: v for k, v in cols.items() if v is not None})


ARROW_BAD: dict[str, tuple[pa.Table, type[InputError], str]] = {
    "unknown-jurisdiction": (table(jurisdiction=["IT", "US", "XX"]), UnknownKeyError,
                             "batch[2].jurisdiction"),
    "unknown-jurisdiction-dict": (table(jurisdiction=pa.array(["IT", "XX", "US"]).dictionary_encode()),
                                  UnknownKeyError, "batch[1].jurisdiction"),
    "null-jurisdiction": (table(jurisdiction=["IT", None, "US"]), InvalidRequestError,
                          "batch[1].jurisdiction"),
    "null-category": (table(category=["user.contact.email", "user.contact.email", None]),
                      InvalidRequestError, "batch[2].category"),
    "null-at": (table(at=pa.array([dt.date(2026, 1, 1), None, None], pa.date32())),
                InvalidRequestError, "batch[1].at"),
    "null-age": (table(age=[None, 10, 30]), InvalidRequestError, "batch[0].age"),
    "missing-category": (table(category=None), InvalidRequestError, "batch"),
    "missing-use": (table(use=None), InvalidRequestError, "batch"),
    "missing-at": (table(at=None), InvalidRequestError, "batch"),
    "missing-age-and-birth-date": (table(age=None), InvalidRequestError, "batch"),
    "at-not-a-date": (table(at=["2026-01-01"] * 3), InvalidRequestError, "batch.at"),
    "unknown-category": (table(category=["user.contact.email", "nope", "user.contact.email"]),
                         UnknownKeyError, "batch[1].category"),
    "unknown-use": (table(use=["essential.service", "essential.service", "nope"]), UnknownKeyError,
                    "batch[2].use"),
    "unknown-recipient": (table(recipient=["first_party", "friend", None]), UnknownKeyError,
                          "batch[1].recipient"),
    "bad-destination": (table(destination=["DE", None, "india"]), UnknownKeyError,
                        "batch[2].destination"),
    "bad-grant": (table(grants=["", "telepathy:self:verified", None]), InvalidRequestError,
                  "batch[1].grants"),
    "age-200": (table(age=[13, 200, 30]), InvalidRequestError, "batch[1].age"),
    "unread-gpc": (table().append_column("gpc", pa.array([True, False, True])), InvalidRequestError, "batch.gpc"),
    "birth-after-act": (table(age=None, birth_date=pa.array(
        [dt.date(2010, 1, 1), dt.date(2010, 1, 1), dt.date(2027, 1, 1)], pa.date32())),
        InvalidRequestError, "batch[2].birth_date"),
}


@pytest.mark.parametrize("name", list(ARROW_BAD))
def test_bad_arrow_batch(engine: Engine, name: str) -> None:
    t, cls, where = ARROW_BAD[name]
    with pytest.raises(InputError) as info:
        engine.decide_arrow(t)
    assert isinstance(info.value, cls), (type(info.value), info.value)
    assert info.value.where == where, str(info.value)


def test_missing_column_is_named(engine: Engine) -> None:
    with pytest.raises(InvalidRequestError) as info:
        engine.decide_arrow(table(use=None))
    assert "`use`" in info.value.message


def test_good_arrow_batch(engine: Engine) -> None:
    res = engine.decide_arrow(table(destination=["DE", None, "ZZ"], grants=[None, "", "processing:self:declared"]))
    assert len(res) == 3


UNREAD = {  # accepted once and read by no rule: refused with the reason, never silently ignored
    "gpc": ({"gpc": True}, "subject"),
    "age_assurance": ({"age_assurance": "verified"}, "subject"),
    "method": ({"grants": [{"scopes": ["processing"], "by": "parent", "method": "card_check"}]}, "subject.grants[0]"),
    "notice_version": ({"grants": [{"scopes": ["processing"], "by": "parent", "notice_version": "v3"}]},
                       "subject.grants[0]"),
}


@pytest.mark.parametrize("name", list(UNREAD))
def test_inputs_no_rule_reads_are_refused(engine: Engine, name: str) -> None:
    extra, where = UNREAD[name]
    req = {"subject": {"jurisdiction": "NL", "age": 12, **extra}, "act": {"category": "user", "use": "essential"}}
    for reference in (False, True):
        with pytest.raises(InputError) as info:
            engine.decide(req, reference=reference)
        assert info.value.where == where and f"`{name}` is not accepted" in info.value.message, str(info.value)
