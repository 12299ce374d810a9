"""Test-only encoders for TC strings, usnat sections and GPP headers (the inverse of
tutela.guard's decoders), to round-trip random consents through Hypothesis."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_FIB = [1, 2]
while len(_FIB) < 40:
    _FIB.append(_FIB[-1] + _FIB[-2])


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[str] = []

    def int(self, value: int, k: int) -> BitWriter:
        assert 0 <= value < (1 << k) or k == 0
        if k:
            self.bits.append(format(value, f"0{k}b"))
        return self

    def ids(self, ids: tuple[int, ...] | list[int], k: int) -> BitWriter:
        self.bits.append("".join("1" if i + 1 in ids else "0" for i in range(k)))
        return self

    def letters(self, text: str) -> BitWriter:
        for ch in text:
            self.int(ord(ch) - ord("A"), 6)
        return self

    def fibonacci(self, n: int) -> BitWriter:
        assert n >= 1
        code = ["0"] * 40
        i = max(j for j in range(len(_FIB)) if _FIB[j] <= n)
        top = i
        while n:
            j = max(k for k in range(len(_FIB)) if _FIB[k] <= n)
            code[j] = "1"
            n -= _FIB[j]
        self.bits.append("".join(code[: top + 1]) + "1")
        return self

    def encode(self) -> str:
        s = "".join(self.bits)
        s += "0" * (-len(s) % 6)
        return "".join(_ALPHABET[int(s[i:i + 6], 2)] for i in range(0, len(s), 6))


@dataclass
class TC:
    created: dt.datetime = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
    updated: dt.datetime = dt.datetime(2025, 5, 2, tzinfo=dt.UTC)
    cmp_id: int = 7
    cmp_version: int = 1
    screen: int = 1
    language: str = "EN"
    vlv: int = 100
    policy: int = 5
    service_specific: bool = True
    special: tuple[int, ...] = ()
    consents: tuple[int, ...] = ()
    li: tuple[int, ...] = ()
    publisher_cc: str = "IT"
    vendor_consents: tuple[int, ...] = ()
    vendor_li: tuple[int, ...] = ()
    ranges: bool = False
    restrictions: list[tuple[int, int, tuple[int, ...]]] = field(default_factory=list)


def _range_entries(w: BitWriter, ids: tuple[int, ...]) -> None:
    groups: list[list[int]] = []
    for i in sorted(ids):
        if groups and groups[-1][1] == i - 1:
            groups[-1][1] = i
        else:
            groups.append([i, i])
    w.int(len(groups), 12)
    for start, end in groups:
        w.int(1 if end > start else 0, 1).int(start, 16)
        if end > start:
            w.int(end, 16)


def _vendors(w: BitWriter, ids: tuple[int, ...], ranges: bool) -> None:
    top = max(ids, default=0)
    w.int(top, 16).int(1 if ranges else 0, 1)
    if ranges:
        _range_entries(w, ids)
    else:
        w.ids(ids, top)


def encode_tc(tc: TC) -> str:
    w = BitWriter().int(2, 6)
    w.int(round(tc.created.timestamp() * 10), 36).int(round(tc.updated.timestamp() * 10), 36)
    w.int(tc.cmp_id, 12).int(tc.cmp_version, 12).int(tc.screen, 6).letters(tc.language).int(tc.vlv, 12)
    w.int(tc.policy, 6).int(int(tc.service_specific), 1).int(0, 1).ids(tc.special, 12).ids(tc.consents, 24)
    w.ids(tc.li, 24).int(0, 1).letters(tc.publisher_cc)
    _vendors(w, tc.vendor_consents, tc.ranges)
    _vendors(w, tc.vendor_li, tc.ranges)
    w.int(len(tc.restrictions), 12)
    for purpose, kind, vendors in tc.restrictions:
        w.int(purpose, 6).int(kind, 2)
        _range_entries(w, vendors)
    return w.encode()


def encode_usnat(version: int, notices: list[int], sensitive: list[int], child: list[int], tail: list[int],
                 gpc: bool | None = None) -> str:
    w = BitWriter().int(version, 6)
    for v in notices + sensitive + child + tail:
        w.int(v, 2)
    core = w.encode()
    return core if gpc is None else core + "." + BitWriter().int(1, 2).int(int(gpc), 1).encode()


def encode_gpp_header(section_ids: list[int]) -> str:
    w = BitWriter().int(3, 6).int(1, 6)
    ids = sorted(set(section_ids))
    w.int(len(ids), 12)
    last = 0
    for i in ids:
        w.int(0, 1).fibonacci(i - last)
        last = i
    return w.encode()
