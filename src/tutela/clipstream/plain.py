"""The ground truth without any cache or shortcut: one `verdict` per request, row by row.

Slow; the tests use it to check the cached `tutela.clipstream.truth.compute` on small estates.
It follows docs/audit.md literally:

- a denied request counts against each determining rule (never digital-consent entries);
  such a rule counts the subject as *unverified parent* when the request, decided again with
  every parental consent valid that day raised to `verified`, is allowed or no longer cites it;
- a row none of whose requests is denied, held past its collection's declared retention on
  the audit date, counts against each determining rule that carries `retain_declared`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tutela.clipstream.records import Person, Tally, datamap, retention_rules, verified_parents
from tutela.clipstream.schema import metadata
from tutela.policy.facts import Facts, GrantFact, destination_class
from tutela.policy.model import age_on
from tutela.policy.reference import verdict
from tutela.rulebook import Rulebook


def compute_plain(book: Rulebook, tables: Mapping[str, Sequence[tuple[Any, ...]]],
                  people: Mapping[int, Person], as_of: dt.date) -> list[dict[str, Any]]:
    cmap, _ = datamap()
    keep = retention_rules(book)
    tally = Tally()

    def denied_by(f: Facts) -> set[str]:
        v = verdict(book, f)
        return set() if v.allowed else {d.id for d in v.determining if d.kind != "digital_consent"}

    def rules_of(p: Person, day: dt.date, cats: Sequence[str], acts: Sequence[tuple[str, str]],
                 dest: str | None = None, certified: bool = False,
                 safeguards: frozenset[str] = frozenset()) -> tuple[set[str], set[str], set[str]]:
        """(denied rules, of which cured by verified parents, retention rules of allowed requests)."""
        birth = p.effective_birth()
        grants: frozenset[GrantFact] = p.grants_on(day)
        denied: set[str] = set()
        unverified: set[str] = set()
        retain: set[str] = set()
        for use, recipient in acts:
            for cat in cats:
                f = Facts(p.jurisdiction, age_on(birth, day), day, cat, use, recipient,
                          destination_class(book, p.jurisdiction, dest, day, certified), grants, safeguards)
                v = verdict(book, f)
                if v.allowed:
                    retain.update(d.id for d in v.determining if d.id in keep)
                    continue
                rules = {d.id for d in v.determining if d.kind != "digital_consent"}
                denied |= rules
                unverified |= rules - denied_by(replace(f, grants=verified_parents(grants)))
        return denied, unverified, retain

    for name, cm in cmap.items():
        for row in tables.get(name, ()):
            cats = sorted({c for i, c in cm.cat_cols if row[i] is not None})
            acts = [(u, r) for u, r, w, eq in cm.acts if w is None or row[w] == eq]
            t = row[cm.time] if cm.time is not None else as_of
            day = t.date() if isinstance(t, dt.datetime) else t
            p = people[row[cm.subject]]
            signal = p.effective_birth() != p.declared_birth
            denied, unverified, retain = rules_of(p, day, cats, acts)
            if denied:
                tally.add(denied, p.account_id, signal, unverified)
            elif retain and cm.past_retention(day, as_of):
                tally.add(retain, p.account_id, signal)
    pcols = [c.name for c in metadata.tables["processors"].columns]
    procs = {p[0]: dict(zip(pcols, p, strict=True)) for p in tables.get("processors", ())}
    for _tid, sid, pid, coll, at in tables.get("transfers", ()):
        p, proc = people[sid], procs[pid]
        safeguards = frozenset(s for s, col in (("scc", "scc_module"), ("tia", "tia_date")) if proc[col] is not None)
        denied, unverified, _ = rules_of(p, at.date(), cmap[coll].all_categories,
                                         (("essential.service", proc["kind"]),),
                                         proc["country"], bool(proc["dpf_certified"]), safeguards)
        tally.add(denied, sid, p.effective_birth() != p.declared_birth, unverified)
    return tally.result()
