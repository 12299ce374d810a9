"""The ground truth of a generated estate: every violation the generator planted.

Computed at generation from the generator's own in-memory records (never by reading the
written tables), with a plain loop over rows and `tutela.policy.reference.verdict`, following
`docs/audit.md` exactly:

- a subject's effective birth date is the latest of the declared birth date and every birth
  date implied by an age statement the generator planted in a text (age *a* in a text dated
  *t* implies *t* minus *a* years, 29 Feb -> 28 Feb);
- grants are the generator's consent records;
- each row of each collection of the Tutela data map yields one request per act (whose
  `where` holds) and per category of its non-null fields; transfers yield one request per
  category of the source collection;
- a denied request counts against each determining rule (never digital-consent entries); the
  rule counts its subject as *unverified parent* when the request, decided again with every
  parental consent valid that day raised to `verified`, is allowed or no longer cites it;
- a row none of whose requests is denied and that is held past its collection's declared
  `retention_days` on the audit date counts against each determining rule carrying
  `retain_declared`.

`compute` caches verdicts by what they depend on; `tutela.clipstream.plain.compute_plain` is the
same without any cache (the tests compare them).

The truth is stored under `$TUTELA_HOME/truth/` (default `~/.tutela/truth/`), keyed by the
SHA-256 of the estate's normalised URL, never inside the estate, so an audit cannot read it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tutela import settings
from tutela.clipstream.plain import compute_plain
from tutela.clipstream.records import (
    Person,
    Tally,
    datamap,
    implied_birth,
    person_grant,
    retention_rules,
    verified_parents,
)
from tutela.clipstream.schema import metadata
from tutela.errors import InputError
from tutela.policy.facts import Facts, GrantFact, Token, destination_class, resolve, satisfied
from tutela.policy.model import age_on
from tutela.policy.reference import matches, verdict
from tutela.rulebook import Rulebook
from tutela.taxonomy.model import covers

__all__ = ["Person", "compute", "compute_plain", "implied_birth", "load", "load_document", "person_grant",
           "store"]


# ---------------------------------------------------------------------------- subjects
def _birthday_changes(birth: dt.date, first: int, last: int) -> list[dt.date]:
    """Days on which `age_on(birth, ·)` steps up, in years first..last."""
    out = []
    for y in range(first, last + 1):
        try:
            out.append(birth.replace(year=y))
        except ValueError:
            out.append(dt.date(y, 3, 1))
    return out


class _State:
    """One subject's per-segment view: age and valid grants change only on listed days."""

    __slots__ = ("birth", "changes", "gfacts", "jur", "person")

    def __init__(self, p: Person, as_of: dt.date):
        self.person = p
        self.jur = p.jurisdiction
        self.birth = p.effective_birth()
        days = set(_birthday_changes(self.birth, min(p.created.year, as_of.year) - 3, as_of.year + 1))
        for _, _, _, g, e, r in p.grants:
            days.add(g)
            if e is not None:
                days.add(e)
            if r is not None:
                days.add(r)
        self.changes = sorted(days)
        self.gfacts = [(g, e, r, frozenset(GrantFact(s, by, level, len(set(scopes)) == 1) for s in scopes))
                       for scopes, by, level, g, e, r in p.grants]

    def grant_facts(self, day: dt.date) -> frozenset[GrantFact]:
        valid = [facts for g, e, r, facts in self.gfacts
                 if g <= day and (e is None or day < e) and (r is None or day < r)]
        return frozenset().union(*valid) if valid else frozenset()


# ---------------------------------------------------------------------------- computing
Outcome = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # denied, unverified parent, retention
Grants = tuple[frozenset[GrantFact], frozenset[Token]]  # valid grants and the consent tokens they satisfy


