"""bench/erasure_naive.py: erasure the way Fides does it on SQL, the baseline of bench/erasure.py.

Fides (ethyca/fides `sql_connector.py`, `query_config.py`; /work/shared/reference/fides-notes.md):
the access phase reads each collection once with all its incoming values (one
`SELECT ... WHERE f IN (...)` per collection and input), then the erasure works row by row:
for every retrieved row it opens a new connection, runs one `UPDATE t SET col = :masked
WHERE pk = :pk`, commits and closes. Fides deletes rows only on BigQuery (the collection-level
`delete` override); here a `delete` target is done in the same per-row way (`DELETE FROM t
WHERE pk = ...`), so that both sides of the bench do the data map's work and end in the same
state. Targets come from the same planner (`erasure_targets`); masked values from the same
strategy functions, computed one row at a time. Like Fides, every retrieved row is written,
whether or not its masked value differs.

The connection is a bare psycopg connection (no SQLAlchemy engine per row, which Fides has):
that makes the baseline a little faster than Fides, so the ratio is conservative.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from tutela.connectors import ESTATE, Erasure, Plan
from tutela.connectors.strategies import Strategy, mask

Rows = dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]]  # (node, match) -> the rows read through it


def naive_erase(dsn: str, p: Plan, targets: Sequence[Erasure], ids: Sequence[Any],
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Fides' access phase, then one fresh connection + statement + commit per row and target.

    Returns the rows written, the statements run, and the seconds of each phase."""
    t0 = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        rows = access(conn, p, ids)
        pks = {er.target.collection: primary_key(conn, er.target.collection) for er in targets}
    access_s = time.perf_counter() - t0
    work = [(er, r) for er in targets for r in rows.get((er.node, er.target.match), [])]
    done: set[tuple[str, tuple[Any, ...]]] = set()  # a row reached through two inputs is written once
    written = statements = 0
    t1 = time.perf_counter()
    for i, (er, row) in enumerate(work):
        t = er.target
        pk = pks[t.collection]
        key = tuple(row[c] for c in pk)
        if (t.collection, key) in done:
            continue
        done.add((t.collection, key))
        where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in pk)
        if t.action == "delete":
            stmt = sql.SQL("DELETE FROM {} WHERE {}").format(sql.Identifier(t.collection), where)
            params: list[Any] = list(key)
        else:
            new = {f: mask_one(s, row[f], f"{t.collection}.{f}") for f, s in t.masks.items()}
            sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(f)) for f in new)
            stmt = sql.SQL("UPDATE {} SET {} WHERE {}").format(sql.Identifier(t.collection), sets, where)
            params = [*new.values(), *key]
        with psycopg.connect(dsn) as c:  # a new connection per row; committed and closed on exit
            written += c.execute(stmt, params).rowcount
        statements += 1
        if progress is not None and i % 10_000 == 0:
            progress(i, len(work))
    return {"rows": written, "statements": statements, "access_s": access_s,
            "write_s": time.perf_counter() - t1, "read_rows": len(work)}


def access(conn: psycopg.Connection[Any], p: Plan, ids: Sequence[Any]) -> Rows:
    """Every estate node's rows, one SELECT per node and input, values from the parent's rows."""
    rows: Rows = {}
    for node in p.nodes:
        if node.store != ESTATE:
            continue
        for e in node.inputs:
            if len(e.match) != 1:
                # the per-row baseline is written for single-column references, as ClipStream has
                raise ValueError(f"{node.id}: the naive baseline matches on one column only")
            if e.parent is None:
                values = list(ids)
            else:
                parent = [r for pe in p.node(e.parent).inputs for r in rows.get((e.parent, pe.match), [])]
                values = sorted({r[e.source[0]] for r in parent if r[e.source[0]] is not None})
            q = sql.SQL("SELECT * FROM {} WHERE {} = ANY(%s)").format(sql.Identifier(node.collection),
                                                                     sql.Identifier(e.match[0]))
            cur = conn.execute(q, [values])
            names = [d.name for d in cur.description or ()]
            rows[(node.id, e.match)] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return rows


def primary_key(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """The table's primary-key columns (Fides writes masked rows back by them)."""
    got = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)", [table]).fetchall()
    if not got:
        raise ValueError(f"table `{table}` has no primary key")
    return [r[0] for r in got]


def mask_one(s: Strategy, value: Any, where: str) -> Any:
    """One value masked by the same strategy functions Tutela uses (NULL stays NULL)."""
    if value is None:
        return None
    return mask(s, pa.array([value]), where).to_pylist()[0]
