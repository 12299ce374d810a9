"""The audit: every unlawful processing of children's data in an estate, per rule.

Set-based: each collection's rows are grouped through Ibis (DuckDB by default), one request
per group is decided by the compiled engine in one Arrow batch, and counts are summed back
per rule. The semantics are in docs/audit.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from tutela.audit import grouping as acts
from tutela.datamap import DataMap
from tutela.errors import InputError
from tutela.policy import CompiledPolicy
from tutela.policy.batch import decide_table
from tutela.query.backends import Backend, EngineName, open_backend
from tutela.query.source import EstateSource
from tutela.rulebook import Rulebook


@contextmanager
def _backend(name: EngineName) -> Iterator[Backend]:
    con = open_backend(name)
    try:
        yield con
    finally:
        con.close()

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Denied:
    """One collection's breaches, per row group: gid, sid, category, use, rule (for remediation)."""

    collection: str
    table: pa.Table


@dataclass(frozen=True)
class Session:
    """An audit's open query engine, for work that reads its groups back (remediation)."""

    con: Backend
    load: acts.EstateTables
    days: acts.Days
    groups: list[acts.Groups]
    facts: ir.Table


@dataclass
class Finding:
    rule: str
    title: str
    effect: str
    severity: str
    instrument: str
    section: str
    url: str
    subjects: int
    rows: int
    age_from_signal: int
    collections: dict[str, int] = field(default_factory=dict)
    countries: dict[str, int] = field(default_factory=dict)
    examples: list[int] = field(default_factory=list)
    children: int = 0  # distinct subjects under 18 on the date of an affected row
    categories: dict[str, int] = field(default_factory=dict)  # children affected per data category
    unverified_parent: int = 0  # subjects whose parental consent would have sufficed had it been verified

    status: str = "open"  # open | remediated (from the receipts of remediation jobs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "title": self.title, "severity": self.severity, "status": self.status,
            "subjects": self.subjects, "rows": self.rows, "age_from_signal": self.age_from_signal,
            "unverified_parent": self.unverified_parent, "children": self.children, "categories": self.categories,
            "collections": self.collections, "countries": self.countries, "examples": self.examples,
            "citation": {"instrument": self.instrument, "section": self.section, "url": self.url},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], effect: str = "forbid") -> Finding:
        """A finding back from `to_dict` (a stored audit); `effect` when the dict has none."""
        c = d["citation"]
        return cls(rule=d["rule"], title=d["title"], effect=d.get("effect", effect), severity=d["severity"],
                   instrument=c["instrument"], section=c["section"], url=c["url"], subjects=d["subjects"],
                   rows=d["rows"], age_from_signal=d["age_from_signal"], collections=d["collections"],
                   countries=d["countries"], examples=d["examples"], children=d["children"],
                   categories=d["categories"], unverified_parent=d["unverified_parent"], status=d["status"])


class Findings(list[Finding]):
    """The findings, one per rule, and `distinct`: the subjects and children over all of them, and
    per severity, each counted once (a child breached by three rules is one child, not three):
    `{"all": {"subjects": n, "children": n}, "critical": {...}, ...}`."""

    def __init__(self, items: list[Finding] | None = None, distinct: dict[str, dict[str, int]] | None = None):
        super().__init__(items or [])
        self.distinct = distinct or {"all": {"subjects": 0, "children": 0}}


def validate(dm: DataMap, source: EstateSource) -> None:
    """Check every table and column the audit will read before reading any of them."""
    t = dm.tutela
    if t is None:
        raise InputError("the data map has no Tutela declarations (subjects, acts)", where=dm.source)
    s = t.subjects
    need: dict[str, set[str]] = {s.collection: {s.key, *s.audit_columns(f"{dm.source}: tutela.subjects")}}

    def add(table: str, *cols: str | None) -> None:
        need.setdefault(table, set()).update(c for c in cols if c)

    for name, decl in t.collections.items():
        add(name, decl.subject, decl.time, *dm.categories(name), *(a.where.field for a in decl.acts if a.where))
    if t.consents:
        c = t.consents
        add(c.collection, c.subject, c.scopes, c.by, c.assurance, c.granted_at, c.expires_at, c.revoked_at)
    for sig in t.age_signals:
        add(sig.collection, sig.subject, sig.field)
    if t.transfers:
        tr, p = t.transfers, t.transfers.processors
        add(tr.collection, tr.subject, tr.processor, tr.source_collection, tr.time)
        add(p.collection, p.key, p.kind, p.country, p.certified, p.scc, p.tia, p.name)
    for table, cols in sorted(need.items()):
        source.require(table, cols, f"data map `{dm.dataset.fides_key}`")


