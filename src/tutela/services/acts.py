"""From an estate's tables to decision requests, set-based through Ibis (docs/audit.md).

Each collection's rows are grouped by what decides their lawfulness (subject, day, which
categories are present, which acts apply), so one request stands for every row of a group.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tutela.datamap import DataMap
from tutela.datamap.models import CollectionDecl
from tutela.services.signals import REGEXES, stated_ages

Loader = Callable[[str, list[str]], ir.Table]
# Materialises an expression as a table: group ids from row_number() must not be recomputed
# (an unordered window numbers rows differently on each evaluation, e.g. on Spark).
Persist = Callable[[str, ir.Table], ir.Table]


@dataclass(frozen=True)
class Groups:
    """Row groups of one collection and the requests that stand for them."""

    collection: str
    counts: ir.Table  # gid, sid, n
    requests: ir.Table  # gid, sid, day, category, use, recipient, destination, certified, scc, tia


def subjects(dm: DataMap, load: Loader) -> ir.Table:
    """sid, jurisdiction, birth (declared), created (date or null)."""
    assert dm.tutela is not None
    s = dm.tutela.subjects
    created = _time_field(dm, s.collection)
    t = load(s.collection, [s.key, s.jurisdiction, s.birth_date] + ([created] if created else []))
    return t.select(
        sid=t[s.key].cast("int64"),
        jurisdiction=t[s.jurisdiction].cast("string"),
        birth=t[s.birth_date].cast("date"),
        created=t[created].cast("date") if created else ibis.null("date"),
    )


def _time_field(dm: DataMap, collection: str) -> str | None:
    assert dm.tutela is not None
    decl = dm.tutela.collections.get(collection)
    return decl.time if decl else None


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 Feb in a year without one
        return day.replace(year=day.year - years, day=28)


def implied_births(dm: DataMap, load: Loader, created: dict[int, dt.date | None]) -> pa.Table:
    """sid -> latest birth date implied by a self-declared age in the subject's texts.

    The query engine pre-filters texts with the recognizer's regular expressions; the
    Presidio recognizer reads every age in each candidate text.
    """
    assert dm.tutela is not None
    best: dict[int, dt.date] = {}
    for sig in dm.tutela.age_signals:
        time = _time_field(dm, sig.collection)
        t = load(sig.collection, [sig.subject, sig.field] + ([time] if time else []))
        text = t[sig.field]
        hit = text.re_search(REGEXES[0]) | text.re_search(REGEXES[1])
        cand = t.filter(hit).select(
            sid=t[sig.subject].cast("int64"), text=text,
            day=t[time].cast("date") if time else ibis.null("date"),
        ).to_pyarrow()
        for sid, body, day in zip(*(cand[c].to_pylist() for c in ("sid", "text", "day")), strict=True):
            ages = stated_ages(body)
            when = day or created.get(sid)
            if not ages or when is None:
                continue
            implied = _years_before(when, min(ages))
            if sid not in best or implied > best[sid]:
                best[sid] = implied
    return pa.table({"sid": pa.array(list(best), pa.int64()), "implied": pa.array(list(best.values()), pa.date32())})


def collection_groups(dm: DataMap, load: Loader, persist: Persist, name: str, decl: CollectionDecl,
                      as_of: dt.date) -> Groups | None:
    cats = dm.categories(name)
    if not cats:
        return None
    fields = sorted(cats)
    where_fields = [a.where.field for a in decl.acts if a.where]
    t = load(name, [decl.subject] + ([decl.time] if decl.time else []) + fields + where_fields)
    categories = sorted({c for cs in cats.values() for c in cs})
    flags = {f"c{i}": ibis.or_(*(t[f].notnull() for f in fields if c in cats[f]))
             for i, c in enumerate(categories)}
    acts = {f"a{i}": (t[a.where.field].cast("string") == a.where.equals) if a.where else ibis.literal(True)
            for i, a in enumerate(decl.acts)}
    day = t[decl.time].cast("date") if decl.time else ibis.literal(as_of, "date")
    rows = t.select(sid=t[decl.subject].cast("int64"), day=day, **flags, **acts)
    keys = ["sid", "day", *flags, *acts]
    g = persist(f"g_{name}", rows.group_by(keys).aggregate(n=rows.count()).mutate(gid=ibis.row_number()))
    parts = []
    for ci, c in enumerate(categories):
        for ai, a in enumerate(decl.acts):
            sel = g.filter(g[f"c{ci}"] & g[f"a{ai}"])
            parts.append(sel.select(
                "gid", "sid", "day", category=ibis.literal(c), use=ibis.literal(a.use),
                recipient=ibis.literal(a.recipient), destination=ibis.null("string"),
                certified=ibis.literal(False), scc=ibis.literal(False), tia=ibis.literal(False)))
    return Groups(name, g.select("gid", "sid", "n"), ibis.union(*parts))


def transfer_groups(dm: DataMap, load: Loader, persist: Persist) -> Groups | None:
    assert dm.tutela is not None
    tr = dm.tutela.transfers
    if tr is None:
        return None
    p = tr.processors
    t = load(tr.collection, [tr.subject, tr.processor, tr.source_collection, tr.time])
    pr = load(p.collection, [p.key, p.kind, p.country, p.certified, p.scc, p.tia])
    j = t.join(pr, t[tr.processor] == pr[p.key])
    rows = j.select(
        sid=j[tr.subject].cast("int64"), day=j[tr.time].cast("date"), source=j[tr.source_collection].cast("string"),
        recipient=j[p.kind].cast("string"), destination=j[p.country].cast("string"),
        certified=j[p.certified].cast("boolean"), scc=j[p.scc].notnull(), tia=j[p.tia].notnull())
    keys = ["sid", "day", "source", "recipient", "destination", "certified", "scc", "tia"]
    g = persist("g_transfers", rows.group_by(keys).aggregate(n=rows.count()).mutate(gid=ibis.row_number()))
    parts = []
    for source in dm.tutela.collections:
        for c in sorted({c for cs in dm.categories(source).values() for c in cs}):
            sel = g.filter(g.source == source)
            parts.append(sel.select("gid", "sid", "day", category=ibis.literal(c),
                                    use=ibis.literal("essential.service"), recipient="recipient",
                                    destination="destination", certified="certified", scc="scc", tia="tia"))
    return Groups(tr.collection, g.select("gid", "sid", "n"), ibis.union(*parts))
