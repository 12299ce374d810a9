"""Entries and their hashes.

An entry is the RFC 8785 canonical JSON of `{"body": …, "kind": …, "seq": n, "time": …}` and

    h_0 = 32 zero bytes,    h_n = SHA-256(h_{n-1} || entry_n)        (raw 32-byte digests)

so each hash covers the entry's number, kind, time and body and, through h_{n-1}, every entry
before it. `time` is UTC with microseconds, always 27 characters (`2026-12-03T12:51:35.123456Z`).

Two ways to make the entry bytes, which the test suite proves equal:
- `entry_bytes` (the reference): the kind's Pydantic model validates the body, `canonical_json`
  writes it;
- `encode_table` (the fast path for `append_many` on a pyarrow table): each field is checked
  column by column (type, nulls, the same patterns, value sets and ranges) and the JSON is
  assembled with pyarrow string kernels. No ledger string ever needs escaping (see
  `tutela.ledger.kinds`), so assembling is concatenation. Anything the fast path is unsure of
  returns None and the caller goes the reference way, which names the bad row and field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from tutela.errors import InputError, validation_message
from tutela.ledger.canonical import MAX_INT, canonical_trusted
from tutela.ledger.kinds import KINDS, MODELS, PATTERNS, SPECS, FieldSpec

GENESIS = bytes(32)
_sha256 = hashlib.sha256


def format_time(moment: dt.datetime) -> str:
    """`2026-12-03T12:51:35.123456Z`: UTC, microseconds, fixed width."""
    if moment.tzinfo is None:
        raise InputError("a ledger time needs a time zone", where="time", hint="use datetime.now(timezone.utc)")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_kind(kind: str) -> None:
    if kind not in SPECS:
        raise InputError(f"unknown ledger entry kind `{kind}`", where="kind", hint=f"one of {', '.join(KINDS)}")


def validate_body(kind: str, body: Mapping[str, Any], where: str = "body") -> dict[str, Any]:
    """The body as the kind's model reads it (every field present, absent optional ones null)."""
    check_kind(kind)
    if not isinstance(body, Mapping):
        raise InputError(f"a {kind} body must be an object", where=where)
    try:
        return MODELS[kind].model_validate(dict(body)).model_dump(mode="json")
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InputError(f"{kind}: {validation_message(err)}", where=f"{where}.{field}" if field else where,
                         hint=f"the fields of {kind} are in docs/ledger.md") from None


def entry_bytes(seq: int, kind: str, time: str, body: Mapping[str, Any]) -> bytes:
    """The canonical entry for an already validated body (`validate_body`)."""
    return canonical_trusted({"body": dict(body), "kind": kind, "seq": seq, "time": time})


def link(prev: bytes, entry: bytes) -> bytes:
    return _sha256(prev + entry).digest()


def chain(prev: bytes, entries: Iterable[bytes]) -> list[bytes]:
    """The hashes of `entries` appended after a head hash `prev`."""
    out: list[bytes] = []
    add = out.append
    for entry in entries:
        prev = _sha256(prev + entry).digest()
        add(prev)
    return out


def _column_ok(spec: FieldSpec, col: pa.ChunkedArray | None) -> bool:
    if col is None:
        return spec.optional
    if col.null_count and not spec.optional:
        return False
    if col.null_count == len(col):
        return True  # all null (any type): an optional field left out
    typ = col.type
    if spec.type == "count":
        if not pa.types.is_integer(typ):
            return False
        low, high = pc.min_max(col).values()
        return bool(low.as_py() >= 0 and high.as_py() <= MAX_INT)
    if spec.type == "bool":
        return bool(pa.types.is_boolean(typ))
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        return False
    if isinstance(spec.type, tuple):
        return bool(pc.all(pc.is_in(pc.drop_null(col), value_set=pa.array(spec.type))).as_py() is not False)
    return bool(pc.all(pc.match_substring_regex(col, PATTERNS[spec.type])).as_py() is not False)


def _json_column(spec: FieldSpec, col: pa.ChunkedArray | None) -> pa.ChunkedArray | str:
    if col is None or col.null_count == len(col):
        return "null"
    if spec.type == "count":
        text = pc.cast(col, pa.string())
    elif spec.type == "bool":
        text = pc.if_else(col, "true", "false")
    else:
        text = pc.binary_join_element_wise('"', pc.cast(col, pa.string()), '"', "")
    return pc.fill_null(text, "null")


def encode_table(kind: str, table: pa.Table, first_seq: int, time: str) -> list[bytes] | None:
    """The entries for the rows of `table` (one body per row, one column per field), numbered
    from `first_seq`; None when some column is not plainly valid (the caller then validates
    row by row, which names the first bad one)."""
    check_kind(kind)
    specs = sorted(SPECS[kind], key=lambda s: s.name)
    if set(table.column_names) - {s.name for s in specs} or len(set(table.column_names)) != table.num_columns:
        return None
    table = table.combine_chunks()
    cols = {s.name: table.column(s.name) if s.name in table.column_names else None for s in specs}
    if not all(_column_ok(s, cols[s.name]) for s in specs):
        return None
    parts: list[Any] = []
    for i, spec in enumerate(specs):
        parts.append(('{"body":{' if i == 0 else ",") + f'"{spec.name}":')
        parts.append(_json_column(spec, cols[spec.name]))
    seqs = pa.array(range(first_seq, first_seq + table.num_rows), pa.int64())
    parts += [f'}},"kind":"{kind}","seq":', pc.cast(seqs, pa.string()), f',"time":"{time}"}}']
    if table.num_rows == 0:
        return []
    joined = pc.binary_join_element_wise(*parts, "")
    return cast("list[bytes]", pc.cast(joined, pa.binary()).to_pylist())  # pyarrow is untyped


def table_bodies(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of `table` as bodies for the reference path."""
    return cast("list[dict[str, Any]]", table.to_pylist())  # pyarrow is untyped
