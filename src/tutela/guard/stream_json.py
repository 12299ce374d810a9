"""Events as JSON lines, to and from the Arrow batches the stream guard reads (the API's second format).

One JSON object per line, with the columns of `stream_events`: `ts` an ISO 8601 time (a time
without a zone is UTC), `lat`/`lon` numbers, the rest strings (`event_id` may be a number). A key
the guard does not know becomes a string column, removed and counted like any unknown column.
Blank lines are skipped. A line that is not a JSON object, or a value of the wrong type, is an
input error naming the line (1-based) and the field.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from tutela.errors import InputError

TS = pa.timestamp("us", tz="UTC")
_FLOATS = ("lat", "lon")
_STRINGS = ("subject_id", "kind", "recipient", "recipient_id", "ip", "device_id", "content_id")


def _ts(value: Any, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise InputError("`ts` must be an ISO 8601 time", where=where, hint="e.g. 2026-12-01T09:00:00Z")
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"not an ISO 8601 time: `{value[:40]}`", where=where,
                         hint="e.g. 2026-12-01T09:00:00Z") from None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _check(name: str, value: Any, where: str) -> Any:
    if value is None:
        return None
    if name == "ts":
        return _ts(value, where)
    if name in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"`{name}` must be a number", where=where)
        return float(value)
    if name == "event_id":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise InputError("`event_id` must be a number or a string", where=where)
        return value
    if not isinstance(value, str):
        if name in _STRINGS:
            raise InputError(f"`{name}` must be a string", where=where)
        return json.dumps(value)  # an unknown key: kept as text, then removed by the guard
    return value


def events_from_jsonl(body: bytes, where: str = "body") -> pa.Table:
    """JSON lines to an events table (validated whole: a bad line fails the body)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the body is not UTF-8 text", where=where) from None
    rows: list[dict[str, Any]] = []
    names: dict[str, None] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg} at column {exc.colno}", where=f"{where} line {n}") from None
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object (one event)", where=f"{where} line {n}")
        rows.append({k: _check(k, v, f"{where} line {n}.{k}") for k, v in obj.items()})
        names.update(dict.fromkeys(obj))
    if not rows:
        raise InputError("no events in the body", where=where, hint="one JSON object per line")
    ids = {type(r["event_id"]) for r in rows if r.get("event_id") is not None}
    cols: dict[str, pa.Array] = {}
    for name in names:
        values = [r.get(name) for r in rows]
        kind = (TS if name == "ts" else pa.float64() if name in _FLOATS
                else pa.int64() if name == "event_id" and ids == {int} else pa.string())
        if name == "event_id" and kind == pa.string():
            values = [None if v is None else str(v) for v in values]
        cols[name] = pa.array(values, kind)
    return pa.table(cols)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value


def events_to_jsonl(table: pa.Table) -> bytes:
    """Guarded events as JSON lines (times in ISO 8601, UTC)."""
    return b"".join((json.dumps({k: _plain(v) for k, v in row.items()}) + "\n").encode()
                    for row in table.to_pylist())
