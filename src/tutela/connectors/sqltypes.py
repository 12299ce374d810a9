"""SQL column types as Arrow types, and driver values as Arrow arrays (SQLite, PostgreSQL, MariaDB).

Shared by the connectors and the audit's estate reader, so both read a table the same way.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import sqlalchemy as sa


def to_array(values: tuple[Any, ...] | list[Any], kind: pa.DataType) -> pa.Array:
    if pa.types.is_boolean(kind):  # MariaDB returns TINYINT(1) booleans as 0/1
        return pa.array([None if v is None else bool(v) for v in values], type=kind)
    if pa.types.is_floating(kind):  # NUMERIC/DECIMAL columns come back as Decimal
        return pa.array([None if v is None else float(v) for v in values], type=kind)
    return pa.array(list(values), type=kind)


def arrow_type(t: sa.types.TypeEngine[Any]) -> pa.DataType:
    """Arrow type for a reflected SQL column type (booleans may be TINYINT(1) in MariaDB)."""
    name = type(t).__name__.upper()
    if "BOOL" in name or (name == "TINYINT" and getattr(t, "display_width", None) == 1):
        return pa.bool_()
    if "INT" in name:
        return pa.int64()
    if name in ("FLOAT", "REAL", "DOUBLE", "DOUBLE_PRECISION", "NUMERIC", "DECIMAL"):
        return pa.float64()
    if name in ("DATETIME", "TIMESTAMP"):
        return pa.timestamp("us")
    if name == "DATE":
        return pa.date32()
    return pa.string()
