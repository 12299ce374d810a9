"""Decisions/s of four evaluators on the same policy and the same generated requests.

    python bench/decisions.py [--n N] [--quick] [--format json]

1. cedarpy      the rulebook translated to Cedar (bench/cedar_policy.py), `is_authorized_batch`
2. reference    `tutela.policy.reference.verdict(book, facts)`, one call at a time
3. single       `engine.compiled.verdict(facts)`, one call at a time (with reasons)
4. batch        `engine.decide_arrow(table)` on a dictionary-encoded Arrow table

Batch and single run on N rows (default 1,000,000); cedarpy and reference on the first
`--sub` rows (default 100,000; 10,000 with --quick). Agreement: allow/deny of all four on
the rows each ran (Cedar has no obligations, so allow_with_obligations counts as allow);
reference vs single on full verdicts (effect, obligations, determining rules); batch effect
codes vs single on all N rows. Exit code 1 if anything disagrees.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cedarpy

from cedar_policy import request as cedar_request
from cedar_policy import translate
from tutela.engine import Engine
from tutela.policy.batch import SET_SEP, grant_token
from tutela.policy.compiled import EFFECTS
from tutela.policy.facts import Facts, GrantFact, destination_class
from tutela.policy.reference import verdict as reference_verdict
from tutela.policy.tables import RECIPIENTS
from tutela.rulebook.models import ASSURANCE_ORDER

SEED = 20261201
EPOCH = dt.date(1970, 1, 1)
LEVEL_NAMES = {v: k for k, v in ASSURANCE_ORDER.items()}
DESTS = [None, "DE", "FR", "IE", "AT", "NO", "GB", "JP", "US", "KR", "CH", "BR", "CA", "IN", "CN", "RU", "GI"]
SAFEGUARD_SETS = [frozenset(), frozenset({"tia"}), frozenset({"scc"}), frozenset({"scc", "tia"})]


# -- request generation ----------------------------------------------------------------------
def _key_weights(keys: tuple[str, ...], mentioned: set[str]) -> np.ndarray:
    """Weight taxonomy keys that a rule names (or that sit under one) 5x."""
    w = np.ones(len(keys))
    for i, k in enumerate(keys):
        if any(k == m or k.startswith(m + ".") for m in mentioned):
            w[i] = 5.0
    return w / w.sum()


def _grant_pool(rng: np.random.Generator, scopes: list[str], size: int = 200) -> list[frozenset[GrantFact]]:
    pool: dict[frozenset[GrantFact], None] = {frozenset(): None}
    while len(pool) < size:
        k = int(rng.integers(1, 5))
        gs = frozenset(
            GrantFact(scopes[int(rng.integers(len(scopes)))], ("self", "parent")[int(rng.integers(2))],
                      int(rng.integers(3)), bool(rng.random() < 0.3))
            for _ in range(k)
        )
        pool[gs] = None
    return list(pool)


def _grant_text(gs: frozenset[GrantFact]) -> str:
    return SET_SEP.join(sorted(grant_token(g.scope, g.by, LEVEL_NAMES[g.level], g.separate) for g in gs))


class Requests:
    """N requests as integer columns over small vocabularies (the source of every input)."""

    def __init__(self, engine: Engine, n: int, seed: int = SEED):
        book, tax = engine.rulebook, engine.taxonomy
        rng = np.random.default_rng(seed)
        self.n = n
        self.jurs = list(book.jurisdictions)
        self.cats, self.uses = tax.categories.keys, tax.uses.keys
        mc = {k for s in book.all_rules for k in (*s.rule.when.categories, *s.rule.when.except_categories)}
        mu = {k for s in book.all_rules for k in (*s.rule.when.uses, *s.rule.when.except_uses)}
        lo, hi = (dt.date(2018, 1, 1) - EPOCH).days, (dt.date(2027, 12, 31) - EPOCH).days
        self.j = rng.integers(len(self.jurs), size=n)
        self.age = rng.integers(0, 41, size=n)
        day = rng.integers(lo, hi + 1, size=n)
        edges = np.array([(b - EPOCH).days + d for b in book.boundaries for d in (-1, 0, 1)])
        edges = edges[(edges >= lo) & (edges <= hi)]
        at_edge = rng.random(n) < 0.1  # 10% of acts on or next to a date the rulebook names
        day[at_edge] = rng.choice(edges, size=int(at_edge.sum()))
        self.day = day
        self.cat = rng.choice(len(self.cats), size=n, p=_key_weights(self.cats, mc))
        self.use = rng.choice(len(self.uses), size=n, p=_key_weights(self.uses, mu))
        self.rec = rng.integers(len(RECIPIENTS), size=n)
        dest_p = np.full(len(DESTS), 0.6 / (len(DESTS) - 1))
        dest_p[0] = 0.4
        self.dest = rng.choice(len(DESTS), size=n, p=dest_p)
        self.cert = rng.random(n) < 0.5
        self.pool = _grant_pool(rng, list(book.scopes))
        self.g = rng.integers(len(self.pool), size=n)
        self.scc = rng.random(n) < 0.3
        self.tia = rng.random(n) < 0.3
        self._dates = {int(d): EPOCH + dt.timedelta(days=int(d)) for d in np.unique(day)}
        self.book = book

    def facts(self, rows: int) -> list[Facts]:
        book, jurs, cats, uses, pool, dates = self.book, self.jurs, self.cats, self.uses, self.pool, self._dates
        out = []
        cache: dict[tuple[int, int, int, bool], str] = {}
        cols = zip(self.j[:rows].tolist(), self.age[:rows].tolist(), self.day[:rows].tolist(),
                   self.cat[:rows].tolist(), self.use[:rows].tolist(), self.rec[:rows].tolist(),
                   self.dest[:rows].tolist(), self.cert[:rows].tolist(), self.g[:rows].tolist(),
                   (self.scc[:rows] * 2 + self.tia[:rows]).tolist(), strict=True)
        for j, age, day, c, u, r, d, cert, g, sg in cols:
            key = (j, d, day, cert)
            dc = cache.get(key)
            if dc is None:
                dc = cache[key] = destination_class(book, jurs[j], DESTS[d], dates[day], cert)
            out.append(Facts(jurs[j], age, dates[day], cats[c], uses[u], RECIPIENTS[r], dc,
                             pool[g], SAFEGUARD_SETS[sg]))
        return out

    def table(self, rows: int | None = None) -> pa.Table:
        n = self.n if rows is None else rows

        def dict_col(idx: np.ndarray, vocab: list[str], mask: np.ndarray | None = None) -> pa.DictionaryArray:
            return pa.DictionaryArray.from_arrays(pa.array(idx[:n].astype(np.int32), mask=mask), pa.array(vocab))

        dest_idx = np.maximum(self.dest - 1, 0)
        return pa.table({
            "jurisdiction": dict_col(self.j, self.jurs),
            "age": pa.array(self.age[:n].astype(np.int64)),
            "category": dict_col(self.cat, list(self.cats)),
            "use": dict_col(self.use, list(self.uses)),
            "at": pa.array(self.day[:n].astype(np.int32), type=pa.date32()),
            "recipient": dict_col(self.rec, list(RECIPIENTS)),
            "destination": dict_col(dest_idx, list(DESTS[1:]), mask=(self.dest[:n] == 0)),
            "recipient_certified": pa.array(self.cert[:n]),
            "scc": pa.array(self.scc[:n]),
            "tia": pa.array(self.tia[:n]),
            "grants": dict_col(self.g, [_grant_text(gs) for gs in self.pool]),
        })


# -- the runs --------------------------------------------------------------------------------
def _describe(f: Facts) -> dict[str, object]:
    return {"jurisdiction": f.jurisdiction, "age": f.age, "day": f.day.isoformat(), "category": f.category,
            "use": f.use, "recipient": f.recipient, "dest_class": f.dest_class,
            "grants": _grant_text(f.grants), "safeguards": sorted(f.safeguards)}


def run(n: int, sub: int, quick: bool, log) -> dict[str, object]:
    sub = min(sub, n)
    engine = Engine()
    book = engine.rulebook
    t0 = time.perf_counter()
    policy = engine.compiled
    compile_s = time.perf_counter() - t0
    log(f"compiled policy in {compile_s:.2f}s; generating {n:,} requests")
    reqs = Requests(engine, n)
    facts = reqs.facts(n)
    table = reqs.table()
    log("inputs built")

    # 1. cedarpy on the subsample
    cedar_text = translate(book)
    pset = cedarpy.PolicySet.from_str(cedar_text)
    entities = cedarpy.Entities.from_json_str("[]")
    creqs = [cedar_request(f) for f in facts[:sub]]
    cedarpy.is_authorized_batch(creqs[:100], pset, entities)  # warm-up
    chunk = 10_000
    cedar_allow = np.empty(sub, dtype=bool)
    t0 = time.perf_counter()
    for i in range(0, sub, chunk):
        res = cedarpy.is_authorized_batch(creqs[i:i + chunk], pset, entities)
        cedar_allow[i:i + len(res)] = [r.allowed for r in res]
    cedar_s = time.perf_counter() - t0
    del creqs
    log(f"cedarpy: {sub / cedar_s:,.0f}/s")

    # 2. reference on the subsample
    t0 = time.perf_counter()
    ref = [reference_verdict(book, f) for f in facts[:sub]]
    ref_s = time.perf_counter() - t0
    log(f"reference: {sub / ref_s:,.0f}/s")

    # 3. compiled, one call at a time, all N (cold caches included)
    pv = policy.verdict
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    single = [pv(f) for f in facts]
    single_s = time.perf_counter() - t0
    # median per call (caches warm by now), timed call by call
    k = min(10_000, n)
    per = []
    clock = time.perf_counter_ns
    for f in facts[:k]:
        a = clock()
        pv(f)
        per.append(clock() - a)
    gc.enable()
    clock_cost = statistics.median([-(clock() - clock()) for _ in range(10_000)])
    single_median_us = (statistics.median(per) - clock_cost) / 1000
    log(f"single: {n / single_s:,.0f}/s, median {single_median_us:.3f} µs")

    # 4. batch: warm up on a small table, then time decide_arrow on the full table
    engine.decide_arrow(reqs.table(1000))
    runs = []
    result = None
    for _ in range(3 if quick else 5):
        gc.collect()
        t0 = time.perf_counter()
        result = engine.decide_arrow(table)
        runs.append(time.perf_counter() - t0)
    assert result is not None
    batch_s = statistics.median(runs)
    log(f"batch: {n / batch_s:,.0f}/s (first run {n / runs[0]:,.0f}/s)")

    # agreement
    code = {e: i for i, e in enumerate(EFFECTS)}
    single_code = np.array([code[v.effect] for v in single], dtype=np.int8)
    ref_allow = np.array([v.effect != "deny" for v in ref])
    single_allow = single_code[:sub] != 0
    batch_allow = result.effect[:sub] != 0
    full_bad = [i for i in range(sub) if (ref[i].effect, ref[i].obligations, ref[i].determining)
                != (single[i].effect, single[i].obligations, single[i].determining)]
    extra_bad = [i for i in range(sub) if (ref[i].missing, ref[i].lawful_possible)
                 != (single[i].missing, single[i].lawful_possible)]
    checks = {
        "cedar_vs_reference": np.flatnonzero(cedar_allow != ref_allow),
        "cedar_vs_single": np.flatnonzero(cedar_allow != single_allow),
        "cedar_vs_batch": np.flatnonzero(cedar_allow != batch_allow),
        "reference_vs_single_allow": np.flatnonzero(ref_allow != single_allow),
        "reference_vs_single_full": np.array(full_bad, dtype=np.int64),
        "batch_vs_single_effect": np.flatnonzero(result.effect != single_code),
    }
    mismatches = {name: len(rows) for name, rows in checks.items()}
    examples = {}
    for name, rows in checks.items():
        if len(rows):
            i = int(rows[0])
            examples[name] = {
                "row": i, "facts": _describe(facts[i]),
                "reference": ref[i].effect if i < sub else None,
                "reference_rules": [d.id for d in ref[i].determining] if i < sub else None,
                "single": single[i].effect, "single_rules": [d.id for d in single[i].determining],
                "batch": EFFECTS[int(result.effect[i])],
                "cedar": ("allow" if cedar_allow[i] else "deny") if i < sub else None,
            }
    agree = not any(mismatches.values())
    effects_mix = {e: int((single_code == i).sum()) for i, e in enumerate(EFFECTS)}

    cedar_ps, ref_ps, single_ps, batch_ps = sub / cedar_s, sub / ref_s, n / single_s, n / batch_s
    return {
        "n": n,
        "sizes": {"cedarpy": sub, "reference": sub, "single": n, "batch": n},
        "cedarpy_per_s": cedar_ps,
        "reference_per_s": ref_ps,
        "single_per_s": single_ps,
        "batch_per_s": batch_ps,
        "batch_first_run_per_s": n / runs[0],
        "batch_runs_s": runs,
        "ratio": batch_ps / cedar_ps,
        "ratio_single_vs_cedarpy": single_ps / cedar_ps,
        "ratio_batch_vs_reference": batch_ps / ref_ps,
        "single_median_us": single_median_us,
        "single_median_calls": k,
        "agree": agree,
        "mismatches": mismatches,
        "examples": examples,
        "info_missing_or_lawful_possible_differ": len(extra_bad),
        "effects": effects_mix,
        "cedar_policies": cedar_text.count("@id("),
        "classes": len(policy.t.classes),
        "compile_s": compile_s,
        "targets": {
            "batch_ge_50M_per_s": batch_ps >= 50e6,
            "ratio_ge_1500": batch_ps / cedar_ps >= 1500,
            "single_median_le_2us": single_median_us <= 2.0,
        },
    }


def _print_table(r: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    c = Console()
    sizes = r["sizes"]
    t = Table(title=f"Decisions/s (N = {r['n']:,})")
    for col in ("evaluator", "rows", "decisions/s", "vs cedarpy"):
        t.add_column(col, justify="right" if col != "evaluator" else "left")
    cps = r["cedarpy_per_s"]
    for name, key, sk in (("cedarpy (is_authorized_batch)", "cedarpy_per_s", "cedarpy"),
                          ("reference (verdict)", "reference_per_s", "reference"),
                          ("compiled single (verdict)", "single_per_s", "single"),
                          ("compiled batch (decide_arrow)", "batch_per_s", "batch")):
        t.add_row(name, f"{sizes[sk]:,}", f"{r[key]:,.0f}", f"{r[key] / cps:,.1f}x")
    c.print(t)
    c.print(f"batch first run: {r['batch_first_run_per_s']:,.0f}/s; runs (s): "
            + ", ".join(f"{x:.4f}" for x in r["batch_runs_s"]))
    c.print(f"single median: {r['single_median_us']:.3f} µs/decision (over {r['single_median_calls']:,} calls)")
    c.print(f"effects (single, all rows): {r['effects']}")
    c.print(f"cedar policies: {r['cedar_policies']}, compiled classes: {r['classes']}")
    c.print(f"targets: {r['targets']}")
    c.print(f"mismatches: {r['mismatches']}")
    c.print(f"(info) missing/lawful_possible differ on {r['info_missing_or_lawful_possible_differ']} rows")
    for name, ex in r["examples"].items():
        c.print(f"[red]{name}[/red]: {ex}")
    c.print("[green]agree[/green]" if r["agree"] else "[red]DISAGREE[/red]")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=None,
                    help="rows for batch and single (default 1,000,000; 200,000 with --quick)")
    ap.add_argument("--sub", type=int, default=None,
                    help="rows for cedarpy and reference (default 100,000; 10,000 with --quick)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--format", choices=("table", "json"), default="table")
    a = ap.parse_args(argv)
    n = a.n or (200_000 if a.quick else 1_000_000)
    sub = a.sub or (10_000 if a.quick else 100_000)
    as_json = a.format == "json"
    log = (lambda m: print(m, file=sys.stderr)) if not as_json else (lambda m: None)
    r = run(n, sub, a.quick, log)
    if as_json:
        print(json.dumps(r, default=float))
    else:
        _print_table(r)
    return 0 if r["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
