"""GPP strings and the usnat section: the IAB's published examples (GPP spec, iabgpp-java
test vectors), both KnownChildSensitiveDataConsents layouts, round trips, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent_encode import encode_gpp_header, encode_usnat
from tutela.errors import InputError
from tutela.guard import decode_gpp, decode_usnat, decode_usp

TC = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"


@pytest.mark.parametrize("text, ids", [
    (f"DBABMA~{TC}", (2,)), (f"DBABM~{TC}", (2,)), (f"DBACNYA~{TC}~1YNN", (2, 6)), (f"DBABjw~{TC}~1YNN", (5, 6)),
])
def test_gpp_spec_examples(text: str, ids: tuple[int, ...]) -> None:
    g = decode_gpp(text)
    assert g.section_ids == ids
    assert (g.tcfeuv2 is not None) == (2 in ids)
    assert (g.uspv1 is not None) == (6 in ids)


# iabgpp-java UsNatV1Test / UsNatTest vectors
def test_usnat_v1_legacy_two_child_entries() -> None:
    n = decode_usnat("BVVVkkkklWA.YA")
    assert n.version == 1 and n.gpc is True
    assert n.sensitive_data_processing == (2, 1, 0) * 4
    assert n.known_child_sensitive_data_consents == (2, 1)
    assert n.fields["MspaServiceProviderMode"] == 2 and n.opted_out()
    assert decode_usnat("BAAAVVVVUQA.QA").known_child_sensitive_data_consents == (1, 1)


def test_usnat_v1_three_child_entries_without_a_version_bump() -> None:
    n = decode_usnat("BVVVkkkkkpFY.YA")
    assert n.version == 1
    assert n.sensitive_data_processing == (2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2)
    assert n.known_child_sensitive_data_consents == (2, 1, 0)
    assert decode_usnat("BVVVkkkkkpFY").gpc is None


def test_usnat_v2() -> None:
    assert decode_usnat("CVVVkkkkkpFY.YA").known_child_sensitive_data_consents == (2, 1, 0)
    assert decode_usnat("CAAAVVVVVVRA.QA").known_child_sensitive_data_consents == (1, 1, 1)
    assert decode_usnat("CAAAVVVVAFBA.QA").sensitive_data_processing[-4:] == (0, 0, 0, 0)


two = st.integers(0, 2)


@settings(max_examples=150, deadline=None)
@given(layout=st.sampled_from([(1, 12, 2), (1, 16, 3), (2, 16, 3)]), data=st.data(), gpc=st.none() | st.booleans())
def test_usnat_round_trip(layout: tuple[int, int, int], data: st.DataObject, gpc: bool | None) -> None:
    version, n_sens, n_child = layout
    notices = data.draw(st.lists(two, min_size=9, max_size=9))
    sens = data.draw(st.lists(two, min_size=n_sens, max_size=n_sens))
    child = data.draw(st.lists(two, min_size=n_child, max_size=n_child))
    tail = data.draw(st.lists(two, min_size=4, max_size=4))
    n = decode_usnat(encode_usnat(version, notices, sens, child, tail, gpc))
    assert (n.version, list(n.sensitive_data_processing), list(n.known_child_sensitive_data_consents)) == (
        version, sens, child)
    assert n.gpc == gpc and n.fields["SaleOptOut"] == notices[6]
    assert n.known_child_without_consent() == (1 in child)


@settings(max_examples=80, deadline=None)
@given(ids=st.lists(st.integers(1, 20), min_size=1, max_size=6, unique=True))
def test_gpp_header_round_trip(ids: list[int]) -> None:
    sections = {2: TC, 6: "1YNN", 7: "BVVVkkkklWA.YA"}
    body = "~".join(sections.get(i, "AAAA") for i in sorted(ids))
    g = decode_gpp(f"{encode_gpp_header(ids)}~{body}")
    assert g.section_ids == tuple(sorted(ids))


@pytest.mark.parametrize("text, words", [
    ("BbbbGxsbFbA", "value 3"),              # an older IAB vector with the undefined value 3
    ("BVVVkkkkl", "not a known layout"),      # truncated core
    ("BVVVkkkklWB", "non-zero bits"),         # a third child entry squeezed into the legacy length
    ("z", "not a known layout"),
    ("BVVVkkkklWA.gA", "sub-section"),        # sub-section type 2 is not defined
])
def test_usnat_malformed(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        decode_usnat(text)


@pytest.mark.parametrize("text, words", [
    (f"DBACNYA~{TC}", "lists 2 section"), ("CBABMA~x", "header type"), (f"DBABMA~{TC[:20]}", "truncated"),
    ("DBABM", "lists 1 section"), ("DBABMA~", "empty"),
])
def test_gpp_malformed(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        decode_gpp(text)


@pytest.mark.parametrize("text", ["1YNN", "1---", "1NYY"])
def test_usp(text: str) -> None:
    assert decode_usp(text).opted_out() == (text[2] == "Y")


@pytest.mark.parametrize("text", ["", "1YN", "2YNN", "1YXN", "1YNNN"])
def test_usp_malformed(text: str) -> None:
    with pytest.raises(InputError):
        decode_usp(text)
