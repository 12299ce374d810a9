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
- a denied request counts against each determining rule (never digital-consent entries).

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
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from tutela.errors import InputError
from tutela.estate.schema import metadata
from tutela.policy.facts import Facts, GrantFact, Token, age_on, destination_class, resolve, satisfied
from tutela.policy.reference import matches, verdict
from tutela.rulebook import Rulebook
from tutela.rulebook.models import ASSURANCE_ORDER
from tutela.taxonomy.model import covers

EXCLUDED_PREFIXES = ("system.",)
EXCLUDED = frozenset({"user.unique_id", "user.privacy_preferences"})
EXAMPLES = 5


# ---------------------------------------------------------------------------- data map
@dataclass(frozen=True)
class CollectionMap:
    name: str
    subject: int  # column index of the subject
    time: int | None  # column index of the time field, None = audit date
    cat_cols: tuple[tuple[int, str], ...]  # (column index, category) of counted fields
    acts: tuple[tuple[str, str, int | None, Any], ...]  # (use, recipient, where col, equals)

    @property
    def all_categories(self) -> tuple[str, ...]:
        return tuple(sorted({c for _, c in self.cat_cols}))


def _counted(category: str) -> bool:
    return category not in EXCLUDED and not category.startswith(EXCLUDED_PREFIXES)


@cache
def datamap() -> tuple[dict[str, CollectionMap], dict[str, Any]]:
    """The ClipStream data map (both YAML files), indexed by the schema's column order."""
    base = resources.files("tutela.data.datamaps")
    fides = yaml.safe_load(base.joinpath("clipstream.yml").read_text())
    decl = yaml.safe_load(base.joinpath("clipstream.tutela.yml").read_text())["tutela"]
    fields = {c["name"]: c["fields"] for c in fides["dataset"][0]["collections"]}
    out: dict[str, CollectionMap] = {}
    for name, spec in decl["collections"].items():
        cols = [c.name for c in metadata.tables[name].columns]
        cats = tuple(
            (cols.index(f["name"]), cat)
            for f in fields[name] for cat in f.get("data_categories", []) if _counted(cat)
        )
        acts = []
        for a in spec["acts"]:
            where = a.get("where")
            acts.append((a["use"], a.get("recipient", "first_party"),
                         cols.index(where["field"]) if where else None,
                         where["equals"] if where else None))
        out[name] = CollectionMap(
            name=name, subject=cols.index(spec["subject"]),
            time=cols.index(spec["time"]) if spec.get("time") else None,
            cat_cols=cats, acts=tuple(acts),
        )
    return out, decl


# ---------------------------------------------------------------------------- subjects
@dataclass
class Person:
    """What the generator knows about one subject."""

    account_id: int
    jurisdiction: str
    declared_birth: dt.date
    created: dt.date
    signals: list[tuple[int, dt.date]] = field(default_factory=list)  # (stated age, text date)
    # (scopes, by, level, granted_at, expires_at, revoked_at)
    grants: list[tuple[tuple[str, ...], str, int, dt.date, dt.date | None, dt.date | None]] = field(
        default_factory=list)

    def effective_birth(self) -> dt.date:
        return max([self.declared_birth, *(implied_birth(t, a) for a, t in self.signals)])


def implied_birth(day: dt.date, age: int) -> dt.date:
    try:
        return day.replace(year=day.year - age)
    except ValueError:  # 29 Feb in a common year
        return day.replace(year=day.year - age, day=28)


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
class _Tally:
    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.subjects: dict[str, set[int]] = {}
        self.by_signal: dict[str, set[int]] = {}

    def add(self, rules: tuple[str, ...], sid: int, signal: bool) -> None:
        for r in rules:
            self.rows[r] = self.rows.get(r, 0) + 1
            self.subjects.setdefault(r, set()).add(sid)
            if signal:
                self.by_signal.setdefault(r, set()).add(sid)

    def result(self) -> list[dict[str, Any]]:
        out = []
        for rule in sorted(self.rows):
            subs = self.subjects[rule]
            out.append({
                "rule": rule,
                "subjects": len(subs),
                "rows": self.rows[rule],
                "subjects_age_from_signal": len(self.by_signal.get(rule, ())),
                "examples": sorted(subs)[:EXAMPLES],
            })
        return out


