"""A sketch of a faster `decide_table` (same tables, same answers), to size the suggestions.

Not used by the engine: it exists to measure, in bench/, what the batch path could reach
without changing the compiled tables. Differences from `tutela.policy.batch.decide_table`:

1. grant dictionary values are parsed without looking up a row for the error message
   (`pc.index(pc.equal(indices, i))` per value is a full scan per distinct grant set);
2. the local epoch is one gather from a dense day->epoch table over the table's date range,
   computed once (instead of two `searchsorted` over every row);
3. codes are int32, the cell index is computed in place, `cell_cls` is gathered as int16;
4. the (class x grant-set) effect table is cached per tuple of masks.

    python bench/batch_sketch.py [--n N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decisions import Requests
from tutela.engine import Engine
from tutela.policy.batch import EPOCH_ORDINAL, RECIPIENTS, _CountryMap, parse_grants
from tutela.policy.compiled import CompiledPolicy
from tutela.policy.tables import MAX_AGE


class FastBatch:
    def __init__(self, policy: CompiledPolicy):
        self.p = policy
        t = policy.t
        self.cls16 = t.cell_cls.astype(np.int16 if len(t.classes) < 2**15 else np.int32)
        self.age_bucket = t.age_bucket.astype(np.int32)
        self.epoch_map = t.epoch_map.astype(np.int32)
        self.jur_regime = t.jur_regime.astype(np.int32)
        self.dest = t.dest.astype(np.int8)
        self.tables: dict[tuple[int, ...], np.ndarray] = {}

    def _codes(self, col: pa.Array, mapping, null_code: int = -1) -> np.ndarray:
        values = col.dictionary.to_pylist()
        lut = np.array([mapping[v] for v in values] + [null_code], dtype=np.int32)
        idx = col.indices
        if idx.null_count:
            idx = idx.fill_null(len(values))
        return lut[np.asarray(idx)]

    def decide(self, table: pa.Table) -> np.ndarray:
        p, t = self.p, self.p.t
        B, C, U, R, D, E = p._strides
        col = {name: table.column(name).combine_chunks() for name in table.column_names}
        j = self._codes(col["jurisdiction"], t.jidx)
        days = np.asarray(col["at"].cast(pa.int32()))
        lo, hi = int(days.min()), int(days.max())
        ep_lut = np.searchsorted(t.bound_days, np.arange(lo, hi + 1) + EPOCH_ORDINAL, side="right").astype(np.int32)
        epoch = ep_lut[days - lo]
        age = np.asarray(col["age"]).astype(np.int32)
        cat = self._codes(col["category"], t.cat_class)
        use = self._codes(col["use"], t.use_class)
        rec = self._codes(col["recipient"], {r: i for i, r in enumerate(RECIPIENTS)}, 0)
        country = self._codes(col["destination"], _CountryMap(t.country_idx))
        cert = np.asarray(col["recipient_certified"].fill_null(False), dtype=np.int32)
        reg = self.jur_regime[j]
        dest = self.dest[np.maximum(reg, 0), np.maximum(country, 0), epoch, cert]
        dest[(reg < 0) | (country < 0)] = 0
        le = self.epoch_map[j, epoch]
        # cell index, in place, int32
        cells = j * B
        cells += self.age_bucket[np.minimum(age, MAX_AGE)]
        cells *= C
        cells += cat
        cells *= U
        cells += use
        cells *= R
        cells += rec
        cells *= D
        cells += dest
        cells *= E
        cells += le
        # grant sets
        g = col["grants"]
        facts = [parse_grants(v or "", p.book.scopes, -1) for v in g.dictionary.to_pylist()] + [frozenset()]
        gidx = g.indices.fill_null(len(g.dictionary)) if g.indices.null_count else g.indices
        sg = np.asarray(col["scc"], dtype=np.int32) * 2 + np.asarray(col["tia"], dtype=np.int32)
        gsets = np.asarray(gidx).astype(np.int32) * 4 + sg
        sets = [frozenset(), frozenset({"tia"}), frozenset({"scc"}), frozenset({"scc", "tia"})]
        masks = tuple(p.grant_mask(f, s) for f in facts for s in sets)
        tab = self.tables.get(masks)
        if tab is None:
            tab = self.tables[masks] = np.ascontiguousarray(
                np.stack([p.effect_column(m) for m in masks], axis=1)).ravel()
        key = self.cls16[cells].astype(np.int32)
        key *= len(masks)
        key += gsets
        return tab[key]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    a = ap.parse_args()
    e = Engine()
    table = Requests(e, a.n).table()
    ref = e.decide_arrow(table).effect
    fb = FastBatch(e.compiled)
    out = fb.decide(table)
    same = bool(np.array_equal(out, ref))
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        fb.decide(table)
        runs.append(time.perf_counter() - t0)
    cur = []
    for _ in range(3):
        t0 = time.perf_counter()
        e.decide_arrow(table)
        cur.append(time.perf_counter() - t0)
    m, c = statistics.median(runs), statistics.median(cur)
    print(f"n={a.n:,} same_effects={same} current={a.n / c:,.0f}/s ({c * 1e3:.1f} ms) "
          f"sketch={a.n / m:,.0f}/s ({m * 1e3:.1f} ms)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