def grants(dm: DataMap, load: acts.Loader, keys: ir.Table) -> ir.Table:
    """(sid, day) -> `|`-joined grant tokens valid that day (scope:by:assurance[:separate]).

    The tokens valid on each span between two of a subject's consent dates are computed once
    per audit; each (sid, day) looks up the one span it falls in.
    """
    tokens = acts.grant_tokens(dm, load)
    spans = acts.consent_spans(dm, load)
    if tokens is None or spans is None:
        return keys.mutate(grants=ibis.literal(""))
    v = load.once("valid_grants", lambda: acts.valid_grants(tokens, spans))
    v = v.select(vsid="sid", vstart="start", vend="end", vgrants="grants")
    j = keys.left_join(v, [keys.sid == v.vsid, v.vstart <= keys.day, v.vend.isnull() | (keys.day < v.vend)])
    return j.select("sid", "day", grants=ibis.coalesce(j.vgrants, ""))


def run_audit(policy: CompiledPolicy, book: Rulebook, dm: DataMap, source: EstateSource,
              as_of: dt.date, progress: Progress | None = None, engine: EngineName = "duckdb",
              settled: frozenset[str] = frozenset(), denied: Callable[[Denied], None] | None = None,
              then: Callable[[Session], None] | None = None) -> Findings:
    """Findings per rule. `settled`: keys of past transfers a remediation settled (not open);
    `denied` receives each collection's breaches; `then` runs before the query engine closes."""
    validate(dm, source)
    step = progress or (lambda _msg: None)
    assert dm.tutela is not None
    step(f"start {engine}")
    with _backend(engine) as con:
        load = acts.EstateTables(source, con, step)
        subj = acts.subjects(dm, load)
        created = dict(zip(*(subj.select("sid", "created").to_pyarrow()[c].to_pylist()
                             for c in ("sid", "created")), strict=True))
        step("age signals")
        implied = con.register("implied", acts.implied_births(dm, load, created))
        facts = con.persist("facts", subj.left_join(implied, subj.sid == implied.sid).select(
            "sid", "jurisdiction", "birth",
            eff=ibis.greatest(subj.birth, ibis.coalesce(implied.implied, subj.birth)),
        ))
        step("group rows")
        days = acts.Days(facts.select("sid", "eff"), acts.consent_spans(dm, load), book.boundaries, as_of)
        groups = [g for name, decl in dm.tutela.collections.items()
                  if (g := acts.collection_groups(dm, load, con.persist, days, name, decl)) is not None]
        if (tg := acts.transfer_groups(dm, load, con.persist, days, settled)) is not None:
            groups.append(tg)
        per_rule: list[pa.Table] = []
        exposure: list[pa.Table] = []
        for g in groups:
            step(f"decide {g.collection}")
            rows, children = _decide(policy, book, dm, load, facts, g, as_of, denied)
            per_rule.append(rows)
            exposure.append(children)
        step("findings")
        found = _findings(con, book, per_rule, exposure, facts)
        if then is not None:
            then(Session(con, load, days, groups, facts))
        return found


_EMPTY = pa.schema([("rule", pa.string()), ("sid", pa.int64()), ("n", pa.int64()), ("signal", pa.bool_()),
                    ("unverified", pa.bool_()), ("collection", pa.string())]).empty_table()
_EMPTY_EXPOSURE = pa.schema([("rule", pa.string()), ("sid", pa.int64()), ("category", pa.string())]).empty_table()
_KEYS = ("gid", "sid", "signal", "child", "category", "use")
_UNVERIFIED_PARENT = r":parent:(declared|confirmed)"  # grant tokens are scope:by:assurance[:separate]


