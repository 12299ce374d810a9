"""From an audit's breaches back to the rows that produced them (for remediation), set-based.

    found, facts = breached_rows(policy, book, dm, source, as_of, rules, settled=..., extra=...)
    for b in found: b.collection, b.rows (pk..., extra..., sid, rules, pairs), b.transfer

The audit decides one request per row group (`tutela.audit.grouping`); a breach names the
group. Every row of the collection is matched to its group again, with the same key
expressions, so the rows of a breached group are exactly the rows the finding counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from tutela.audit import grouping as acts
from tutela.audit.run import Denied, Session, run_audit
from tutela.datamap import DataMap
from tutela.policy import CompiledPolicy
from tutela.query import EngineName, EstateSource
from tutela.rulebook import Rulebook


@dataclass(frozen=True)
class Breached:
    """One collection's rows breached by the selected rules (`transfer`: the past-transfers
    collection, whose rows are settled rather than repaired)."""

    collection: str
    rows: pa.Table
    transfer: bool


def breached_rows(policy: CompiledPolicy, book: Rulebook, dm: DataMap, source: EstateSource, as_of: dt.date,
                  rules: list[str], *, settled: frozenset[str] = frozenset(),
                  extra: Callable[[str], tuple[str, ...]] = lambda _c: (),
                  engine: EngineName = "duckdb") -> tuple[list[Breached], pa.Table]:
    """Run the audit again and read it backwards: per collection, the rows the selected rules
    breach (with the `extra(collection)` columns), and the subjects' facts (sid, jurisdiction)."""
    wanted = pa.array(sorted(set(rules)), pa.string())
    denied: dict[str, list[pa.Table]] = {}
    found: list[Breached] = []
    facts: list[pa.Table] = []
    transfers = dm.tutela.transfers.collection if dm.tutela and dm.tutela.transfers else None

    def sink(d: Denied) -> None:
        t = d.table.filter(pc.is_in(d.table["rule"], value_set=wanted))
        if t.num_rows:
            denied.setdefault(d.collection, []).append(t)

    def then(s: Session) -> None:
        for g in s.groups:
            if g.collection not in denied:
                continue
            d = pa.concat_tables(denied[g.collection])
            if g.collection == transfers:
                found.append(Breached(g.collection, transfer_rows(dm, s, g, d, settled), True))
            else:
                found.append(Breached(g.collection, collection_rows(dm, s, g, d, extra(g.collection)), False))
        facts.append(s.facts.select("sid", "jurisdiction").to_pyarrow())

    run_audit(policy, book, dm, source, as_of, engine=engine, settled=settled, denied=sink, then=then)
    return found, facts[0]


def collection_rows(dm: DataMap, s: Session, g: acts.Groups, denied: pa.Table,
                    extra: tuple[str, ...] = ()) -> pa.Table:
    """pk..., `extra`..., sid, rules (comma-joined, sorted), pairs (`category|use`, comma-joined).

    `denied`: this collection's breaches (gid, sid, category, use, rule).
    """
    pk = dm.primary_key(g.collection)
    keep = tuple(dict.fromkeys([*pk, *extra]))
    m = acts.members(dm, s.load, s.days, g, keep)
    d = s.con.register(f"denied_{g.collection}", denied.select(["gid", "category", "use", "rule"]))
    j = m.join(d, "gid")
    pair = j.category.concat("|", j.use)
    out = j.group_by([*keep, "sid"]).aggregate(rules=j.rule.collect(distinct=True),
                                               pairs=pair.collect(distinct=True)).to_pyarrow()
    return _joined(out, ("rules", "pairs"))


def transfer_rows(dm: DataMap, s: Session, g: acts.Groups, denied: pa.Table,
                  settled: frozenset[str]) -> pa.Table:
    """transfer (its key, as text), sid, processor, source, rules: past transfers to settle."""
    assert dm.tutela is not None and dm.tutela.transfers is not None
    tr = dm.tutela.transfers
    pk = dm.primary_key(tr.collection)
    keep = tuple(dict.fromkeys([pk[0], tr.processor]))
    m = acts.members(dm, s.load, s.days, g, keep, settled)
    d = s.con.register("denied_transfers", denied.select(["gid", "rule"]))
    j = m.join(d, "gid")
    out = j.group_by([pk[0], tr.processor, "sid"]).aggregate(rules=j.rule.collect(distinct=True)).to_pyarrow()
    out = _joined(out, ("rules",))
    src = s.load(tr.collection, [pk[0], tr.source_collection]).select(pk[0], tr.source_collection).to_pyarrow()
    out = out.join(src, pk[0], join_type="left outer")
    return pa.table({
        "transfer": out[pk[0]].cast(pa.string()), "sid": out["sid"], "processor": out[tr.processor].cast(pa.string()),
        "source": out[tr.source_collection].cast(pa.string()), "rules": out["rules"],
    })


def _joined(t: pa.Table, lists: tuple[str, ...]) -> pa.Table:
    """Sorted, comma-joined list columns, rows in key order (stable across backends and runs)."""
    for name in lists:
        idx = t.schema.get_field_index(name)
        t = t.set_column(idx, name, pa.array([",".join(sorted(v)) for v in t[name].to_pylist()], pa.string()))
    order = pc.sort_indices(t, sort_keys=[(c, "ascending") for c in t.column_names if c not in lists])
    return t.take(order)
