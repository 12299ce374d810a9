"""From an estate's tables to decision requests, set-based through Ibis (docs/audit.md).

Each collection's rows are grouped by what decides their lawfulness, so one request stands
for every row of a group: the subject, which categories are present, which acts apply, and
what the row's day decides (`Days`): the subject's age and childhood on that day, the rulebook
epoch (the rulebook is the same between two of its boundaries), the grants valid that day
(a subject's consents change only on their own dates) and, where the collection has a
retention period, which side of its cut-off the day is on. A group's request is dated on
the first day of its rows; every other day of the group gives the same request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tutela.audit.signals import REGEXES, stated_ages
from tutela.datamap import DataMap
from tutela.datamap.models import CollectionDecl, ConsentsDecl
from tutela.policy.batch import SEPARATE, TOKEN_SEP
from tutela.query.backends import Backend
from tutela.query.source import EstateSource
from tutela.transfers import Registry, registry_from_processors


class Loader(Protocol):
    """An estate's table (the given columns at least), registered with the query engine."""

    def __call__(self, name: str, cols: list[str], /) -> ir.Table: ...

    def once(self, name: str, build: Callable[[], ir.Table], /) -> ir.Table:
        """`build()` materialised the first time `name` is asked for, the same table after."""
        ...

    def arrow(self, name: str, build: Callable[[], pa.Table], /) -> ir.Table:
        """`build()` (an Arrow table) registered the first time `name` is asked for, the same table after."""
        ...


# Materialises an expression as a table: group ids from row_number() must not be recomputed
# (an unordered window numbers rows differently on each evaluation, e.g. on Spark).
Persist = Callable[[str, ir.Table], ir.Table]


class EstateTables:
    """The `Loader` of one audit: each table read once (with every column asked for so far)."""

    def __init__(self, source: EstateSource, backend: Backend, step: Callable[[str], None]):
        self._source, self._backend, self._step = source, backend, step
        self._tables: dict[str, tuple[list[str], ir.Table]] = {}
        self._once: dict[str, ir.Table] = {}
        self._reads = 0

    def __call__(self, name: str, cols: list[str], /) -> ir.Table:
        have, table = self._tables.get(name, ([], None))
        if table is None or not set(cols) <= set(have):
            have = list(dict.fromkeys([*have, *cols]))
            self._step(f"read {name}")
            self._reads += 1
            table = self._backend.read(f"t{self._reads}_{name}", self._source, name, have)
            self._tables[name] = (have, table)
        return table

    def once(self, name: str, build: Callable[[], ir.Table], /) -> ir.Table:
        if name not in self._once:
            self._once[name] = self._backend.persist(name, build())
        return self._once[name]

    def arrow(self, name: str, build: Callable[[], pa.Table], /) -> ir.Table:
        if name not in self._once:
            self._once[name] = self._backend.register(name, build())
        return self._once[name]


@dataclass(frozen=True)
class Groups:
    """Row groups of one collection and the requests that stand for them."""

    collection: str
    counts: ir.Table  # gid, sid, n
    requests: ir.Table  # gid, sid, day, category, use, recipient, destination, certified, scc, tia
    table: ir.Table | None = None  # the persisted groups: sid, key columns, n, day, gid
    keys: tuple[str, ...] = ()  # the columns (besides sid) a row shares with its group