def _decide(policy: CompiledPolicy, book: Rulebook, dm: DataMap, load: acts.Loader,
            facts: ir.Table, g: acts.Groups, as_of: dt.date,
            sink: Callable[[Denied], None] | None = None) -> tuple[pa.Table, pa.Table]:
    r = g.requests
    keys = r.select("sid", "day").distinct()
    gr = grants(dm, load, keys)
    req = r.join(facts, "sid").join(gr, ["sid", "day"])
    req = req.select(
        "gid", "sid",
        jurisdiction=req.jurisdiction, birth_date=ibis.least(req.eff, req.day), at=req.day,
        category=req.category, use=req.use, recipient=req.recipient, destination=req.destination,
        recipient_certified=req.certified, scc=req.scc, tia=req.tia, grants=req.grants,
        signal=req.eff != req.birth,
        child=(req.eff + ibis.interval(years=18)) > req.day,
    ).to_pyarrow()
    if req.num_rows == 0:
        return _EMPTY, _EMPTY_EXPOSURE
    out = decide_table(policy, req).to_arrow()
    denied = pc.equal(out["effect"].cast(pa.string()), "deny")
    rule_ids = pa.array(sorted(book.rule_index))
    # denied requests: one row per (request, determining rule); consent-age entries are reasons, not breaches
    d = req.filter(denied)
    ex = _per_rule(d.select(list(_KEYS)).append_column("i", pa.array(range(d.num_rows), pa.int64())),
                   out["determining"].filter(denied), rule_ids)
    ex = ex.append_column("unverified", _cured_by_verified_parents(policy, d, ex, rule_ids)).drop_columns(["i"])
    held = _held_past_retention(book, dm, g.collection, req, out, denied, as_of)
    ex = pa.concat_tables([ex, held.append_column("unverified", pa.array([False] * held.num_rows, pa.bool_()))])
    if sink is not None and ex.num_rows:
        sink(Denied(g.collection, ex.select(["gid", "sid", "category", "use", "rule"])))
    per_group = ex.group_by(["gid", "sid", "rule"]).aggregate([("signal", "max"), ("unverified", "max")])
    counts = g.counts.to_pyarrow()
    counted = per_group.join(counts, keys=["gid", "sid"])
    rows = counted.group_by(["rule", "sid"]).aggregate([("n", "sum"), ("signal_max", "max"),
                                                       ("unverified_max", "max")])
    rows = pa.table({
        "rule": rows["rule"], "sid": rows["sid"], "n": rows["n_sum"], "signal": rows["signal_max_max"],
        "unverified": rows["unverified_max_max"],
        "collection": pa.array([g.collection] * rows.num_rows, pa.string()),
    })
    children = ex.filter(ex["child"]).group_by(["rule", "sid", "category"]).aggregate([])
    return rows.cast(_EMPTY.schema), children.select(["rule", "sid", "category"]).cast(_EMPTY_EXPOSURE.schema)


def _per_rule(t: pa.Table, determining: pa.ChunkedArray, rule_ids: pa.Array) -> pa.Table:
    """One row of `t` per rule of its `determining` list (comma-separated) that is in `rule_ids`."""
    split = pc.split_pattern(determining.cast(pa.string()), ",")
    ex = t.take(pc.list_parent_indices(split)).append_column("rule", pc.list_flatten(split))
    return ex.filter(pc.is_in(ex["rule"], value_set=rule_ids))


def _cured_by_verified_parents(policy: CompiledPolicy, d: pa.Table, ex: pa.Table, rule_ids: pa.Array) -> pa.Array:
    """Per row of `ex` (denied request `i`, rule): the request, decided again with every parental
    consent valid that day raised to `verified`, is allowed or no longer cites the rule."""
    raised = pc.replace_substring_regex(d["grants"], _UNVERIFIED_PARENT, ":parent:verified")
    changed = pc.not_equal(raised, d["grants"])
    again = d.filter(changed).set_column(d.schema.get_field_index("grants"), "grants", raised.filter(changed))
    if again.num_rows == 0:
        return pa.array([False] * ex.num_rows, pa.bool_())
    idx = pc.indices_nonzero(changed).cast(pa.int64())
    out = decide_table(policy, again).to_arrow()
    still = pc.equal(out["effect"].cast(pa.string()), "deny")
    left = _per_rule(pa.table({"i": idx}).filter(still), out["determining"].filter(still), rule_ids)
    width = len(rule_ids)

    def key(t: pa.Table) -> pa.Array:  # (request, rule) as one integer
        return pc.add(pc.multiply(t["i"], width), pc.index_in(t["rule"], value_set=rule_ids).cast(pa.int64()))

    return pc.and_(pc.is_in(ex["i"], value_set=idx), pc.invert(pc.is_in(key(ex), value_set=key(left))))


