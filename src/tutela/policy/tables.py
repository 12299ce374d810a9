"""Compiling the rulebook into integer-coded tables for the compiled evaluator.

Every request is reduced to a *cell*: (jurisdiction, age bucket, category class, use class,
recipient, destination class, local epoch). Category and use classes group the taxonomy keys
that no rule condition tells apart; age buckets and epochs split at every age and date the
rules name. Each cell maps to a *class*: the set of rules that apply there plus how the
consent holder resolves. Requirements become bit masks over a registry of atomic tokens.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tutela.policy.facts import Token, resolve
from tutela.rulebook import Rulebook, ScopedRule
from tutela.rulebook.models import Condition, DigitalConsent
from tutela.taxonomy import Taxonomy
from tutela.taxonomy.model import covers

RECIPIENTS = ("first_party", "processor", "third_party")
DESTS = ("none", "adequate", "non_adequate")
MAX_AGE = 130


@dataclass(frozen=True)
class Entry:
    """An applicable rule inside a class, with its requirement as a token mask."""

    rule: ScopedRule
    mask: int
    used_holder: bool


@dataclass(frozen=True)
class ClassInfo:
    forbids: tuple[Entry, ...]
    permits: tuple[Entry, ...]
    obligates: tuple[ScopedRule, ...]
    dc: DigitalConsent | None
    jurisdiction: str


def _classes(keys: tuple[str, ...], conds: list[str]) -> dict[str, int]:
    sigs: dict[tuple[bool, ...], int] = {}
    out: dict[str, int] = {}
    for key in keys:
        sig = tuple(covers(c, key) for c in conds)
        out[key] = sigs.setdefault(sig, len(sigs))
    return out


def _representatives(classes: dict[str, int]) -> list[str]:
    reps: dict[int, str] = {}
    for key, cls in classes.items():
        reps.setdefault(cls, key)
    return [reps[i] for i in range(len(reps))]


def _match_keys(inc: tuple[str, ...], exc: tuple[str, ...], key: str) -> bool:
    if inc and not any(covers(k, key) for k in inc):
        return False
    return not any(covers(k, key) for k in exc)


class Tables:
    """All integer tables; built once per rulebook."""

    def __init__(self, book: Rulebook, tax: Taxonomy):
        self.book = book
        rules = [s.rule for s in book.all_rules]
        self.jurisdictions = tuple(sorted(book.jurisdictions))
        self.jidx = {c: i for i, c in enumerate(self.jurisdictions)}
        cat_conds = sorted({k for r in rules for k in (*r.when.categories, *r.when.except_categories)})
        use_conds = sorted({k for r in rules for k in (*r.when.uses, *r.when.except_uses)})
        self.cat_class = _classes(tax.categories.keys, cat_conds)
        self.use_class = _classes(tax.uses.keys, use_conds)
        self.cat_rep = _representatives(self.cat_class)
        self.use_rep = _representatives(self.use_class)

        points = {0}
        for r in rules:
            if r.when.age is not None:
                points.update(p for p in (r.when.age.min, r.when.age.below) if p is not None)
        for _, d in book.consent_index.values():
            points.add(d.age)
        self.age_points = sorted(points)
        self.age_bucket = np.array(
            [bisect_right(self.age_points, a) - 1 for a in range(MAX_AGE + 1)], dtype=np.int64
        )

        self.bounds = book.boundaries
        self.bound_days = np.array([d.toordinal() for d in self.bounds], dtype=np.int64)
        self.local_bounds = {j: self._local_bounds(j) for j in self.jurisdictions}
        self.E = 1 + max(len(b) for b in self.local_bounds.values())
        n_epochs = len(self.bounds) + 1
        self.epoch_map = np.zeros((len(self.jurisdictions), n_epochs), dtype=np.int64)
        for j, code in enumerate(self.jurisdictions):
            lb = self.local_bounds[code]
            for e in range(n_epochs):
                self.epoch_map[j, e] = bisect_right(lb, self._epoch_day(e))

        self.B, self.C, self.U = len(self.age_points), len(self.cat_rep), len(self.use_rep)
        self.R, self.D = len(RECIPIENTS), len(DESTS)
        self.tokens: dict[Token, int] = {}
        self.classes: list[ClassInfo] = []
        self._class_keys: dict[tuple[str, int, int], int] = {}
        per_j = self.B * self.C * self.U * self.R * self.D * self.E
        self.cell_cls = np.concatenate([self._compile_j(code).ravel() for code in self.jurisdictions])
        assert self.cell_cls.size == per_j * len(self.jurisdictions)
        self._build_dest()

    # -- time ------------------------------------------------------------------------------
    def _epoch_day(self, e: int) -> dt.date:
        return self.bounds[e - 1] if e > 0 else dt.date.min

    def _local_bounds(self, code: str) -> list[dt.date]:
        days: set[dt.date] = set()
        for s in self.book.rules_for(code):
            days.add(s.rule.effective_from)
            if s.rule.effective_to:
                days.add(s.rule.effective_to)
        for d in self.book.jurisdiction(code).digital_consent:
            days.add(d.effective_from)
            if d.effective_to:
                days.add(d.effective_to)
        return sorted(days)

    def _local_day(self, code: str, le: int) -> dt.date:
        lb = self.local_bounds[code]
        return lb[le - 1] if 0 < le <= len(lb) else (dt.date.min if le == 0 else lb[-1])

    # -- matching grids --------------------------------------------------------------------
    def _dims(self, cond: Condition) -> list[npt.NDArray[np.bool_]]:
        band = cond.age
        ages = np.array([band is None or band.contains(a) for a in self.age_points])
        cats = np.array([_match_keys(cond.categories, cond.except_categories, k) for k in self.cat_rep])
        uses = np.array([_match_keys(cond.uses, cond.except_uses, k) for k in self.use_rep])
        recs = np.array([not cond.recipients or r in cond.recipients for r in RECIPIENTS])
        dest_ok = {"any": (1, 1, 1), "third_country": (0, 1, 1), "non_adequate": (0, 0, 1)}
        dests = np.array(dest_ok[cond.destination], dtype=bool)
        return [ages, cats, uses, recs, dests]

    def _compile_j(self, code: str) -> npt.NDArray[np.int32]:
        scoped = list(dict.fromkeys(self.book.rules_for(code)))  # duplicates do not matter
        if len(scoped) > 56:
            raise ValueError(f"{code}: more than 56 rules; widen the rule mask")
        shape = (self.B, self.C, self.U, self.R, self.D, self.E)
        grid = np.zeros(shape, dtype=np.uint64)
        epochs_in_force = [
            np.array([s.rule.in_force(self._local_day(code, le)) for le in range(self.E)])
            for s in scoped
        ]
        for k, s in enumerate(scoped):
            a, c, u, r, d = self._dims(s.rule.when)
            m = (a[:, None, None, None, None, None] & c[None, :, None, None, None, None]
                 & u[None, None, :, None, None, None] & r[None, None, None, :, None, None]
                 & d[None, None, None, None, :, None] & epochs_in_force[k][None, None, None, None, None, :])
            grid |= m.astype(np.uint64) << np.uint64(k)
        # the holder depends on (age bucket, epoch) only: encode it as a small code
        hold = np.zeros((self.B, self.E), dtype=np.uint64)
        for b in range(self.B):
            for le in range(self.E):
                hold[b, le] = self._holder_code(code, b, le)
        full_hold = np.broadcast_to(hold[:, None, None, None, None, :], shape)
        keys = (grid.ravel() << np.uint64(8)) | full_hold.ravel()
        uniq, inverse = np.unique(keys, return_inverse=True)
        ids = np.array([self._class_id(code, scoped, int(k) >> 8, int(k) & 255) for k in uniq],
                       dtype=np.int32)
        return ids[inverse.ravel()].reshape(shape)

    def _holder_code(self, code: str, b: int, le: int) -> int:
        """2 x (index of the digital-consent entry in force + 1) + (1 if below its age)."""
        day = self._local_day(code, le)
        for i, d in enumerate(self.book.jurisdiction(code).digital_consent):
            if d.effective_from <= day and (d.effective_to is None or day < d.effective_to):
                return 2 * (i + 1) + (1 if self.age_points[b] < d.age else 0)
        return 0

    def _class_id(self, code: str, scoped: list[ScopedRule], mask: int, hold: int) -> int:
        key = (code, mask, hold)
        if key in self._class_keys:
            return self._class_keys[key]
        return self._class_keys.setdefault(key, self._new_class(code, scoped, mask, hold))

    def bit(self, token: Token) -> int:
        if token not in self.tokens:
            if len(self.tokens) >= 63:
                raise ValueError("more than 63 distinct requirement tokens; widen the grant mask")
            self.tokens[token] = len(self.tokens)
        return 1 << self.tokens[token]

    def _new_class(self, code: str, scoped: list[ScopedRule], mask: int, hold: int) -> int:
        dc = self.book.jurisdiction(code).digital_consent[hold // 2 - 1] if hold >= 2 else None
        age = 0 if dc is None else (dc.age - 1 if hold & 1 else dc.age)
        forbids, permits, obligates = [], [], []
        for k, s in enumerate(scoped):
            if not mask >> k & 1:
                continue
            if s.rule.effect == "obligate":
                obligates.append(s)
                continue
            req = s.rule.requirement
            bits, used = 0, False
            if req is not None:
                tokens, used = resolve(req, age, dc)
                for t in tokens:
                    bits |= self.bit(t)
            (forbids if s.rule.effect == "forbid" else permits).append(Entry(s, bits, used))
        self.classes.append(ClassInfo(tuple(forbids), tuple(permits), tuple(obligates), dc, code))
        return len(self.classes) - 1

    # -- destinations ----------------------------------------------------------------------
    def _build_dest(self) -> None:
        """dest[regime, country, epoch, certified] -> index into DESTS; country 0 = any other."""
        regimes = [r for r in self.book.regimes.values() if r.transfers is not None]
        countries = sorted({c for r in regimes if r.transfers for c in (
            *r.transfers.area, *(a.country for a in r.transfers.adequacy))})
        self.country_idx = {c: i + 1 for i, c in enumerate(countries)}
        reg_idx = {r.code: i for i, r in enumerate(regimes)}
        self.jur_regime = np.array([
            reg_idx[t.code] if (t := self.book.transfer_regime(code)) else -1
            for code in self.jurisdictions
        ], dtype=np.int64)
        n_epochs = len(self.bounds) + 1
        dest = np.full((max(len(regimes), 1), len(countries) + 1, n_epochs, 2), 2, dtype=np.int64)
        for ri, reg in enumerate(regimes):
            assert reg.transfers is not None
            for c in reg.transfers.area:
                dest[ri, self.country_idx[c], :, :] = 0
            for a in reg.transfers.adequacy:
                ci = self.country_idx[a.country]
                for e in range(n_epochs):
                    for cert in (0, 1):
                        if a.adequate(self._epoch_day(e), bool(cert)):
                            dest[ri, ci, e, cert] = 1
        self.dest = dest
