"""The compiled evaluator: table lookups for one request, numpy columns for a batch.

A request becomes a cell index (see `tables.py`), the cell a class, the subject's grants and
the act's safeguards a bit mask `g`. The verdict of (class, g) is computed once with bit
operations and cached; a batch gathers effects from a (class x grant-set) table.
"""

from __future__ import annotations

import datetime as dt
from array import array
from bisect import bisect_right
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from tutela.policy import explain
from tutela.policy.facts import Facts, GrantFact, Token, satisfied
from tutela.policy.kernel import effects_kernel
from tutela.policy.model import Decision, Determining, Verdict
from tutela.policy.tables import DESTS, MAX_AGE, RECIPIENTS, ClassInfo, Tables
from tutela.rulebook import Rulebook
from tutela.taxonomy import Taxonomy

EFFECTS = ("deny", "allow", "allow_with_obligations")
_REC = {r: i for i, r in enumerate(RECIPIENTS)}
_DEST = {d: i for i, d in enumerate(DESTS)}
IntArray = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]


class CompiledPolicy:
    def __init__(self, book: Rulebook, tax: Taxonomy, tables: Tables | None = None):
        self.book = book
        self.t = t = tables or Tables(book, tax)
        self._cells = array("i", t.cell_cls.astype(np.int32).tobytes())
        self._bounds = list(t.bounds)
        self._age_bucket = t.age_bucket.tolist()
        self._epoch_map = t.epoch_map.tolist()
        self._strides = (t.B, t.C, t.U, t.R, t.D, t.E)
        self._tokens = list(t.tokens.items())
        self._gmask: dict[tuple[frozenset[GrantFact], frozenset[str]], int] = {}
        self._verdicts: dict[tuple[int, int], Verdict] = {}
        self._columns: dict[int, npt.NDArray[np.int8]] = {}
        self._vectors = _ClassVectors(t.classes)
        self._tables: dict[tuple[int, ...], npt.NDArray[np.int8]] = {}
        cell_type = np.int16 if len(t.classes) < 2**15 else np.int32
        self._k_cells = t.cell_cls.astype(cell_type)
        self._k_age = t.age_bucket.astype(np.int32)
        self._k_epoch_map = t.epoch_map.astype(np.int32)
        self._k_regime = t.jur_regime.astype(np.int32)
        self._k_dest = t.dest.astype(np.int8)
        self._k_strides = np.array(self._strides, dtype=np.int32)

    # -- one request -----------------------------------------------------------------------
    def cell(self, f: Facts) -> int:
        t, (B, C, U, R, D, E) = self.t, self._strides
        j = t.jidx[f.jurisdiction]
        b = self._age_bucket[min(f.age, MAX_AGE)]
        le = self._epoch_map[j][bisect_right(self._bounds, f.day)]
        c, u = t.cat_class[f.category], t.use_class[f.use]
        return (((((j * B + b) * C + c) * U + u) * R + _REC[f.recipient]) * D + _DEST[f.dest_class]) * E + le

    def grant_mask(self, grants: frozenset[GrantFact], safeguards: frozenset[str]) -> int:
        key = (grants, safeguards)
        g = self._gmask.get(key)
        if g is None:
            g = 0
            for token, i in self._tokens:
                if satisfied(token, grants, safeguards):
                    g |= 1 << i
            self._gmask[key] = g
        return g

    def verdict(self, f: Facts) -> Verdict:
        cls = self._cells[self.cell(f)]
        g = self.grant_mask(f.grants, f.safeguards)
        v = self._verdicts.get((cls, g))
        if v is None:
            v = self._verdicts[(cls, g)] = self._explain(self.t.classes[cls], g)
        return v

    def decide(self, f: Facts) -> Decision:
        return Decision.of(self.verdict(f), self.book.version, f.day, f.age, f.dest_class)

    # -- reasons for one (class, grant mask) ------------------------------------------------
    def _tokens_of(self, mask: int) -> list[Token]:
        return [tok for tok, i in self._tokens if mask >> i & 1]

    @staticmethod
    def _obligations(info: ClassInfo, met_permits: Iterable[int]) -> tuple[str, ...]:
        labels = {o.label() for i in met_permits for o in info.permits[i].rule.rule.obligations}
        labels |= {o.label() for s in info.obligates for o in s.rule.obligations}
        return tuple(sorted(labels))

    def _explain(self, info: ClassInfo, g: int) -> Verdict:
        blocking = [e for e in info.forbids if e.rule.rule.unless is None or e.mask & ~g]
        met = [i for i, e in enumerate(info.permits) if not e.mask & ~g]
        options = [frozenset(self._tokens_of(e.mask & ~g)) for e in info.permits]
        permit_missing = frozenset() if met else explain.cheapest(options)
        if blocking:
            used = blocking
            missing = set(permit_missing).union(*(self._tokens_of(e.mask & ~g) for e in blocking))
            possible = all(e.rule.rule.unless is not None for e in blocking) and bool(info.permits)
            v = ("deny", (), [e.rule for e in blocking], missing, possible)
        elif not met:
            used = list(info.permits)
            v = ("deny", (), [e.rule for e in used], set(permit_missing), bool(info.permits))
        else:
            used = [info.permits[i] for i in met]
            obligations = self._obligations(info, met)
            effect = "allow_with_obligations" if obligations else "allow"
            v = (effect, obligations, [*(e.rule for e in used), *info.obligates], set(), True)
        effect, obligations, rules, missing, possible = v
        reasons: list[Determining] = [explain.of_rule(s) for s in rules]
        if info.dc is not None and any(e.used_holder for e in used):
            reasons.append(explain.of_consent_age(info.jurisdiction, info.dc))
        return Verdict(effect, obligations, explain.ordered(reasons), explain.of_tokens(missing), possible)  # type: ignore[arg-type]

    # -- batches ---------------------------------------------------------------------------
    def effect_column(self, g: int) -> npt.NDArray[np.int8]:
        """Effect code (index into EFFECTS) of every class for grant mask `g`, cached."""
        col = self._columns.get(g)
        if col is None:
            col = self._columns[g] = self._vectors.effects(g)
        return col

    def effect_table(self, masks: tuple[int, ...]) -> npt.NDArray[np.int8]:
        """(class x grant set) effect codes, flattened row-major; the last few are cached."""
        tab = self._tables.get(masks)
        if tab is None:
            tab = np.ascontiguousarray(np.stack([self.effect_column(m) for m in masks], axis=1)).ravel()
            if len(self._tables) >= 8:
                self._tables.pop(next(iter(self._tables)))
            self._tables[masks] = tab
        return tab

    def run_kernel(self, j: I32, age: I32, day: I32, cat: I32, use: I32, rec: I32, country: I32,
                   cert: I32, gsets: I32, ep_lut: I32, masks: tuple[int, ...]) -> tuple[I8, I32]:
        """Effect code and class per row; `day` indexes `ep_lut` (day -> global epoch)."""
        n = len(j)
        out, classes = np.empty(n, dtype=np.int8), np.empty(n, dtype=np.int32)
        effects_kernel(j, age, day, cat, use, rec, country, cert, gsets, self._k_age, ep_lut,
                       self._k_epoch_map, self._k_regime, self._k_dest, self._k_cells,
                       self.effect_table(masks), len(masks), self._k_strides, MAX_AGE, out, classes)
        return out, classes

    def verdict_of_class(self, cls: int, mask: int) -> Verdict:
        v = self._verdicts.get((cls, mask))
        if v is None:
            v = self._verdicts[(cls, mask)] = self._explain(self.t.classes[cls], mask)
        return v


