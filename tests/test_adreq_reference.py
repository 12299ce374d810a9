"""The fast ad-request guard against the plain per-request reference (Hypothesis): identical
guarded request, changes, cited rules, facts and notes, or the identical error, on generated
bid requests including hostile ones (wrong types, huge arrays, nested junk, missing objects)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_encode import TC, encode_gpp_header, encode_tc, encode_usnat
from tutela.engine import Engine
from tutela.errors import InputError
from tutela.guard import consent_reference as consent
from tutela.guard import decode_gpp, decode_tcf, decode_usnat, decode_usp, guard_bid_request
from tutela.guard.adreq_reference import guard_reference
from tutela.guard.signals import is_ipv4

junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def maybe_bad(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually the right type, one time in eight anything at all."""
    return st.integers(0, 7).flatmap(lambda n: junk if n == 0 else good)


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
geo = st.fixed_dictionaries(
    {},
    optional={
        "country": st.sampled_from(["USA", "ITA", "DEU", "BRA", "IND", "GBR", "JPN", "usa"]),
        "region": st.sampled_from(["CA", "TX", "CO", "NY", "US-CT", ""]),
        "lat": st.floats(-90, 90),
        "lon": st.floats(-180, 180),
        "city": st.text(max_size=4),
        "zip": st.text(max_size=5),
        "metro": st.text(max_size=3),
    },
)
tc = st.builds(
    lambda c, s: encode_tc(TC(consents=tuple(sorted(c)), special=tuple(sorted(s)))),
    st.sets(st.integers(1, 11)),
    st.sets(st.integers(1, 2)),
)
usnat = st.builds(
    lambda n, c, g: encode_usnat(1, n, [0] * 16, c, [0, 1, 0, 0], g),
    st.lists(st.integers(0, 2), min_size=9, max_size=9),
    st.lists(st.integers(0, 2), min_size=3, max_size=3),
    st.none() | st.booleans(),
)
gpp = st.one_of(
    usnat.map(lambda u: (f"{encode_gpp_header([7])}~{u}", [7])),
    tc.map(lambda t: (f"{encode_gpp_header([2, 6])}~{t}~1YYN", [2, 6])),
    st.just(("DBABM~junk", [2])),
)
device = st.fixed_dictionaries(
    {},
    optional={
        "ip": maybe_bad(ipv4),
        "ipv6": maybe_bad(ipv6),
        "ifa": st.text(max_size=8),
        "macsha1": st.text(max_size=3),
        "didmd5": st.text(max_size=3),
        "geo": maybe_bad(geo),
        "ua": st.text(max_size=5),
        "ext": junk,
    },
)
user = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=4),
        "buyeruid": st.text(max_size=4),
        "yob": maybe_bad(st.integers(1900, 2030)),
        "gender": st.sampled_from(["M", "F", "O"]),
        "keywords": st.text(max_size=4),
        "geo": maybe_bad(geo),
        "eids": st.lists(junk, max_size=3) | st.just([{"source": "s"}] * 5000),
        "data": st.lists(junk, max_size=3),
        "consent": maybe_bad(tc),
        "ext": maybe_bad(st.fixed_dictionaries({}, optional={"eids": junk, "data": junk, "keep": junk})),
    },
)


@st.composite
def regs(draw: st.DrawFn) -> Any:
    out: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "coppa": maybe_bad(st.sampled_from([0, 1])),
                "gdpr": st.sampled_from([0, 1]),
                "us_privacy": st.sampled_from(["1YNN", "1NYN", "1---", "bad"]),
                "ext": junk,
            },
        )
    )
    if draw(st.booleans()):
        text, sid = draw(gpp)
        out["gpp"] = text
        if draw(st.booleans()):
            out["gpp_sid"] = sid if draw(st.booleans()) else [99]
    return out


requests = st.fixed_dictionaries(
    {"id": maybe_bad(st.text(max_size=4)), "imp": maybe_bad(st.just([{"id": "1"}]))},
    optional={
        "device": maybe_bad(device),
        "user": maybe_bad(user),
        "regs": maybe_bad(regs()),
        "site": maybe_bad(st.just({"keywords": "k"})),
        "app": st.just({"kwarray": ["a"]}),
        "ext": junk,
    },
)
grants = st.lists(
    st.fixed_dictionaries(
        {
            "scopes": st.lists(
                st.sampled_from(["marketing", "device_access", "sale_sharing", "collection", "third_party_disclosure"]),
                min_size=1,
                max_size=2,
            ),
            "by": st.sampled_from(["self", "parent"]),
            "assurance": st.sampled_from(["declared", "verified"]),
        }
    ),
    max_size=3,
)
subjects = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "jurisdiction": st.sampled_from(["US", "US-CA", "IT", "DE", "BR", "IN", "GB", "PT"]),
        "age": st.integers(0, 40),
        "grants": grants,
    },
)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet="0123456789.x:", max_size=16) | st.ip_addresses(v=4).map(str))
def test_fast_ipv4_check_equals_ipaddress(text: str) -> None:
    try:
        ipaddress.IPv4Address(text)
        expected = True
    except ValueError:
        expected = False
    assert is_ipv4(text) == expected


def _outcome(fn: Any, engine: Engine, req: Any, gpc: Any, subject: Any, day: dt.date) -> Any:
    try:
        return fn(engine, req, gpc=gpc, subject=subject, on=day).to_dict()
    except InputError as exc:
        return ("error", exc.where, exc.message)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    req=requests | junk,
    gpc=st.none() | st.booleans(),
    subject=subjects,
    day=st.sampled_from([dt.date(2026, 3, 1), dt.date(2026, 12, 3), dt.date(2027, 6, 1)]),
)
def test_fast_path_equals_reference(engine: Engine, req: Any, gpc: Any, subject: Any, day: dt.date) -> None:
    assert _outcome(guard_bid_request, engine, req, gpc, subject, day) == _outcome(
        guard_reference, engine, req, gpc, subject, day
    )


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _same(fast: Any, slow: Any, text: str) -> None:
    def run(fn: Any) -> Any:
        try:
            return fn(text, "x")
        except InputError as exc:
            return ("error", exc.where, exc.message)

    assert run(fast) == run(slow)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A valid string, then perhaps cut, perhaps a character changed, perhaps a piece appended."""
    text = draw(base)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    if text and draw(st.booleans()):
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + draw(st.sampled_from(B64 + ".~!")) + text[i + 1 :]
    if draw(st.booleans()):
        text += draw(st.text(alphabet=B64 + ".~", max_size=6))
    return text


@settings(max_examples=300, deadline=None)
@given(text=mutated(tc) | st.text(alphabet=B64 + ".", max_size=60))
def test_tcf_decoders_agree(text: str) -> None:
    _same(decode_tcf, consent.tcf, text)


@settings(max_examples=300, deadline=None)
@given(text=mutated(gpp.map(lambda g: g[0])) | mutated(usnat) | st.text(alphabet=B64 + ".~", max_size=30))
def test_gpp_and_usnat_decoders_agree(text: str) -> None:
    _same(decode_gpp, consent.gpp, text)
    _same(decode_usnat, consent.usnat, text)


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet="1YN-2x", max_size=5))
def test_usp_decoders_agree(text: str) -> None:
    _same(decode_usp, consent.usp, text)
