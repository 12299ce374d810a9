"""Masking strategies: each against a per-value oracle, idempotency as properties, Fides configs."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
from collections.abc import Iterator
from unittest import mock

import pyarrow as pa
import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.connectors.strategies import KEY_ENV, Strategy, changed, decrypt, mask, parse_strategy, require_ready
from tutela.datamap.masking import STRATEGIES, config_problem
from tutela.errors import InputError

KEY = "test-key-not-a-secret-0123456789"


@pytest.fixture(autouse=True)
def _key() -> Iterator[None]:
    with mock.patch.dict(os.environ, {KEY_ENV: KEY}):
        yield


def S(name: str, **config: object) -> Strategy:
    return Strategy(strategy=name, configuration=dict(config))


TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["h:" + "0" * 64, "h:zz", "192.0.2.9"]))
IPS = st.one_of(st.none(), st.ip_addresses().map(str), st.sampled_from(["", "bogus", " 10.1.2.3 ", "::1"]))
FLOATS = st.one_of(st.none(), st.floats(min_value=-180, max_value=180, allow_nan=False))


def test_null_rewrite_and_string_rewrite() -> None:
    arr = pa.array(["a", None, "b"])
    assert mask(S("null_rewrite"), arr).to_pylist() == [None, None, None]
    assert mask(S("string_rewrite", rewrite_value="[erased]"), arr).to_pylist() == ["[erased]", None, "[erased]"]
    assert mask(S("string_rewrite", rewrite_value="0"), pa.array([5, None], pa.int64())).to_pylist() == [0, None]
    assert mask(S("preserve"), arr).to_pylist() == ["a", None, "b"]


def test_hash_is_hmac_with_the_environment_key() -> None:
    out = mask(S("hash"), pa.array(["alice@example.test", None, "alice@example.test"]))
    expected = "h:" + hmac.new(KEY.encode(), b"alice@example.test", hashlib.sha256).hexdigest()
    assert out.to_pylist() == [expected, None, expected]
    sha512 = mask(S("hmac", algorithm="SHA-512", format_preservation={"suffix": "@masked.test"}), pa.array(["x"]))
    assert sha512[0].as_py() == "h:" + hmac.new(KEY.encode(), b"x", hashlib.sha512).hexdigest() + "@masked.test"
    with mock.patch.dict(os.environ, {KEY_ENV: "another-key-0123456789"}):
        assert mask(S("hash"), pa.array(["alice@example.test"]))[0].as_py() != expected


def test_coarsen_location_and_truncate_ip_match_their_oracles() -> None:
    assert mask(S("coarsen_location"), pa.array([52.3702, -4.8951, None])).to_pylist() == [52.4, -4.9, None]
    assert mask(S("coarsen_location", decimals=0), pa.array([52.6])).to_pylist() == [53.0]
    ips = ["192.0.2.77", "2001:db8:abcd:12::9", "bogus", None]
    assert mask(S("truncate_ip"), pa.array(ips)).to_pylist() == ["192.0.2.0", "2001:db8:abcd::", None, None]
    assert mask(S("truncate_ip", ipv4_bits=16), pa.array(["10.9.8.7"])).to_pylist() == ["10.9.0.0"]


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, max_size=20), st.sampled_from([("hash", {}), ("hmac", {"algorithm": "SHA-512"}),
                                                      ("string_rewrite", {"rewrite_value": "x"}),
                                                      ("null_rewrite", {}), ("preserve", {}), ("aes_encrypt", {}),
                                                      ("string_rewrite", {"rewrite_value": "x",
                                                                          "format_preservation": {"suffix": "@m"}})]))
def test_text_strategies_are_idempotent_and_keep_nulls(values: list[str | None], spec: tuple[str, dict]) -> None:
    s = Strategy(strategy=spec[0], configuration=spec[1])
    once = mask(s, pa.array(values, pa.string()))
    twice = mask(s, once)
    assert once.to_pylist() == twice.to_pylist()
    assert not any(changed(once, twice).to_pylist())
    assert all(a is None for v, a in zip(values, once.to_pylist(), strict=True) if v is None)


@settings(max_examples=200, deadline=None)
@given(st.lists(IPS, max_size=20), st.integers(0, 32), st.integers(0, 128))
def test_truncate_ip_is_idempotent_and_per_value(values: list[str | None], v4: int, v6: int) -> None:
    s = S("truncate_ip", ipv4_bits=v4, ipv6_bits=v6)
    once = mask(s, pa.array(values, pa.string()))
    assert mask(s, once).to_pylist() == once.to_pylist()
    for v, out in zip(values, once.to_pylist(), strict=True):  # per-value oracle
        try:
            ip = ipaddress.ip_address((v or "").strip())
        except ValueError:
            assert out is None
            continue
        net = ipaddress.ip_network(f"{ip}/{v4 if ip.version == 4 else v6}", strict=False)
        assert out == str(net.network_address)


@settings(max_examples=200, deadline=None)
@given(st.lists(FLOATS, max_size=20), st.integers(0, 6))
def test_coarsen_location_is_idempotent(values: list[float | None], decimals: int) -> None:
    s = S("coarsen_location", decimals=decimals)
    once = mask(s, pa.array(values, pa.float64()))
    assert mask(s, once).to_pylist() == once.to_pylist()
    for v, out in zip(values, once.to_pylist(), strict=True):
        assert (out is None) == (v is None)
        if v is not None:
            assert abs(out - v) <= 0.5 * 10 ** -decimals + 1e-9


def test_changed_treats_null_and_nan_as_equal() -> None:
    before = pa.array([None, float("nan"), 1.0, 2.0, None])
    after = pa.array([None, float("nan"), 1.0, 3.0, 4.0])
    assert changed(before, after).to_pylist() == [False, False, False, True, True]


def test_missing_or_short_key_fails_before_any_write() -> None:
    with mock.patch.dict(os.environ, {KEY_ENV: ""}):
        with pytest.raises(InputError, match=KEY_ENV) as info:
            require_ready([S("null_rewrite"), S("hash")])
        assert info.value.hint and KEY_ENV in info.value.hint
        require_ready([S("null_rewrite"), S("coarsen_location")])  # no key needed
    with mock.patch.dict(os.environ, {KEY_ENV: "short"}):
        with pytest.raises(InputError, match="shorter than 16"):
            require_ready([S("hmac")])


@pytest.mark.parametrize(("raw", "message"), [
    ({"strategy": "rot13"}, "unknown masking strategy `rot13`"),
    ({"strategy": "aes_encrypt", "configuration": {"mode": "CBC"}}, "GCM"),
    ({"strategy": "random_string_rewrite", "configuration": {"length": 0}}, "greater than or equal to 1"),
    ({"strategy": "hash", "configuration": {"salt": "x"}}, "unknown field"),
    ({"strategy": "hash", "configuration": {"algorithm": "MD5"}}, "SHA-256"),
    ({"strategy": "string_rewrite"}, "field required"),
    ({"strategy": "coarsen_location", "configuration": {"decimals": 9}}, "less than or equal to 6"),
    ({"strategy": "null_rewrite", "configuration": {"bogus": 1}}, "unknown field"),
])
def test_bad_strategies_are_input_errors_naming_where(raw: dict, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_strategy(raw, "shop.yml: customer.email")
    assert info.value.where is not None and info.value.where.startswith("shop.yml: customer.email")


def test_wrong_field_types_and_row_level_strategies_name_the_field() -> None:
    with pytest.raises(InputError, match="needs a text field") as info:
        mask(S("hash"), pa.array([1, 2]), "accounts.age")
    assert info.value.where == "accounts.age"
    with pytest.raises(InputError, match="needs a number field"):
        mask(S("coarsen_location"), pa.array(["52.1"]), "media.lat")
    with pytest.raises(InputError, match="does not fit"):
        mask(S("string_rewrite", rewrite_value="x"), pa.array([1]), "t.n")
    with pytest.raises(InputError, match="media files"):
        mask(S("strip_location"), pa.array(["a.jpg"]), "media.path")
    with pytest.raises(InputError, match="collection-level"):
        mask(S("delete"), pa.array(["a"]), "t.a")


def test_max_length_covers_what_is_written() -> None:
    assert S("hash").max_length() == len(mask(S("hash"), pa.array(["v"]))[0].as_py())
    assert S("hmac", algorithm="SHA-512", format_preservation={"suffix": "@x"}).max_length() == 2 + 128 + 2
    assert S("string_rewrite", rewrite_value="[erased]").max_length() == 8
    assert S("null_rewrite").max_length() is None


def test_fides_options_run_as_fides_writes_them() -> None:
    rewrite = S("string_rewrite", rewrite_value="MASKED", format_preservation={"suffix": "@masked.test"})
    assert mask(rewrite, pa.array(["a", None])).to_pylist() == ["MASKED@masked.test", None]
    assert mask(rewrite, mask(rewrite, pa.array(["a"]))).to_pylist() == ["MASKED@masked.test"]
    rnd = S("random_string_rewrite", length=12, format_preservation={"suffix": "@x.test"})
    out = mask(rnd, pa.array(["same", "same", None])).to_pylist()
    assert all(re.fullmatch(r"[a-z0-9]{12}@x\.test", v) for v in out[:2]) and out[2] is None
    assert out[0] != out[1]  # per row, random (Fides' semantics): not idempotent, documented
    assert len(mask(S("random_string_rewrite"), pa.array(["v"]))[0].as_py()) == 30  # Fides' default length
    assert rnd.max_length() == 12 + len("@x.test")


def test_aes_encrypt_is_convergent_idempotent_and_decrypts() -> None:
    aes = S("aes_encrypt", mode="GCM", format_preservation={"suffix": "-enc"})
    once = mask(aes, pa.array(["4 Example Lane", "4 Example Lane", None, "other"]))
    values = once.to_pylist()
    assert values[0] == values[1] and values[2] is None and values[3] != values[0]  # equal in, equal out
    assert values[0].startswith("a:") and values[0].endswith("-enc") and "Example" not in values[0]
    assert decrypt(values[0], {"format_preservation": {"suffix": "-enc"}}) == "4 Example Lane"
    assert mask(aes, once).to_pylist() == values  # an encrypted value is recognised by its tag
    lookalike = "a:" + values[0][2:-4][::-1] + "-enc"  # looks encrypted, does not authenticate
    assert mask(aes, pa.array([lookalike]))[0].as_py() != lookalike
    with mock.patch.dict(os.environ, {KEY_ENV: "another-key-0123456789"}):
        assert mask(aes, pa.array(["4 Example Lane"]))[0].as_py() != values[0]
        with pytest.raises(InvalidTag):
            decrypt(values[0], {"format_preservation": {"suffix": "-enc"}})
    with pytest.raises(InputError, match="needs a text field"):
        mask(aes, pa.array([1]), "t.n")
    with mock.patch.dict(os.environ, {KEY_ENV: ""}), pytest.raises(InputError, match=KEY_ENV):
        require_ready([aes])


CONFIG_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 2000), st.sampled_from(
    ["SHA-256", "SHA-512", "MD5", "GCM", "CBC", "x"]), st.fixed_dictionaries({"suffix": st.text(max_size=3)}),
    st.fixed_dictionaries({"prefix": st.just("p")}))
CONFIG_KEYS = st.sampled_from(["rewrite_value", "format_preservation", "algorithm", "length", "mode", "salt",
                               "decimals", "ipv4_bits"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*STRATEGIES, "rot13"]), st.dictionaries(CONFIG_KEYS, CONFIG_VALUES, max_size=3))
def test_datamap_check_accepts_exactly_what_runs(name: str, config: dict[str, object]) -> None:
    """What `datamap check` accepts is what the planner runs, for every strategy and option."""
    refused_by_check = config_problem(name, config) is not None
    try:
        parse_strategy({"strategy": name, "configuration": config}, "t.f")
    except InputError:
        assert refused_by_check
    else:
        assert not refused_by_check