class _ClassVectors:
    """Per-class masks as arrays, to compute a whole effect column with a few numpy ops."""

    def __init__(self, classes: list[ClassInfo]):
        n = len(classes)
        k = max([len(c.permits) for c in classes] + [1])
        impossible = np.uint64(1 << 63)  # bit 63 is never granted
        self.hard = np.array([any(e.rule.rule.unless is None for e in c.forbids) for c in classes])
        need = [0] * n
        for i, c in enumerate(classes):
            for e in c.forbids:
                need[i] |= e.mask
        self.need = np.array(need, dtype=np.uint64)
        self.permits = np.full((n, k), impossible, dtype=np.uint64)
        self.permit_obl = np.zeros((n, k), dtype=bool)
        for i, c in enumerate(classes):
            for p, e in enumerate(c.permits):
                self.permits[i, p] = e.mask
                self.permit_obl[i, p] = bool(e.rule.rule.obligations)
        self.base_obl = np.array([any(s.rule.obligations for s in c.obligates) for c in classes])

    def effects(self, g: int) -> npt.NDArray[np.int8]:
        notg = ~np.uint64(g)
        blocked = self.hard | ((self.need & notg) != 0)
        met = (self.permits & notg) == 0
        any_met = met.any(axis=1)
        obl = self.base_obl | (met & self.permit_obl).any(axis=1)
        out = np.where(blocked | ~any_met, 0, np.where(obl, 2, 1))
        return out.astype(np.int8)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
