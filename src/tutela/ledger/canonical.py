"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme), for the values a ledger holds.

The ledger hashes bytes, so one value must have exactly one serialisation. RFC 8785
(https://www.rfc-editor.org/rfc/rfc8785) fixes it: no whitespace, object members sorted by
their names' UTF-16 code units, strings with only `"`, `\\` and control characters escaped
(`\\b \\t \\n \\f \\r` short, others `\\u00xx` lowercase), UTF-8 out, numbers as ECMAScript prints
them. This module takes the subset the ledger needs and refuses the rest instead of guessing:

- floats (and NaN, infinities) are refused: a receipt counts rows, it does not measure them,
  and float printing is where implementations of RFC 8785 disagree;
- integers must lie in ±(2**53 - 1) (I-JSON, RFC 7493 §2.2), where ECMAScript prints the
  same digits as Python;
- strings must be valid Unicode (no lone surrogates); keys must be strings;
- only dict, list/tuple, str, int, bool and None.

For that subset `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes
the RFC 8785 form except for key order when a key holds a character above U+FFFF (Python sorts
code points, RFC 8785 UTF-16 units); `canonical_json` orders such objects itself. The test
suite checks it against the `rfc8785` package on random values.
"""

from __future__ import annotations

import json
from typing import Any

from tutela.errors import InputError

MAX_INT = 2**53 - 1
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_dumps_ordered = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _utf16(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _check(value: Any, where: str) -> bool:
    """Refuse what RFC 8785 (as the ledger uses it) cannot hold; True when some key is above U+FFFF."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, int):
        if -MAX_INT <= value <= MAX_INT:
            return False
        raise InputError(f"integer `{value}` is outside ±(2**53 - 1)", where=where or "value",
                         hint="a ledger body holds integers that JSON readers agree on; give it as a string")
    if isinstance(value, float):
        raise InputError(f"floating-point number `{value!r}` is not allowed", where=where or "value",
                         hint="give an integer (e.g. a count or milliseconds) or a string")
    if isinstance(value, str):
        _check_text(value, where)
        return False
    if isinstance(value, dict):
        wide = False
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(f"object key `{key!r}` is not a string", where=where or "value")
            _check_text(key, f"{where}.{key}" if where else key)
            wide = wide or any(ord(c) > 0xFFFF for c in key)
            wide = _check(item, f"{where}.{key}" if where else key) or wide
        return wide
    if isinstance(value, list | tuple):
        wide = False
        for i, item in enumerate(value):
            wide = _check(item, f"{where}[{i}]") or wide
        return wide
    raise InputError(f"a value of type `{type(value).__name__}` has no canonical JSON form", where=where or "value",
                     hint="use objects, arrays, strings, integers, true, false or null")


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("text holds a lone surrogate (not valid Unicode)", where=where or "value") from None


def _utf16_ordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _utf16_ordered(value[k]) for k in sorted(value, key=_utf16)}
    if isinstance(value, list | tuple):
        return [_utf16_ordered(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of `value`, or an InputError naming the part that has none."""
    if _check(value, ""):
        return _dumps_ordered(_utf16_ordered(value)).encode("utf-8")
    return _dumps(value).encode("utf-8")


def canonical_trusted(value: Any) -> bytes:
    """The same bytes for a value already known to be in the subset with ASCII keys (validated
    ledger bodies): no walk over it first."""
    return _dumps(value).encode("utf-8")