def compute(book: Rulebook, tables: Mapping[str, Sequence[tuple[Any, ...]]],
            people: Mapping[int, Person], as_of: dt.date) -> list[dict[str, Any]]:
    """The findings the audit must report for these records (see module docstring)."""
    cmap, decl = datamap()
    bounds = sorted(book.boundaries)
    states: dict[int, _State] = {}
    tally = Tally()
    keep = retention_rules(book)

    def state(sid: int) -> _State:
        s = states.get(sid)
        if s is None:
            s = states[sid] = _State(people[sid], as_of)
        return s

    # The verdict depends on the age only through the rules' age bands and the ages of digital
    # consent, so ages between two consecutive thresholds share one cached verdict.
    marks = {0} | {d.age for _, d in book.consent_index.values()}
    for s in book.all_rules:
        if s.rule.when.age is not None:
            marks |= {x for x in (s.rule.when.age.min, s.rule.when.age.below) if x is not None}
    rep_age = [max(m for m in marks if m <= a) for a in range(131)]

    # Likewise a category matters only through the rule categories that cover it.
    rule_cats = sorted({k for s in book.all_rules for k in (*s.rule.when.categories, *s.rule.when.except_categories)})
    cat_by_sig: dict[tuple[bool, ...], str] = {}
    rep_cat_cache: dict[str, str] = {}

    def rep_cat(cat: str) -> str:
        hit = rep_cat_cache.get(cat)
        if hit is None:
            sig = tuple(covers(k, cat) for k in rule_cats)
            hit = rep_cat_cache[cat] = cat_by_sig.setdefault(sig, cat)
        return hit

    def rep_day(day: dt.date) -> dt.date:
        i = bisect_right(bounds, day)
        return bounds[i - 1] if i else dt.date(1, 1, 1)

    tokens_cache: dict[tuple[str, int, dt.date], tuple[Token, ...]] = {}

    def tokens(jur: str, age: int, rday: dt.date) -> tuple[Token, ...]:
        """Every token any rule of `jur` can ask of a subject of this age on this day."""
        key = (jur, age, rday)
        hit = tokens_cache.get(key)
        if hit is None:
            dc = book.digital_consent(jur, rday)
            out: set[Token] = set()
            for s in book.rules_for(jur):
                if s.rule.requirement is not None:
                    out |= resolve(s.rule.requirement, age, dc)[0]
            hit = tokens_cache[key] = tuple(sorted(out))
        return hit

    # The verdict depends on the grants and safeguards only through which tokens of the
    # *applicable* rules they satisfy: the cache key holds that set, not the grants.
    relevant_cache: dict[tuple[Any, ...], frozenset[Token]] = {}
    verdicts: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def decide(base: tuple[Any, ...], grants: frozenset[GrantFact], safeguards: frozenset[str],
               sat: frozenset[Token]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(rules a denied request counts against, retention rules of an allowed one)."""
        jur, age, rday, cat, use, recipient, dest_class = base
        relevant = relevant_cache.get(base)
        if relevant is None:
            probe = Facts(jur, age, rday, cat, use, recipient, dest_class, frozenset(), frozenset())
            dc = book.digital_consent(jur, rday)
            out: set[Token] = set()
            for s in book.rules_for(jur):
                r = s.rule
                if r.requirement is not None and r.in_force(rday) and matches(r.when, probe):
                    out |= resolve(r.requirement, age, dc)[0]
            relevant = relevant_cache[base] = frozenset(out)
        key = (base, sat & relevant)
        hit = verdicts.get(key)
        if hit is None:
            v = verdict(book, Facts(jur, age, rday, cat, use, recipient, dest_class, grants, safeguards))
            ids = tuple(d.id for d in v.determining if d.kind != "digital_consent")
            hit = verdicts[key] = ((), tuple(i for i in ids if i in keep)) if v.allowed else (ids, ())
        return hit

    # A subject's age and valid grants change only on its listed days, the rulebook only on its
    # boundaries: each (subject, segment) maps to an interned state shared by every subject in
    # the same jurisdiction, age band and rulebook period whose grants satisfy the same tokens
    # (any of their grant sets then gives the same verdicts; one is kept to evaluate with), and
    # the same again once every parental consent is raised to `verified`.
    seg_states: dict[tuple[int, int, int], int] = {}
    interned: dict[tuple[str, int, dt.date, frozenset[Token], frozenset[Token]], int] = {}
    info: list[tuple[str, int, dt.date, Grants, Grants]] = []

    def satisfied_by(jur: str, age: int, rday: dt.date, grants: frozenset[GrantFact]) -> frozenset[Token]:
        return frozenset(t for t in tokens(jur, age, rday) if t.kind == "consent" and satisfied(t, grants, frozenset()))

    def state_id(st: _State, day: dt.date) -> int:
        skey = (st.person.account_id, bisect_right(bounds, day), bisect_right(st.changes, day))
        sid = seg_states.get(skey)
        if sid is None:
            age, rday, grants = rep_age[min(max(age_on(st.birth, day), 0), 130)], rep_day(day), st.grant_facts(day)
            up = verified_parents(grants)
            sat, sat_up = satisfied_by(st.jur, age, rday, grants), satisfied_by(st.jur, age, rday, up)
            full = (st.jur, age, rday, sat, sat_up)
            sid = interned.get(full)
            if sid is None:
                sid = interned[full] = len(info)
                info.append((st.jur, age, rday, (grants, sat), (up, sat_up)))
            seg_states[skey] = sid
        return sid

    def requests(sid: int, day: dt.date, cats: Sequence[str], acts: Sequence[tuple[str, str]],
                 dest: str | None = None, certified: bool = False,
                 safeguards: frozenset[str] = frozenset()) -> Outcome:
        """The row's (denied rules, of which cured by verified parents, retention rules if allowed)."""
        jur, age, rday, (grants, sat), (up, sat_up) = info[sid]
        dc = destination_class(book, jur, dest, day, certified) if dest is not None else "none"
        if safeguards:
            guards = {t for t in tokens(jur, age, rday) if t.kind == "safeguard" and t.name in safeguards}
            sat, sat_up = sat | guards, sat_up | guards
        denied: set[str] = set()
        unverified: set[str] = set()
        retain: set[str] = set()
        for use, recipient in acts:
            for cat in {rep_cat(c) for c in cats}:
                base = (jur, age, rday, cat, use, recipient, dc)
                rules, kept = decide(base, grants, safeguards, sat)
                retain.update(kept)
                if rules:
                    denied.update(rules)
                    if sat_up != sat:
                        unverified.update(set(rules) - set(decide(base, up, safeguards, sat_up)[0]))
        return tuple(sorted(denied)), tuple(sorted(unverified)), () if denied else tuple(sorted(retain))

    # ordinary collections ------------------------------------------------------------
    for name, cm in cmap.items():
        rows = tables.get(name, ())
        nullable = [(i, c) for i, c in cm.cat_cols if metadata.tables[name].columns[i].nullable]
        fixed = [c for i, c in cm.cat_cols if not metadata.tables[name].columns[i].nullable]
        acts_where = [(k + len(nullable), wcol, eq) for k, (_, _, wcol, eq) in enumerate(cm.acts)]
        kinds: dict[int, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {}
        row_cache: dict[tuple[int, int], Outcome] = {}
        const_bits = 0 if nullable or any(w is not None for _, w, _ in acts_where) else (
            sum(1 << k for k, _, _ in acts_where))
        tcol = cm.time
        scol = cm.subject
        for row in rows:
            if const_bits:
                bits = const_bits
            else:
                bits = 0
                for k, (i, _) in enumerate(nullable):
                    if row[i] is not None:
                        bits |= 1 << k
                for k, wcol, eq in acts_where:
                    if wcol is None or row[wcol] == eq:
                        bits |= 1 << k
            if bits not in kinds:
                cats = tuple(sorted(set(fixed) | {c for k, (_, c) in enumerate(nullable) if bits >> k & 1}))
                acts = tuple((u, r) for k, (u, r, _, _) in enumerate(cm.acts)
                             if bits >> (k + len(nullable)) & 1)
                kinds[bits] = (cats, acts)
            t = row[tcol] if tcol is not None else as_of
            day = t.date() if type(t) is dt.datetime else t
            subject = row[scol]
            st = states.get(subject)
            if st is None:
                st = state(subject)
            sid = seg_states.get((subject, bisect_right(bounds, day), bisect_right(st.changes, day)))
            if sid is None:
                sid = state_id(st, day)
            out = row_cache.get((sid, bits))
            if out is None:
                cats, acts = kinds[bits]
                out = row_cache[(sid, bits)] = requests(sid, day, cats, acts)
            if out[0]:
                tally.add(out[0], subject, st.birth != st.person.declared_birth, out[1])
            elif out[2] and cm.past_retention(day, as_of):
                tally.add(out[2], subject, st.birth != st.person.declared_birth)

    # transfers -----------------------------------------------------------------------
    tcols = [c.name for c in metadata.tables["transfers"].columns]
    pcols = [c.name for c in metadata.tables["processors"].columns]
    procs = {p[0]: dict(zip(pcols, p, strict=True)) for p in tables.get("processors", ())}
    t_cache: dict[tuple[int, int, str], Outcome] = {}
    ti = [tcols.index(n) for n in ("account_id", "processor_id", "collection", "at")]
    for row in tables.get("transfers", ()):
        subject, pid, coll, at = (row[i] for i in ti)
        day = at.date() if isinstance(at, dt.datetime) else at
        st = state(subject)
        sid = state_id(st, day)
        out = t_cache.get((sid, pid, coll))
        if out is None:
            p = procs[pid]
            safeguards = frozenset(s for s, col in (("scc", "scc_module"), ("tia", "tia_date"))
                                   if p[col] is not None)
            out = t_cache[(sid, pid, coll)] = requests(
                sid, day, cmap[coll].all_categories, (("essential.service", p["kind"]),),
                dest=p["country"], certified=bool(p["dpf_certified"]), safeguards=safeguards)
        if out[0]:
            tally.add(out[0], subject, st.birth != st.person.declared_birth, out[1])
    del decl
    return tally.result()


# ---------------------------------------------------------------------------- storing
def home() -> Path:
    return settings.home()


def path_for(url: str) -> Path:
    from tutela.clipstream.targets import normalize_url

    key = normalize_url(url)
    return home() / "truth" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def store(url: str, findings: list[dict[str, Any]], meta: dict[str, Any]) -> Path:
    from tutela.clipstream.targets import normalize_url

    path = path_for(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"url": normalize_url(url), **meta, "findings": findings},
                              indent=1, default=str))
    os.replace(tmp, path)
    return path


def load_document(url: str) -> dict[str, Any]:
    path = path_for(url)
    if not path.exists():
        raise InputError(
            f"no ground truth for estate `{url}` (looked for `{path}`)",
            where="url",
            hint="generate the estate with `tutela estate generate --out URL` first, with the same "
                 "TUTELA_HOME (default ~/.tutela)",
        )
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def load(url: str) -> list[dict[str, Any]]:
    """The findings planted in the estate at `url`, sorted by rule."""
    findings: list[dict[str, Any]] = load_document(url)["findings"]
    return findings