def _held_past_retention(book: Rulebook, dm: DataMap, collection: str, req: pa.Table, out: pa.Table,
                         denied: pa.ChunkedArray, as_of: dt.date) -> pa.Table:
    """Requests of row groups held past their collection's declared retention, none of whose
    requests is denied: one row per determining rule carrying `retain_declared`."""
    assert dm.tutela is not None
    decl = dm.tutela.collections.get(collection)
    keep = [s.rule.id for s in book.rule_index.values()
            if any(o.kind == "retain_declared" for o in s.rule.obligations)]
    empty = req.select(list(_KEYS)).slice(0, 0).append_column("rule", pa.array([], pa.string()))
    if decl is None or decl.retention_days is None or decl.time is None or not keep:
        return empty
    limit = as_of - dt.timedelta(days=decl.retention_days)  # as_of - day > retention_days
    any_denied = pc.is_in(req["gid"], value_set=pc.unique(req["gid"].filter(denied)))
    held = pc.and_(pc.less(req["at"], pa.scalar(limit, pa.date32())), pc.invert(any_denied))
    return _per_rule(req.select(list(_KEYS)).filter(held), out["determining"].filter(held), pa.array(keep))


def _distinct(severity: dict[str, str], subjects: pa.Table, children: pa.Table) -> dict[str, dict[str, int]]:
    """Distinct subjects and children over every rule, and per severity (`rule`, `sid` tables)."""
    rules, sevs = pa.array(list(severity), pa.string()), pa.array(list(severity.values()), pa.string())
    out: dict[str, dict[str, int]] = {}
    for what, t in (("subjects", subjects), ("children", children)):
        out.setdefault("all", {})[what] = int(pc.count_distinct(t["sid"]).as_py())
        by = pa.table({"severity": sevs.take(pc.index_in(t["rule"], value_set=rules)), "sid": t["sid"]})
        for r in by.group_by("severity").aggregate([("sid", "count_distinct")]).to_pylist():
            out.setdefault(str(r["severity"]), {"subjects": 0, "children": 0})[what] = int(r["sid_count_distinct"])
    return out


def _findings(con: Backend, book: Rulebook, parts: list[pa.Table], exposure: list[pa.Table],
              facts: ir.Table) -> Findings:
    allp = pa.concat_tables([_EMPTY, *parts])
    if allp.num_rows == 0:
        return Findings()
    exposed = pa.concat_tables([_EMPTY_EXPOSURE, *exposure])
    ex_t = con.register("exposure", exposed)
    ex_j = ex_t.join(facts.select("sid", "jurisdiction"), "sid")
    kids = ex_j.group_by("rule").aggregate(children=ex_j.sid.nunique()).to_pyarrow().to_pylist()
    kid_cats = ex_j.group_by(["rule", "category"]).aggregate(children=ex_j.sid.nunique()).to_pyarrow().to_pylist()
    t = con.register("per_rule", allp)
    f = facts.select("sid", "jurisdiction")
    j = t.join(f, "sid")
    by_rule = j.group_by("rule").aggregate(
        rows=j.n.sum(), subjects=j.sid.nunique(),
        signal=j.sid.nunique(where=j.signal), unverified=j.sid.nunique(where=j.unverified),
    ).to_pyarrow().to_pylist()
    by_coll = j.group_by(["rule", "collection"]).aggregate(rows=j.n.sum()).to_pyarrow().to_pylist()
    by_country = j.group_by(["rule", "jurisdiction"]).aggregate(subjects=j.sid.nunique()).to_pyarrow().to_pylist()
    examples = j.group_by("rule").aggregate(ex=j.sid.collect()).to_pyarrow().to_pylist()
    out = Findings()
    ex = {r["rule"]: sorted(set(r["ex"]))[:5] for r in examples}
    for r in sorted(by_rule, key=lambda x: x["rule"]):
        s = book.rule_index[r["rule"]]
        rule = s.rule
        # retention (obligate rules): the processing was lawful, the keeping is not
        severity = ("high" if rule.effect == "obligate" else "critical" if rule.when.age is not None
                    else "high" if rule.effect == "forbid" else "medium")
        out.append(Finding(
            rule=rule.id, title=rule.title, effect=rule.effect, severity=severity,
            instrument=rule.citation.instrument, section=rule.citation.section, url=rule.citation.url,
            subjects=int(r["subjects"]), rows=int(r["rows"]), age_from_signal=int(r["signal"] or 0),
            unverified_parent=int(r["unverified"] or 0),
            collections={c["collection"]: int(c["rows"]) for c in by_coll if c["rule"] == r["rule"]},
            countries={c["jurisdiction"]: int(c["subjects"]) for c in by_country if c["rule"] == r["rule"]},
            examples=ex[r["rule"]],
            children=next((int(k["children"]) for k in kids if k["rule"] == r["rule"]), 0),
            categories={k["category"]: int(k["children"]) for k in kid_cats if k["rule"] == r["rule"]},
        ))
    out.distinct = _distinct({f.rule: f.severity for f in out}, allp, exposed)
    return out
