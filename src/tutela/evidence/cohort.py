"""Findings for a cohort (accounts created between two dates), before and after remediation.

The Amsterdam District Court limited the class in the collective action against TikTok to
accounts created between 25 May 2018 and 9 November 2022 (ECLI:NL:RBAMS:2024:83, 10 January
2024, as reported by consumentenbond.nl; the judgment's text was not checked): a cohort is that
kind of class. Per rule: the cohort's subjects whose rows the audit
finds unlawful now (`open`), those a remediation job repaired (from its receipts in the state
store: `remediated`), and `before` = both. Subjects, not rows: a receipt counts rows per
store, an open finding per row group, and the two are not the same unit.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tutela.audit import run_audit
from tutela.audit.run import Denied
from tutela.connectors import ESTATE
from tutela.connectors.urls import estate_id, redact
from tutela.datamap import DataMap
from tutela.errors import InputError
from tutela.policy import CompiledPolicy
from tutela.query import EstateSource
from tutela.rulebook import Rulebook
from tutela.store import StateStore

CLASS_NOTE = ("a cohort as the Amsterdam District Court defined the class in the TikTok collective action: "
              "accounts created between two dates (ECLI:NL:RBAMS:2024:83, 2024-01-10; the class dates "
              "2018-05-25 to 2022-11-09 as reported by consumentenbond.nl, not checked against the judgment)")


def cohort_ids(dm: DataMap, source: EstateSource, start: dt.date, end: dt.date) -> set[str]:
    """Subject ids whose subjects-collection row was created in [start, end]."""
    assert dm.tutela is not None
    s = dm.tutela.subjects
    decl = dm.tutela.collections.get(s.collection)
    if decl is None or decl.time is None:
        raise InputError(f"the data map gives `{s.collection}` no creation time: a cohort cannot be chosen",
                         where=f"{dm.source}: tutela.collections.{s.collection}.time")
    t = source.read(s.collection, [s.key, decl.time])
    day = pc.cast(t[decl.time], pa.timestamp("us")).cast(pa.date32())
    keep = pc.and_(pc.greater_equal(day, pa.scalar(start, pa.date32())),
                   pc.less_equal(day, pa.scalar(end, pa.date32())))
    return {str(v) for v in t.filter(keep)[s.key].to_pylist()}


def cohort_findings(policy: CompiledPolicy, book: Rulebook, dm: DataMap, url: str, state: StateStore | None,
                    as_of: dt.date, start: dt.date, end: dt.date) -> dict[str, Any]:
    source = EstateSource.open(url)
    pairs: set[tuple[str, str]] = set()

    def sink(d: Denied) -> None:
        t = d.table.select(["rule", "sid"])
        pairs.update(zip(t["rule"].to_pylist(), (str(s) for s in t["sid"].to_pylist()), strict=True))

    try:
        members = cohort_ids(dm, source, start, end)
        settled = frozenset(state.settled_transfers(estate_id(url))) if state else frozenset()
        findings = run_audit(policy, book, dm, source, as_of, settled=settled, denied=sink)
    finally:
        source.close()
    open_: dict[str, set[str]] = {}
    for rule, sid in pairs:
        if sid in members:
            open_.setdefault(rule, set()).add(sid)
    fixed: dict[str, set[str]] = {}
    for r in state.receipts(key=estate_id(url)) if state else ():
        if r["subject"] not in members:
            continue
        for change in json.loads(r["body"]).get("changes", ()):
            if change.get("store") in (ESTATE, "registry") and int(change.get("rows", 0)) > 0:
                for rule in change.get("rules", ()):
                    fixed.setdefault(rule, set()).add(r["subject"])
    rules = []
    for rule_id in sorted(set(open_) | set(fixed)):
        scoped = book.rule_index.get(rule_id)
        still, done = open_.get(rule_id, set()), fixed.get(rule_id, set())
        rules.append({"rule": rule_id, "title": scoped.rule.title if scoped else None,
                      "citation": {"instrument": scoped.rule.citation.instrument,
                                   "section": scoped.rule.citation.section,
                                   "url": scoped.rule.citation.url} if scoped else None,
                      "before": len(still | done), "remediated": len(done - still), "open": len(still)})
    return {"estate": redact(url), "as_of": as_of.isoformat(), "created_from": start.isoformat(),
            "created_until": end.isoformat(), "subjects_in_cohort": len(members), "class": CLASS_NOTE,
            "unit": "distinct subjects of the cohort", "rules": rules,
            "estate_findings_open": [{"rule": f.rule, "severity": f.severity, "subjects": f.subjects, "rows": f.rows,
                                      "children": f.children} for f in findings],
            "receipts_searched": state is not None}
