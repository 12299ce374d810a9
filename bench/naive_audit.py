"""The audit as one plain Python pass over the rows (the baseline for bench/audit.py).

It follows docs/audit.md like `tutela.audit.run` does, but row by row: read every
table into Python, derive each subject's facts, expand each row into requests and decide
each with the compiled evaluator's single path; a row none of whose requests is denied and
that is older than its collection's retention counts under its rules carrying retention.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tutela.audit.signals import stated_ages
from tutela.datamap import DataMap
from tutela.policy import CompiledPolicy
from tutela.policy.facts import Facts, age_on, destination_class, grant_facts
from tutela.policy.model import Grant
from tutela.rulebook import Rulebook


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def naive_audit(policy: CompiledPolicy, book: Rulebook, dm: DataMap, folder: Path,
                as_of: dt.date) -> dict[str, tuple[int, int]]:
    t = dm.tutela
    assert t is not None

    def rows(name: str) -> list[dict[str, Any]]:
        return pq.read_table(folder / f"{name}.parquet").to_pylist()

    s = t.subjects
    created_field = t.collections[s.collection].time if s.collection in t.collections else None
    people = {r[s.key]: r for r in rows(s.collection)}
    eff = {sid: r[s.birth_date] for sid, r in people.items()}
    for sig in t.age_signals:
        time = t.collections[sig.collection].time if sig.collection in t.collections else None
        for r in rows(sig.collection):
            ages = stated_ages(r[sig.field])
            sid = r[sig.subject]
            when = _day(r[time]) if time else (_day(people[sid][created_field]) if created_field else None)
            if ages and when is not None and sid in eff:
                eff[sid] = max(eff[sid], _years_before(when, min(ages)))
    grants: dict[int, list[Grant]] = defaultdict(list)
    if t.consents:
        c = t.consents
        for r in rows(c.collection):
            grants[r[c.subject]].append(Grant(
                scopes=tuple(r[c.scopes].split("|")), by=r[c.by], assurance=r[c.assurance],
                granted_at=r[c.granted_at], expires_at=r.get(c.expires_at) if c.expires_at else None,
                revoked_at=r.get(c.revoked_at) if c.revoked_at else None))
    hit_rows: dict[str, set[tuple[str, int]]] = defaultdict(set)
    hit_subjects: dict[str, set[int]] = defaultdict(set)
    rule_ids = set(book.rule_index)
    keep = {sid for sid, sr in book.rule_index.items() if any(o.kind == "retain_declared" for o in sr.rule.obligations)}

    def hit(rules: set[str], coll: str, i: int, sid: int) -> None:
        for rule in rules:
            hit_rows[rule].add((coll, i))
            hit_subjects[rule].add(sid)

    def decide(sid: int, day: dt.date, category: str, use: str, recipient: str, dest: str | None = None,
               certified: bool = False, safeguards: frozenset[str] = frozenset()) -> tuple[bool, set[str]]:
        """(denied, the determining rules that count: denying ones, or else those carrying retention)."""
        jur = people[sid][s.jurisdiction]
        birth = min(eff[sid], day)
        f = Facts(jur, age_on(birth, day), day, category, use, recipient,
                  destination_class(book, jur, dest, day, certified), grant_facts(tuple(grants[sid]), day),
                  safeguards)
        v = policy.verdict(f)
        denied = v.effect == "deny"
        return denied, {d.id for d in v.determining if d.id in (rule_ids if denied else keep)}

    for name, decl in t.collections.items():
        cats = dm.categories(name)
        for i, r in enumerate(rows(name)):
            sid = r[decl.subject]
            day = _day(r[decl.time]) if decl.time else as_of
            present = sorted({c for f, cs in cats.items() if r[f] is not None for c in cs})
            denying: set[str] = set()
            retained: set[str] = set()
            any_denied = False
            for act in decl.acts:
                if act.where and str(r[act.where.field]) != act.where.equals:
                    continue
                for c in present:
                    denied, rules = decide(sid, day, c, act.use, act.recipient)
                    any_denied |= denied
                    (denying if denied else retained).update(rules)
            hit(denying, name, i, sid)
            # held past the declared retention, and none of the row's requests denied (docs/audit.md)
            if (not any_denied and decl.time and decl.retention_days is not None
                    and (as_of - day).days > decl.retention_days):
                hit(retained, name, i, sid)
    if t.transfers:
        tr, p = t.transfers, t.transfers.processors
        procs = {r[p.key]: r for r in rows(p.collection)}
        for i, r in enumerate(rows(tr.collection)):
            pr = procs[r[tr.processor]]
            source = r[tr.source_collection]
            if source not in t.collections:
                continue
            cats = sorted({c for cs in dm.categories(source).values() for c in cs})
            sg = frozenset(x for x, v in (("scc", pr[p.scc]), ("tia", pr[p.tia])) if v is not None)
            for c in cats:
                denied, rules = decide(r[tr.subject], _day(r[tr.time]), c, "essential.service", pr[p.kind],
                                       pr[p.country], bool(pr[p.certified]), sg)
                if denied:
                    hit(rules, tr.collection, i, r[tr.subject])
    return {rule: (len(hit_subjects[rule]), len(hit_rows[rule])) for rule in sorted(hit_rows)}