def subjects(dm: DataMap, load: Loader) -> ir.Table:
    """sid, jurisdiction, birth (declared), created (date or null)."""
    assert dm.tutela is not None
    s = dm.tutela.subjects
    created = _time_field(dm, s.collection)
    jur, born = s.audit_columns(f"{dm.source}: tutela.subjects")
    t = load(s.collection, [s.key, jur, born] + ([created] if created else []))
    return t.select(
        sid=t[s.key].cast("int64"),
        jurisdiction=t[jur].cast("string"),
        birth=t[born].cast("date"),
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


def grant_tokens(dm: DataMap, load: Loader) -> ir.Table | None:
    """One row per consent scope: sid, token (scope:by:assurance[:separate]), granted, expires,
    revoked; computed once per audit (None: the data map declares no consents)."""
    assert dm.tutela is not None
    c = dm.tutela.consents
    return None if c is None else load.once("grant_tokens", lambda: _tokens(load, c))


def _tokens(load: Loader, c: ConsentsDecl) -> ir.Table:
    t = load(c.collection, [c.subject, c.scopes, c.by, c.assurance, c.granted_at]
             + [x for x in (c.expires_at, c.revoked_at) if x])
    # `|` is a regex metacharacter for Spark's split: turn it into a comma first
    scopes = t[c.scopes].cast("string").re_replace(r"\|", ",").split(",")
    t = t.select(
        sid=t[c.subject].cast("int64"), scopes=scopes,
        by=t[c.by].cast("string"), assurance=t[c.assurance].cast("string"),
        granted=t[c.granted_at].cast("date"),
        expires=t[c.expires_at].cast("date") if c.expires_at else ibis.null("date"),
        revoked=t[c.revoked_at].cast("date") if c.revoked_at else ibis.null("date"),
    )
    t = t.mutate(single=t.scopes.length() == 1).unnest("scopes")
    token = t.scopes.concat(TOKEN_SEP, t.by, TOKEN_SEP, t.assurance, t.single.ifelse(TOKEN_SEP + SEPARATE, ""))
    return t.select("sid", "granted", "expires", "revoked", token=token)


def consent_spans(dm: DataMap, load: Loader) -> ir.Table | None:
    """`grant_spans` of the estate's consents, computed once per audit (None: no consents)."""
    tokens = grant_tokens(dm, load)
    return None if tokens is None else load.once("grant_spans", lambda: grant_spans(tokens))


def grant_spans(tokens: ir.Table) -> ir.Table:
    """sid, start, end (null: open): the days between two dates of a subject's consents.

    Which grants are valid changes only on a `granted_at`, `expires_at` or `revoked_at`
    day, so it is the same on every day of a span as on its first; before a subject's
    first span, none is.
    """
    days = ibis.union(*(tokens.select("sid", day=tokens[c]) for c in ("granted", "expires", "revoked")),
                      distinct=True)
    days = days.filter(days.day.notnull())
    w = ibis.window(group_by=days.sid, order_by=days.day)
    return days.select("sid", start=days.day, end=days.day.lead().over(w))


def valid_grants(tokens: ir.Table, spans: ir.Table) -> ir.Table:
    """sid, start, end, grants: the tokens valid on each span, `|`-joined (spans with none left out)."""
    t = tokens.rename(tsid="sid")
    d = spans.start
    j = spans.join(t, [spans.sid == t.tsid, t.granted <= d, t.expires.isnull() | (d < t.expires),
                       t.revoked.isnull() | (d < t.revoked)])
    # sorted and distinct: one string per set of grants, so the engine parses each set once
    return j.group_by(["sid", "start", "end"]).aggregate(grants=j.token.collect(distinct=True).sort().join("|"))


@dataclass(frozen=True)
class Days:
    """What a row's day decides about its requests (see the module docstring)."""

    people: ir.Table  # sid, eff (the effective birth date)
    spans: ir.Table | None  # sid, start, end (grant_spans)
    bounds: tuple[dt.date, ...]  # the rulebook's boundaries, sorted
    as_of: dt.date

    def keys(self, rows: ir.Table, retention_days: int | None = None) -> tuple[ir.Table, list[str]]:
        """`rows` (sid, day, ...) with the key columns added, and their names."""
        p = self.people.select(psid="sid", eff="eff")
        rows = rows.left_join(p, rows.sid == p.psid).drop("psid")
        if self.spans is not None:
            s = self.spans.select(ssid="sid", sstart="start", send="end")
            rows = rows.left_join(s, [rows.sid == s.ssid, s.sstart <= rows.day,
                                      s.send.isnull() | (rows.day < s.send)]).drop("ssid", "send")
        day, eff = rows.day, rows.eff
        birth = ibis.least(eff, day)  # as the request's birth_date: the age on `day` is exact
        keys = {
            "k_age": day.year() - birth.year() - (_month_day(day) < _month_day(birth)).cast("int32"),
            "k_child": (eff + ibis.interval(years=18)) > day,  # as the audit's `child`
            "k_epoch": _epoch(day, self.bounds, 0, len(self.bounds)),
        }
        if retention_days is not None:
            cut = self.as_of - dt.timedelta(days=retention_days)
            keys["k_kept"] = (day > cut).cast("int8") - (day < cut).cast("int8")
        rows = rows.mutate(**keys).drop("eff")
        return rows, [*keys, *(["sstart"] if self.spans is not None else [])]


def _month_day(day: ir.DateValue) -> ir.IntegerValue:
    return day.month() * 32 + day.day()


def _epoch(day: ir.DateValue, bounds: tuple[dt.date, ...], lo: int, hi: int) -> ir.IntegerValue:
    """How many of `bounds` are on or before `day`, known to be in lo..hi (a binary search)."""
    if lo == hi:
        return ibis.literal(lo, "int16")
    mid = (lo + hi) // 2
    return (day < bounds[mid]).ifelse(_epoch(day, bounds, lo, mid), _epoch(day, bounds, mid + 1, hi))


def _grouped(persist: Persist, name: str, rows: ir.Table, keys: list[str]) -> ir.Table:
    """One row per distinct key: n rows, dated on the first of them, and a group id."""
    g = rows.group_by(["sid", *keys]).aggregate(n=rows.count(), day=rows.day.min())
    return persist(name, g.mutate(gid=ibis.row_number()))


def _collection_rows(dm: DataMap, load: Loader, days: Days, name: str, decl: CollectionDecl,
                     extra: tuple[str, ...] = ()) -> tuple[ir.Table, list[str], list[str]]:
    """The collection's rows as (sid, day, group keys..., `extra`...), the keys, the categories."""
    cats = dm.categories(name)
    fields = sorted(cats)
    where_fields = [a.where.field for a in decl.acts if a.where]
    t = load(name, list(dict.fromkeys([decl.subject, *([decl.time] if decl.time else []), *fields, *where_fields,
                                       *extra])))
    categories = sorted({c for cs in cats.values() for c in cs})
    flags = {f"c{i}": ibis.or_(*(t[f].notnull() for f in fields if c in cats[f]))
             for i, c in enumerate(categories)}
    acts = {f"a{i}": (t[a.where.field].cast("string") == a.where.equals) if a.where else ibis.literal(True)
            for i, a in enumerate(decl.acts)}
    day = t[decl.time].cast("date") if decl.time else ibis.literal(days.as_of, "date")
    kept = {f"x_{e}": t[e] for e in extra}
    rows, keys = days.keys(t.select(sid=t[decl.subject].cast("int64"), day=day, **flags, **acts, **kept),
                           decl.retention_days)
    return rows, [*keys, *flags, *acts], categories


def collection_groups(dm: DataMap, load: Loader, persist: Persist, days: Days, name: str,
                      decl: CollectionDecl) -> Groups | None:
    if not dm.categories(name):
        return None
    rows, keys, categories = _collection_rows(dm, load, days, name, decl)
    g = _grouped(persist, f"g_{name}", rows, keys)
    parts = []
    for ci, c in enumerate(categories):
        for ai, a in enumerate(decl.acts):
            sel = g.filter(g[f"c{ci}"] & g[f"a{ai}"])
            parts.append(sel.select(
                "gid", "sid", "day", category=ibis.literal(c), use=ibis.literal(a.use),
                recipient=ibis.literal(a.recipient), destination=ibis.null("string"),
                certified=ibis.literal(False), scc=ibis.literal(False), tia=ibis.literal(False)))
    return Groups(name, g.select("gid", "sid", "n"), ibis.union(*parts), g, tuple(keys))


_TRANSFER_KEYS = ("source", "recipient", "destination", "certified", "scc", "tia")


def _transfer_rows(dm: DataMap, load: Loader, days: Days, settled: frozenset[str],
                   extra: tuple[str, ...] = ()) -> tuple[ir.Table, list[str]]:
    """Transfers as (sid, day, group keys..., `extra`...), without the settled ones."""
    assert dm.tutela is not None and dm.tutela.transfers is not None
    tr = dm.tutela.transfers
    pk = dm.primary_key(tr.collection)
    t = load(tr.collection, list(dict.fromkeys([tr.subject, tr.processor, tr.source_collection, tr.time, *extra,
                                                *(pk if settled else ())])))
    if settled:  # past transfers already settled by a remediation (route blocked, erasure asked)
        t = t.filter(~t[pk[0]].cast("string").isin(sorted(settled)))
    pr = load.arrow("transfer_registry", lambda: recipients(dm, load).audit_facts())
    j = t.join(pr, t[tr.processor].cast("string") == pr.id)
    rows = j.select(
        sid=j[tr.subject].cast("int64"), day=j[tr.time].cast("date"), source=j[tr.source_collection].cast("string"),
        recipient=j.recipient, destination=j.destination, certified=j.certified, scc=j.scc, tia=j.tia,
        **{f"x_{e}": j[e] for e in extra})
    rows, keys = days.keys(rows)
    return rows, [*keys, *_TRANSFER_KEYS]


def recipients(dm: DataMap, load: Loader) -> Registry:
    """The estate's processors table as the transfer registry (tutela.transfers): where the audit,
    like the guards, reads each recipient's country and safeguards."""
    assert dm.tutela is not None and dm.tutela.transfers is not None
    p = dm.tutela.transfers.processors
    cols = list(dict.fromkeys(c for c in (p.key, p.kind, p.country, p.certified, p.scc, p.tia, p.name) if c))
    table = load(p.collection, cols).select(*cols).to_pyarrow()
    return registry_from_processors(table, p, where=f"{dm.source}: {p.collection}")


def transfer_groups(dm: DataMap, load: Loader, persist: Persist, days: Days,
                    settled: frozenset[str] = frozenset()) -> Groups | None:
    assert dm.tutela is not None
    tr = dm.tutela.transfers
    if tr is None:
        return None
    rows, keys = _transfer_rows(dm, load, days, settled)
    g = _grouped(persist, "g_transfers", rows, keys)
    parts = []
    for source in dm.tutela.collections:
        for c in sorted({c for cs in dm.categories(source).values() for c in cs}):
            sel = g.filter(g.source == source)
            parts.append(sel.select("gid", "sid", "day", category=ibis.literal(c),
                                    use=ibis.literal("essential.service"), recipient="recipient",
                                    destination="destination", certified="certified", scc="scc", tia="tia"))
    return Groups(tr.collection, g.select("gid", "sid", "n"), ibis.union(*parts), g, tuple(keys))


def members(dm: DataMap, load: Loader, days: Days, g: Groups, extra: tuple[str, ...],
            settled: frozenset[str] = frozenset()) -> ir.Table:
    """Every row of the collection with its group id: `extra` fields..., sid, gid."""
    assert dm.tutela is not None and g.table is not None
    tr = dm.tutela.transfers
    if tr is not None and g.collection == tr.collection:
        rows, _ = _transfer_rows(dm, load, days, settled, extra)
    else:
        rows, _, _ = _collection_rows(dm, load, days, g.collection, dm.tutela.collections[g.collection], extra)
    gt = g.table.select("gid", gsid="sid", **{f"g_{k}": g.table[k] for k in g.keys})
    # IS NOT DISTINCT FROM: a group key can be null (no grant span yet) and still an equi-join
    cond = [rows.sid == gt.gsid, *(rows[k].identical_to(gt[f"g_{k}"]) for k in g.keys)]
    j = rows.join(gt, cond)
    return j.select(*(j[f"x_{e}"].name(e) for e in extra), j.sid, j.gid)

