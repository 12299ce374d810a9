"""An event batch, validated whole and reduced to integer codes for the vectorised guard.

Columns (Arrow; strings may be dictionary-encoded, which is what makes them cheap):
  subject_id  string     required
  ts          timestamp  required (any unit; the event's day is its UTC date)
  kind        string     required: watch | location_ping | ad_impression | upload | message
  recipient   string     optional: first_party (default) | processor | third_party (null: third_party)
  recipient_id string    optional: who receives the event, a recipient of the transfer registry
                         (gated by `stream_transfers`; null: no registered recipient); passed through
  lat, lon    float64    optional, together; degrees in range
  ip          string     optional, IPv4 or IPv6
  device_id   string     optional
  event_id, content_id   optional, passed through with the event
Any other column is of no known data category and is removed (counted as `drop_column`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tutela.errors import InputError
from tutela.guard.stream_config import KINDS, RECIPIENTS, StreamConfig

PASS_THROUGH = ("event_id", "content_id")
KNOWN = ("subject_id", "ts", "kind", "recipient", "recipient_id", "lat", "lon", "ip", "device_id", *PASS_THROUGH)
_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
I64 = npt.NDArray[np.int64]


def truncate_ip(text: str | None, cfg: StreamConfig, where: str) -> str | None:
    if text is None:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise InputError("not an IP address", where=where) from None
    keep = cfg.ipv4_keep_bits if ip.version == 4 else cfg.ipv6_keep_bits
    net = ipaddress.ip_network(f"{ip}/{keep}", strict=False)
    return str(net.network_address)


def _first(mask: pa.Array) -> int:
    return int(pc.index(mask, True).as_py())


def _codes(col: pa.Array, names: tuple[str, ...], name: str) -> I64:
    """Codes of a string column through its dictionary; an unknown value names its first row."""
    enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
    values = enc.dictionary.to_pylist()
    lut = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        if v not in names:
            row = _first(pc.equal(enc.indices, i))
            raise InputError(f"unknown {name} `{v}`", where=f"events[{row}].{name}", hint=", ".join(names))
        lut[i] = names.index(v)
    return lut[np.asarray(enc.indices)] if len(values) else np.zeros(len(col), np.int64)


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


@dataclass
class Events:
    table: pa.Table  # the known columns only
    n: int
    state_row: I64  # -1: the subject is not in the state
    kind: I64
    recipient: I64
    day: I64  # days since 1970
    day_lo: int
    day_hi: int
    per_day: int  # ts units per day
    dropped_columns: tuple[str, ...]

    def calendar(self, day: I64) -> tuple[I64, I64]:
        """(year, month * 32 + day of month) of days since 1970."""
        d = day.astype("datetime64[D]")
        m = d.astype("datetime64[M]")
        year = d.astype("datetime64[Y]").astype(np.int64) + 1970
        month = (m - d.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
        return year, month * 32 + (d - m).astype(np.int64) + 1

    def present(self, field: str, kept: pa.Table) -> npt.NDArray[np.bool_] | None:
        """Per kept event: is the field there (not null)? None when the batch has no such column."""
        name = "lat" if field == "lat_lon" else field
        if name not in kept.column_names:
            return None
        return np.asarray(pc.is_valid(kept.column(name).combine_chunks()))


def read_events(batch: pa.RecordBatch | pa.Table, rows_of: Callable[[pa.Array], I64],
                where: str = "events") -> Events:
    """`rows_of(subject ids)` is each id's row in the state table, -1 for a subject not in it."""
    # Validate the whole batch before anything is guarded: a bad row fails the batch.
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    n = table.num_rows
    for name in ("subject_id", "ts", "kind"):
        if name not in table.column_names:
            raise InputError(f"missing column `{name}`", where=where)
    cols = {name: table.column(name).combine_chunks() for name in table.column_names if name in KNOWN}
    for name in ("subject_id", "kind", "recipient", "recipient_id", "ip", "device_id"):
        if name in cols and not _is_text(cols[name].type):
            raise InputError(f"column `{name}` must be strings", where=f"{where}.{name}")
    for name in ("subject_id", "ts", "kind"):
        if cols[name].null_count:
            raise InputError(f"null `{name}`", where=f"{where}[{_first(pc.is_null(cols[name]))}].{name}")
    ts = cols["ts"]
    if not pa.types.is_timestamp(ts.type):
        raise InputError("column `ts` must be a timestamp", where=f"{where}.ts")
    if ("lat" in cols) != ("lon" in cols):
        raise InputError("give `lat` and `lon` together", where=where)
    for name, bound in (("lat", 90.0), ("lon", 180.0)):
        if name in cols:
            if not pa.types.is_floating(cols[name].type):
                raise InputError(f"column `{name}` must be float64", where=f"{where}.{name}")
            cols[name] = cols[name].cast(pa.float64())
            x = np.asarray(cols[name].fill_null(0.0))
            bad = ~(np.abs(x) <= bound)
            if bad.any():
                raise InputError(f"`{name}` out of range", where=f"{where}[{int(np.argmax(bad))}].{name}")
    if "lat" in cols:
        odd = pc.xor(pc.is_null(cols["lat"]), pc.is_null(cols["lon"]))
        if pc.any(odd).as_py():
            raise InputError("`lat` and `lon` must be null together", where=f"{where}[{_first(odd)}]")
    if "ip" in cols:  # every distinct IP once, kept or not: a bad batch fails whole
        enc_ip = cols["ip"] if pa.types.is_dictionary(cols["ip"].type) else pc.dictionary_encode(cols["ip"])
        for i, v in enumerate(enc_ip.dictionary.to_pylist()):
            try:
                ipaddress.ip_address(v)
            except ValueError:
                raise InputError(f"not an IP address: `{v}`",
                                 where=f"{where}[{_first(pc.equal(enc_ip.indices, i))}].ip") from None
    per_day = _PER_DAY[ts.type.unit]
    day = np.floor_divide(np.asarray(ts.cast(pa.int64())), per_day)
    sid = cols["subject_id"]
    enc = sid if pa.types.is_dictionary(sid.type) else pc.dictionary_encode(sid)
    rows = rows_of(enc.dictionary.cast(pa.string()))
    state_row = rows[np.asarray(enc.indices)] if len(rows) else np.zeros(n, np.int64)
    kind = _codes(cols["kind"], KINDS, "kind")
    recipient = np.zeros(n, np.int64)
    if "recipient" in cols:  # a null recipient is not known to be the platform: the safest, a third party
        rc = cols["recipient"]
        if rc.null_count:
            rc = (rc.dictionary_decode() if pa.types.is_dictionary(rc.type) else rc).fill_null("third_party")
        recipient = _codes(rc, RECIPIENTS, "recipient")
    dropped = tuple(c for c in table.column_names if c not in KNOWN)
    lo, hi = (int(day.min()), int(day.max())) if n else (0, 0)
    return Events(pa.table(cols), n, state_row, kind, recipient, day, lo, hi, per_day, dropped)
