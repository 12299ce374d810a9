"""TCF v2 TC strings: the IAB's published examples, round trips of random consents, and
malformed strings that must be errors (never consent)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_encode import TC, encode_tc
from tutela.errors import InputError
from tutela.guard import decode_tcf

# From the IAB Tech Lab TCF v2 spec ("TC String Format") and the GPP spec's examples
SPEC_GLOBAL = (
    "COw4XqLOw4XqLAAAAAENAXCAAAAAAAAAAAAAAAAAAAAA.IFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAgEQACEABAAAgAQFAEAIAAAG"
    "BAAgAAAAQAIFAAMCQAAgAAQiRAEQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA.QFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAg"
    "EQACEABAAAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAAQiRAEQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA.YAAAAAAAAAAAAAAAAAA"
)
SPEC_SERVICE = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA.argAC0gAAAAAAAAAAAA"
GPP_SPEC_TC = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"


def test_spec_global_string_has_four_segments() -> None:
    tc = decode_tcf(SPEC_GLOBAL)
    assert (tc.version, tc.consent_language, tc.vendor_list_version) == (2, "EN", 23)
    assert tc.segments == ("disclosed_vendors", "allowed_vendors", "publisher_tc")
    assert tc.purpose_consents == () and not tc.is_service_specific


def test_spec_service_specific_string() -> None:
    tc = decode_tcf(SPEC_SERVICE)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen, tc.publisher_cc) == (21, 7, 2, "KM")
    assert tc.purpose_consents == (1, 3, 9, 10)
    assert tc.purpose_li == (3, 4, 5, 8, 9, 10)
    assert tc.special_feature_optins == (2,)
    assert tc.is_service_specific and tc.segments == ("publisher_tc",)
    assert tc.vendor_consents[:5] == (2, 3, 6, 7, 8) and 115 in tc.vendor_consents
    assert tc.vendor_li == (1, 9, 26, 27, 30, 36, 37, 43, 86, 97, 110, 113)


def test_gpp_spec_tc_string() -> None:
    tc = decode_tcf(GPP_SPEC_TC)
    assert (tc.cmp_id, tc.cmp_version, tc.vendor_list_version, tc.publisher_cc) == (31, 640, 126, "DE")
    assert tc.created == dt.datetime(2022, 4, 20, 22, 0, tzinfo=dt.UTC)
    assert not tc.consent(2) and not tc.legitimate_interest(2)


ids = st.lists(st.integers(1, 24), unique=True).map(lambda x: tuple(sorted(x)))
vendors = st.lists(st.integers(1, 700), unique=True, max_size=40).map(lambda x: tuple(sorted(x)))


@settings(max_examples=150, deadline=None)
@given(
    consents=ids,
    li=ids,
    special=st.lists(st.integers(1, 12), unique=True).map(lambda x: tuple(sorted(x))),
    vc=vendors,
    vli=vendors,
    ranges=st.booleans(),
    cmp_id=st.integers(0, 4095),
    lang=st.sampled_from(["EN", "IT", "DE"]),
    restr=st.lists(st.tuples(st.integers(1, 24), st.integers(0, 2), vendors.filter(bool)), max_size=3),
)
def test_round_trip(
    consents: tuple[int, ...],
    li: tuple[int, ...],
    special: tuple[int, ...],
    vc: tuple[int, ...],
    vli: tuple[int, ...],
    ranges: bool,
    cmp_id: int,
    lang: str,
    restr: list[tuple[int, int, tuple[int, ...]]],
) -> None:
    model = TC(
        consents=consents,
        li=li,
        special=special,
        vendor_consents=vc,
        vendor_li=vli,
        ranges=ranges,
        cmp_id=cmp_id,
        language=lang,
        restrictions=restr,
    )
    tc = decode_tcf(encode_tc(model))
    assert (tc.purpose_consents, tc.purpose_li, tc.special_feature_optins) == (consents, li, special)
    assert (tc.vendor_consents, tc.vendor_li, tc.cmp_id, tc.consent_language) == (vc, vli, cmp_id, lang)
    assert [(r.purpose, r.restriction, r.vendors) for r in tc.publisher_restrictions] == restr
    assert tc.created == model.created and tc.policy_version == 5


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(1, 40))
def test_every_truncation_is_an_error_not_consent(cut: int) -> None:
    text = encode_tc(TC(consents=(1, 2, 3, 4), vendor_consents=(5, 90, 400)))
    short = text[: max(1, len(text) - cut)]
    with pytest.raises(InputError) as err:
        decode_tcf(short, "user.consent")
    assert err.value.where == "user.consent" and "bit offset" in err.value.message


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "empty"),
        ("C!w", "not base64url"),
        ("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA", "version 1"),
        (GPP_SPEC_TC + ".7AAA", "unknown type"),
    ],
)
def test_malformed(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        decode_tcf(text, "user.consent")