def compute(book: Rulebook, tables: Mapping[str, Sequence[tuple[Any, ...]]],
            people: Mapping[int, Person], as_of: dt.date) -> list[dict[str, Any]]:
    """The findings the audit must report for these records (see module docstring)."""
    cmap, decl = datamap()
    bounds = sorted(book.boundaries)
    states: dict[int, _State] = {}
    tally = _Tally()

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
    verdicts: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def denied(base: tuple[Any, ...], grants: frozenset[GrantFact], safeguards: frozenset[str],
               sat: frozenset[Token]) -> tuple[str, ...]:
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
            hit = () if v.allowed else tuple(d.id for d in v.determining if d.kind != "digital_consent")
            verdicts[key] = hit
        return hit

    # A subject's age and valid grants change only on its listed days, the rulebook only on its
    # boundaries: each (subject, segment) maps to an interned state shared by every subject in
    # the same jurisdiction, age band and rulebook period whose grants satisfy the same tokens
    # (any of their grant sets then gives the same verdicts; one is kept to evaluate with).
    seg_states: dict[tuple[int, int, int], int] = {}
    interned: dict[tuple[str, int, dt.date, frozenset[Token]], int] = {}
    info: list[tuple[str, int, dt.date, frozenset[GrantFact], frozenset[Token]]] = []

    def state_id(st: _State, day: dt.date) -> int:
        skey = (st.person.account_id, bisect_right(bounds, day), bisect_right(st.changes, day))
        sid = seg_states.get(skey)
        if sid is None:
            age, rday, grants = rep_age[min(max(age_on(st.birth, day), 0), 130)], rep_day(day), st.grant_facts(day)
            sat = frozenset(t for t in tokens(st.jur, age, rday)
                            if t.kind == "consent" and satisfied(t, grants, frozenset()))
            full = (st.jur, age, rday, sat)
            sid = interned.get(full)
            if sid is None:
                sid = interned[full] = len(info)
                info.append((st.jur, age, rday, grants, sat))
            seg_states[skey] = sid
        return sid

    def requests(sid: int, day: dt.date, cats: Sequence[str], acts: Sequence[tuple[str, str]],
                 dest: str | None = None, certified: bool = False,
                 safeguards: frozenset[str] = frozenset()) -> tuple[str, ...]:
        jur, age, rday, grants, sat = info[sid]
        dc = destination_class(book, jur, dest, day, certified) if dest is not None else "none"
        if safeguards:
            sat = sat | {t for t in tokens(jur, age, rday) if t.kind == "safeguard" and t.name in safeguards}
        rules: set[str] = set()
        for use, recipient in acts:
            for cat in {rep_cat(c) for c in cats}:
                rules.update(denied((jur, age, rday, cat, use, recipient, dc), grants, safeguards, sat))
        return tuple(sorted(rules))

    # ordinary collections ------------------------------------------------------------
    for name, cm in cmap.items():
        rows = tables.get(name, ())
        nullable = [(i, c) for i, c in cm.cat_cols if metadata.tables[name].columns[i].nullable]
        fixed = [c for i, c in cm.cat_cols if not metadata.tables[name].columns[i].nullable]
        acts_where = [(k + len(nullable), wcol, eq) for k, (_, _, wcol, eq) in enumerate(cm.acts)]
        kinds: dict[int, tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = {}
        row_cache: dict[tuple[int, int], tuple[str, ...]] = {}
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
            rules = row_cache.get((sid, bits))
            if rules is None:
                cats, acts = kinds[bits]
                rules = row_cache[(sid, bits)] = requests(sid, day, cats, acts)
            if rules:
                tally.add(rules, subject, st.birth != st.person.declared_birth)

    # transfers -----------------------------------------------------------------------
    tcols = [c.name for c in metadata.tables["transfers"].columns]
    pcols = [c.name for c in metadata.tables["processors"].columns]
    procs = {p[0]: dict(zip(pcols, p, strict=True)) for p in tables.get("processors", ())}
    t_cache: dict[tuple[int, int, str], tuple[str, ...]] = {}
    ti = [tcols.index(n) for n in ("account_id", "processor_id", "collection", "at")]
    for row in tables.get("transfers", ()):
        subject, pid, coll, at = (row[i] for i in ti)
        day = at.date() if isinstance(at, dt.datetime) else at
        st = state(subject)
        sid = state_id(st, day)
        rules = t_cache.get((sid, pid, coll))
        if rules is None:
            p = procs[pid]
            safeguards = frozenset(s for s, col in (("scc", "scc_module"), ("tia", "tia_date"))
                                   if p[col] is not None)
            rules = t_cache[(sid, pid, coll)] = requests(
                sid, day, cmap[coll].all_categories, (("essential.service", p["kind"]),),
                dest=p["country"], certified=bool(p["dpf_certified"]), safeguards=safeguards)
        if rules:
            tally.add(rules, subject, st.birth != st.person.declared_birth)
    del decl
    return tally.result()


def person_grant(scopes: str, by: str, assurance: str, granted: dt.date, expires: dt.date | None,
                 revoked: dt.date | None) -> tuple[tuple[str, ...], str, int, dt.date, dt.date | None,
                                                    dt.date | None]:
    """A consent record as the truth reads it (`scopes` split on `|`)."""
    return (tuple(scopes.split("|")), by, ASSURANCE_ORDER[assurance], granted, expires, revoked)


# ---------------------------------------------------------------------------- storing
def home() -> Path:
    return Path(os.environ.get("TUTELA_HOME") or "~/.tutela").expanduser()


def path_for(url: str) -> Path:
    from tutela.estate.targets import normalize_url

    key = normalize_url(url)
    return home() / "truth" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def store(url: str, findings: list[dict[str, Any]], meta: dict[str, Any]) -> Path:
    from tutela.estate.targets import normalize_url

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


def compute_plain(book: Rulebook, tables: Mapping[str, Sequence[tuple[Any, ...]]],
                  people: Mapping[int, Person], as_of: dt.date) -> list[dict[str, Any]]:
    """The same findings without any cache or shortcut: one `verdict` per request.

    Slow; used by the tests to check `compute` on small estates."""
    cmap, _ = datamap()
    tally = _Tally()

    def grants(p: Person, day: dt.date) -> frozenset[GrantFact]:
        out: set[GrantFact] = set()
        for scopes, by, level, g, e, r in p.grants:
            if g <= day and (e is None or day < e) and (r is None or day < r):
                out.update(GrantFact(s, by, level, len(set(scopes)) == 1) for s in scopes)
        return frozenset(out)

    def rules_of(p: Person, day: dt.date, cats: Sequence[str], acts: Sequence[tuple[str, str]],
                 dest: str | None = None, certified: bool = False,
                 safeguards: frozenset[str] = frozenset()) -> set[str]:
        birth = p.effective_birth()
        out: set[str] = set()
        for use, recipient in acts:
            for cat in cats:
                f = Facts(p.jurisdiction, age_on(birth, day), day, cat, use, recipient,
                          destination_class(book, p.jurisdiction, dest, day, certified), grants(p, day), safeguards)
                v = verdict(book, f)
                if not v.allowed:
                    out.update(d.id for d in v.determining if d.kind != "digital_consent")
        return out

    for name, cm in cmap.items():
        for row in tables.get(name, ()):
            cats = sorted({c for i, c in cm.cat_cols if row[i] is not None})
            acts = [(u, r) for u, r, w, eq in cm.acts if w is None or row[w] == eq]
            t = row[cm.time] if cm.time is not None else as_of
            day = t.date() if isinstance(t, dt.datetime) else t
            p = people[row[cm.subject]]
            tally.add(tuple(rules_of(p, day, cats, acts)), p.account_id, p.effective_birth() != p.declared_birth)
    pcols = [c.name for c in metadata.tables["processors"].columns]
    procs = {p[0]: dict(zip(pcols, p, strict=True)) for p in tables.get("processors", ())}
    for _tid, sid, pid, coll, at in tables.get("transfers", ()):
        p, proc = people[sid], procs[pid]
        safeguards = frozenset(s for s, col in (("scc", "scc_module"), ("tia", "tia_date")) if proc[col] is not None)
        tally.add(tuple(rules_of(p, at.date(), cmap[coll].all_categories, (("essential.service", proc["kind"]),),
                                 proc["country"], bool(proc["dpf_certified"]), safeguards)),
                  sid, p.effective_birth() != p.declared_birth)
    return tally.result()
