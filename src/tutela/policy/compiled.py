"""The compiled evaluator: table lookups for one request, one numba pass for a batch.

A request becomes integer codes; the rules that apply are the AND of five small bit masks
(see `tables.py`); the subject's grants and the act's safeguards become a token mask `g`.
The effect is bit arithmetic on (applicable rules, rules whose requirement `g` meets):
a forbid that applies and is not met denies; otherwise an applicable, met permit allows.
Reasons come from the class (jurisdiction, applicable rules, holder mode), cached per `g`.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tutela.policy import explain
from tutela.policy.facts import Facts, GrantFact, Token, satisfied
from tutela.policy.model import Decision, Determining, EffectOut, Verdict
from tutela.policy.tables import DESTS, MAX_AGE, RECIPIENTS, ClassInfo, Tables
from tutela.rulebook import Rulebook, ScopedRule
from tutela.taxonomy import Taxonomy

EFFECTS: tuple[EffectOut, ...] = ("deny", "allow", "allow_with_obligations")
_REC = {r: i for i, r in enumerate(RECIPIENTS)}
_DEST = {d: i for i, d in enumerate(DESTS)}
I32 = npt.NDArray[np.int32]
I8 = npt.NDArray[np.int8]
U64 = npt.NDArray[np.uint64]


class CompiledPolicy:
    def __init__(self, book: Rulebook, tax: Taxonomy, tables: Tables | None = None):
        self.book = book
        self.t = t = tables or Tables(book, tax)
        self._bounds = list(t.bounds)
        self._age_bucket = t.age_bucket.tolist()
        self._epoch_map = t.epoch_map.tolist()
        self._subj = t.subj.tolist()
        self._hold = t.hold.tolist()
        self._catm, self._usem = t.catm.tolist(), t.usem.tolist()
        self._recm, self._dstm = t.recm.tolist(), t.dstm.tolist()
        self._tokens = list(t.tokens.items())
        self._gmask: dict[tuple[frozenset[GrantFact], frozenset[str]], int] = {}
        self._verdicts: dict[tuple[int, int], Verdict] = {}
        self._fast: dict[tuple[int, int, int, int], Verdict] = {}
        self._epochs: dict[dt.date, int] = {}
        self._satisfied: dict[tuple[int, ...], U64] = {}

    # -- one request -----------------------------------------------------------------------
    def _codes(self, f: Facts) -> tuple[int, int, int]:
        """(jurisdiction, applicable-rule mask, holder mode) of one request."""
        t = self.t
        j = t.jidx[f.jurisdiction]
        e = self._epochs.get(f.day)
        if e is None:
            e = self._epochs[f.day] = bisect_right(self._bounds, f.day)
        b = self._age_bucket[f.age if f.age < MAX_AGE else MAX_AGE]
        le = self._epoch_map[j][e]
        mask = (self._subj[j][b][le] & self._catm[j][t.cat_class[f.category]]
                & self._usem[j][t.use_class[f.use]] & self._recm[j][_REC[f.recipient]]
                & self._dstm[j][_DEST[f.dest_class]])
        return j, mask, self._hold[j][b][le]

    def class_of(self, f: Facts) -> int:
        return self.t.class_id(*self._codes(f))

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
        j, mask, hold = self._codes(f)
        g = self._gmask.get((f.grants, f.safeguards))
        if g is None:
            g = self.grant_mask(f.grants, f.safeguards)
        key = (j, mask, hold, g)
        v = self._fast.get(key)
        if v is None:
            v = self._fast[key] = self.verdict_of_class(self.t.class_id(j, mask, hold), g)
        return v

    def decide(self, f: Facts) -> Decision:
        return Decision.of(self.verdict(f), self.book.version, f.day, f.age, f.dest_class)

    def verdict_of_class(self, cls: int, g: int) -> Verdict:
        v = self._verdicts.get((cls, g))
        if v is None:
            v = self._verdicts[(cls, g)] = self._explain(self.t.classes[cls], g)
        return v

    # -- reasons for one (class, grant mask) ------------------------------------------------
    def _tokens_of(self, mask: int) -> list[Token]:
        return [tok for tok, i in self._tokens if mask >> i & 1]

    @staticmethod
    def _obligations(info: ClassInfo, met: Iterable[int]) -> tuple[str, ...]:
        labels = {o.label() for i in met for o in info.permits[i].rule.rule.obligations}
        labels |= {o.label() for s in info.obligates for o in s.rule.obligations}
        return tuple(sorted(labels))

    def _explain(self, info: ClassInfo, g: int) -> Verdict:
        blocking = [e for e in info.forbids if e.rule.rule.unless is None or e.mask & ~g]
        met = [i for i, e in enumerate(info.permits) if not e.mask & ~g]
        options = [frozenset(self._tokens_of(e.mask & ~g)) for e in info.permits]
        permit_missing = frozenset() if met else explain.cheapest(options)
        effect: EffectOut = "deny"
        obligations: tuple[str, ...] = ()
        missing: set[Token] = set(permit_missing)
        if blocking:
            used = blocking
            rules: list[ScopedRule] = [e.rule for e in blocking]
            missing = missing.union(*(self._tokens_of(e.mask & ~g) for e in blocking))
            possible = all(e.rule.rule.unless is not None for e in blocking) and bool(info.permits)
        elif not met:
            used = list(info.permits)
            rules, possible = [e.rule for e in used], bool(info.permits)
        else:
            used = [info.permits[i] for i in met]
            obligations = self._obligations(info, met)
            effect = "allow_with_obligations" if obligations else "allow"
            rules, missing, possible = [*(e.rule for e in used), *info.obligates], set(), True
        reasons: list[Determining] = [explain.of_rule(s) for s in rules]
        if info.dc is not None and any(e.used_holder for e in used):
            reasons.append(explain.of_consent_age(info.jurisdiction, info.dc))
        return Verdict(effect, obligations, explain.ordered(reasons), explain.of_tokens(missing), possible)

    # -- batches ---------------------------------------------------------------------------
    def satisfied_table(self, masks: tuple[int, ...]) -> npt.NDArray[Any]:
        """(jurisdiction, holder mode, grant set) -> met rules, flattened; the last few cached."""
        tab = self._satisfied.get(masks)
        if tab is None:
            tab = np.ascontiguousarray(self.t.satisfied_rules(masks)).ravel()
            if len(self._satisfied) >= 8:
                self._satisfied.pop(next(iter(self._satisfied)))
            self._satisfied[masks] = tab
        return tab

    def run_kernel(self, cols: KernelInput, masks: tuple[int, ...], detail: bool) -> KernelOutput:
        """Effect code per row; with `detail` also jurisdiction, rule mask, holder mode, grant set."""
        t, nw = self.t, self.t.narrow
        n = len(cols.jraw)
        k = n if detail else 0
        out = KernelOutput(np.empty(n, np.int8), np.empty(k, np.int32), np.empty(k, t.mask_dtype),
                           np.empty(k, np.int32), np.empty(k, np.int32))
        from tutela.policy.kernel import effects_kernel  # numba: loaded with the first batch

        effects_kernel(
            cols.jraw, cols.j_lut, cols.age, cols.day, cols.day0, cols.ep_lut,
            cols.craw, cols.c_lut, cols.uraw, cols.u_lut, cols.rraw, cols.r_lut,
            cols.draw, cols.d_lut, cols.cert, cols.graw, cols.g_lut, cols.scc, cols.tia, cols.bits_off,
            t.age_bucket, t.epoch_map, t.jur_regime, t.dest,
            nw["subj"], t.hold, nw["catm"], nw["usem"], nw["recm"], nw["dstm"],
            nw["forbid"], nw["permit"], nw["obligate"], nw["permit_obl"],
            self.satisfied_table(masks), t.n_holds, len(masks), MAX_AGE, detail,
            out.effect, out.jurisdiction, out.rules, out.hold, out.gset,
        )
        return out


@dataclass
class KernelInput:
    """Raw Arrow dictionary indices per row, lookup tables from index to code, and the
    Arrow bitmaps (uint8, LSB first) of the boolean columns."""

    jraw: npt.NDArray[Any]
    j_lut: I32
    age: npt.NDArray[Any]
    day: npt.NDArray[Any]
    day0: int
    ep_lut: I32
    craw: npt.NDArray[Any]
    c_lut: I32
    uraw: npt.NDArray[Any]
    u_lut: I32
    rraw: npt.NDArray[Any]
    r_lut: I32
    draw: npt.NDArray[Any]
    d_lut: I32
    cert: npt.NDArray[Any]
    graw: npt.NDArray[Any]
    g_lut: I32
    scc: npt.NDArray[Any]
    tia: npt.NDArray[Any]
    bits_off: npt.NDArray[np.int64]  # bit offsets into the cert, scc and tia bitmaps


@dataclass
class KernelOutput:
    effect: I8
    jurisdiction: I32
    rules: npt.NDArray[Any]
    hold: I32
    gset: I32


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
