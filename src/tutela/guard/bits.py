"""Bit reading for the IAB consent strings (TCF v2, GPP): base64url without padding, read
big-endian, left to right. Every read checks the length: a truncated string is an
`InputError` naming the field and the bit offset, never a default value."""

from __future__ import annotations

import builtins

from tutela.errors import InputError

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
# Fibonacci numbers F(2), F(3), ... as used by the GPP integer encoding (1, 2, 3, 5, 8, ...)
_FIB = [1, 2]
while len(_FIB) < 64:
    _FIB.append(_FIB[-1] + _FIB[-2])


class Bits:
    """A base64url segment as one big integer plus its bit length; `pos` is the next bit."""

    __slots__ = ("length", "n", "pos", "where")

    def __init__(self, text: str, where: str):
        if not text:
            raise InputError("empty consent segment", where=where, hint="send the string the CMP produced")
        value = 0
        for i, ch in enumerate(text):
            v = _VALUE.get(ch)
            if v is None:
                raise InputError(f"character `{ch}` at offset {i} is not base64url", where=where,
                                 hint="consent strings use A-Z a-z 0-9 - _ only")
            value = (value << 6) | v
        self.n = value
        self.length = 6 * len(text)
        self.pos = 0
        self.where = where

    def need(self, k: int, field: str) -> None:
        if self.pos + k > self.length:
            raise InputError(f"truncated: field `{field}` needs {k} bit(s) at bit offset {self.pos}, "
                             f"only {self.length - self.pos} left", where=self.where,
                             hint="the string is cut short; it is not read as consent")

    def int(self, k: builtins.int, field: str) -> builtins.int:
        self.need(k, field)
        shift = self.length - self.pos - k
        self.pos += k
        return (self.n >> shift) & ((1 << k) - 1)

    def bool(self, field: str) -> builtins.bool:
        return self.int(1, field) == 1

    def bitfield(self, k: builtins.int, field: str) -> tuple[builtins.int, ...]:
        """The 1-based ids whose bit is set in the next `k` bits."""
        value = self.int(k, field) if k else 0
        return tuple(i + 1 for i in range(k) if value >> (k - 1 - i) & 1)

    def letters(self, count: builtins.int, field: str) -> str:
        out = []
        for _ in range(count):
            v = self.int(6, field)
            if v > 25:
                raise InputError(f"field `{field}` has letter code {v} at bit offset {self.pos - 6}, "
                                 "outside a-z", where=self.where)
            out.append(chr(ord("A") + v))
        return "".join(out)

    def fibonacci(self, field: str) -> builtins.int:
        """One Fibonacci-coded integer (terminated by two consecutive 1 bits)."""
        start = self.pos
        total, prev, i = 0, 0, 0
        while True:
            if i >= len(_FIB):
                raise InputError(f"field `{field}` at bit offset {start}: Fibonacci code too long",
                                 where=self.where)
            bit = self.int(1, field)
            if bit and prev:
                return total
            if bit:
                total += _FIB[i]
            prev = bit
            i += 1

    def rest_is_zero(self) -> builtins.bool:
        left = self.length - self.pos
        return left <= 0 or self.n & ((1 << left) - 1) == 0
