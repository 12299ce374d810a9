"""Compiling the rulebook into integer-coded tables for the compiled evaluator.

A request is reduced to small integer codes: jurisdiction, age bucket, category class, use
class, recipient, destination class and local epoch. Category and use classes group the
taxonomy keys that no rule condition tells apart; age buckets and epochs split at every age
and date the rules name. For each jurisdiction its rules are numbered (bit k = rule k), and
each code has a bit mask of the rules whose condition it satisfies on that dimension: the
rules that apply are the AND of five masks. Requirements resolve, per holder mode, into masks
over a registry of atomic tokens; a grant set is a token mask.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tutela.errors import RulebookError
from tutela.policy.facts import Token, resolve
from tutela.rulebook import Rulebook, ScopedRule
from tutela.rulebook.models import Condition, DigitalConsent
from tutela.taxonomy import Taxonomy
from tutela.taxonomy.model import covers

RECIPIENTS = ("first_party", "processor", "third_party")
DESTS = ("none", "adequate", "non_adequate")
MAX_AGE = 130
MAX_RULES = 63
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Entry:
    """An applicable rule inside a class, with its requirement as a token mask."""

    rule: ScopedRule
    mask: int
    used_holder: bool


@dataclass(frozen=True)
class ClassInfo:
    """The rules that apply to a request and how its consent holder resolves."""

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


def _bits(flags: list[bool]) -> int:
    return sum(1 << k for k, f in enumerate(flags) if f)


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
            [bisect_right(self.age_points, a) - 1 for a in range(MAX_AGE + 1)], dtype=np.int32
        )

        self.bounds = book.boundaries
        self.bound_days = np.array([d.toordinal() for d in self.bounds], dtype=np.int64)
        self.local_bounds = {j: self._local_bounds(j) for j in self.jurisdictions}
        self.E = 1 + max(len(b) for b in self.local_bounds.values())
        n_epochs = len(self.bounds) + 1
        self.epoch_map = np.zeros((len(self.jurisdictions), n_epochs), dtype=np.int32)
        for j, code in enumerate(self.jurisdictions):
            lb = self.local_bounds[code]
            for e in range(n_epochs):
                self.epoch_map[j, e] = bisect_right(lb, self._epoch_day(e))

        self.B, self.C, self.U = len(self.age_points), len(self.cat_rep), len(self.use_rep)
        self.R, self.D = len(RECIPIENTS), len(DESTS)
        self.tokens: dict[Token, int] = {}
        self.classes: list[ClassInfo] = []
        self.class_ids: dict[tuple[int, int, int], int] = {}
        self.scoped = [tuple(dict.fromkeys(book.rules_for(c))) for c in self.jurisdictions]
        self._compile_masks()
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

    # -- rule masks ------------------------------------------------------------------------
    def _compile_masks(self) -> None:
        J, B, E = len(self.jurisdictions), self.B, self.E
        self.subj = np.zeros((J, B, E), dtype=np.uint64)
        self.hold = np.zeros((J, B, E), dtype=np.int32)
        self.catm = np.zeros((J, self.C), dtype=np.uint64)
        self.usem = np.zeros((J, self.U), dtype=np.uint64)
        self.recm = np.zeros((J, self.R), dtype=np.uint64)
        self.dstm = np.zeros((J, self.D), dtype=np.uint64)
        kinds = {"forbid": np.zeros(J, np.uint64), "permit": np.zeros(J, np.uint64),
                 "obligate": np.zeros(J, np.uint64)}
        self.hard = np.zeros(J, dtype=np.uint64)
        self.permit_obl = np.zeros(J, dtype=np.uint64)
        self.n_holds = 2 * (1 + max(len(self.book.jurisdiction(c).digital_consent) for c in self.jurisdictions))
        # requirement token mask per (jurisdiction, holder mode, rule); -1 = no requirement
        self.req: list[list[list[int]]] = []
        for j, code in enumerate(self.jurisdictions):
            scoped = self.scoped[j]
            if len(scoped) > MAX_RULES:
                raise RulebookError(f"{len(scoped)} rules apply in one jurisdiction; the compiled engine "
                                    f"takes at most {MAX_RULES}", where=f"jurisdictions/{code}.yaml",
                                    hint="split the rules over fewer inherited regimes or merge rules")
            conds = [s.rule.when for s in scoped]
            for b, age in enumerate(self.age_points):
                for le in range(E):
                    day = self._local_day(code, le)
                    self.subj[j, b, le] = _bits([
                        (c.age is None or c.age.contains(age)) and s.rule.in_force(day)
                        for c, s in zip(conds, scoped, strict=True)])
                    self.hold[j, b, le] = self._holder_code(code, age, day)
            for c_i, key in enumerate(self.cat_rep):
                self.catm[j, c_i] = _bits([_match_keys(c.categories, c.except_categories, key) for c in conds])
            for u_i, key in enumerate(self.use_rep):
                self.usem[j, u_i] = _bits([_match_keys(c.uses, c.except_uses, key) for c in conds])
            for r_i, rec in enumerate(RECIPIENTS):
                self.recm[j, r_i] = _bits([not c.recipients or rec in c.recipients for c in conds])
            for d_i in range(self.D):
                self.dstm[j, d_i] = _bits([_dest_ok(c, d_i) for c in conds])
            for kind, arr in kinds.items():
                arr[j] = _bits([s.rule.effect == kind for s in scoped])
            self.hard[j] = _bits([s.rule.effect == "forbid" and s.rule.unless is None for s in scoped])
            self.permit_obl[j] = _bits([s.rule.effect == "permit" and bool(s.rule.obligations) for s in scoped])
            self.req.append([[self._req_mask(code, s, h)[0] for s in scoped] for h in range(self.n_holds)])
        self.forbid, self.permit, self.obligate = kinds["forbid"], kinds["permit"], kinds["obligate"]
        self._requirement_arrays()
        # the batch kernel reads masks in the narrowest type that holds every jurisdiction's rules
        widest = max(len(s) for s in self.scoped)
        self.mask_dtype = np.uint16 if widest <= 16 else np.uint32 if widest <= 32 else np.uint64
        self.narrow = {name: getattr(self, name).astype(self.mask_dtype) for name in (
            "subj", "catm", "usem", "recm", "dstm", "forbid", "permit", "obligate", "permit_obl")}

    def _holder_code(self, code: str, age: int, day: dt.date) -> int:
        """2 x (index of the digital-consent entry in force + 1) + (1 if below its age); 0 = none."""
        for i, d in enumerate(self.book.jurisdiction(code).digital_consent):
            if d.effective_from <= day and (d.effective_to is None or day < d.effective_to):
                return 2 * (i + 1) + (1 if age < d.age else 0)
        return 0

    def _dc(self, code: str, hold: int) -> DigitalConsent | None:
        entries = self.book.jurisdiction(code).digital_consent
        return entries[hold // 2 - 1] if 2 <= hold < 2 * (len(entries) + 1) else None

    def _req_mask(self, code: str, s: ScopedRule, hold: int) -> tuple[int, bool]:
        req = s.rule.requirement
        if req is None or s.rule.effect == "obligate":
            return -1, False
        dc = self._dc(code, hold)
        age = 0 if dc is None else (dc.age - 1 if hold & 1 else dc.age)
        tokens, used = resolve(req, age, dc)
        bits = 0
        for t in tokens:
            bits |= self.bit(t)
        return bits, used

    def bit(self, token: Token) -> int:
        if token not in self.tokens:
            if len(self.tokens) >= 63:
                raise RulebookError("the rules ask more than 63 distinct consents and safeguards; the compiled "
                                    "engine takes at most 63", where="rulebook",
                                    hint="use fewer distinct (scope, by, assurance, separate) requirements")
            self.tokens[token] = len(self.tokens)
        return 1 << self.tokens[token]

    def _requirement_arrays(self) -> None:
        """Requirement masks as (jurisdiction, holder mode, rule) and always-met permits."""
        K = max(len(sc) for sc in self.scoped)
        self._req_arr = np.full((len(self.jurisdictions), self.n_holds, K), np.uint64(1 << 63), dtype=np.uint64)
        self._free = np.zeros((len(self.jurisdictions), K), dtype=bool)
        for j, per_hold in enumerate(self.req):
            for h, row in enumerate(per_hold):
                for k, m in enumerate(row):
                    if m >= 0:
                        self._req_arr[j, h, k] = m
            self._free[j, : len(self.scoped[j])] = [
                s.rule.effect == "permit" and s.rule.requirement is None for s in self.scoped[j]]
        self._weights = np.uint64(1) << np.arange(K, dtype=np.uint64)

    def satisfied_rules(self, masks: tuple[int, ...]) -> npt.NDArray[np.unsignedinteger[Any]]:
        """(jurisdiction, holder mode, grant set) -> mask of rules whose requirement is met.

        Permits without a requirement always count as met; forbids without an `unless` never.
        """
        g = np.array(masks, dtype=np.uint64)
        met = (self._req_arr[:, :, :, None] & ~g[None, None, None, :]) == 0  # (J, H, K, G)
        met |= self._free[:, None, :, None]
        w = self._weights[None, None, :, None]
        out: U64 = np.bitwise_or.reduce(np.where(met, w, np.uint64(0)), axis=2)
        narrow: npt.NDArray[np.unsignedinteger[Any]] = out.astype(self.mask_dtype)
        return narrow

    # -- classes (for reasons) -------------------------------------------------------------
    def class_id(self, j: int, mask: int, hold: int) -> int:
        key = (j, mask, hold)
        cls = self.class_ids.get(key)
        if cls is None:
            cls = self.class_ids[key] = self._new_class(j, mask, hold)
        return cls

    def _new_class(self, j: int, mask: int, hold: int) -> int:
        code = self.jurisdictions[j]
        forbids: list[Entry] = []
        permits: list[Entry] = []
        obligates: list[ScopedRule] = []
        for k, s in enumerate(self.scoped[j]):
            if not mask >> k & 1:
                continue
            if s.rule.effect == "obligate":
                obligates.append(s)
                continue
            bits, used = self._req_mask(code, s, hold)
            (forbids if s.rule.effect == "forbid" else permits).append(Entry(s, max(bits, 0), used))
        self.classes.append(ClassInfo(tuple(forbids), tuple(permits), tuple(obligates), self._dc(code, hold), code))
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
        ], dtype=np.int32)
        n_epochs = len(self.bounds) + 1
        dest = np.full((max(len(regimes), 1), len(countries) + 1, n_epochs, 2), 2, dtype=np.int32)
        for ri, reg in enumerate(regimes):
            assert reg.transfers is not None
            for c in reg.transfers.area:
                dest[ri, self.country_idx[c], :, :] = 0
            for a in reg.transfers.adequacy:
                if a.country in reg.transfers.area:  # inside the area data moves freely: class 0 stays
                    continue
                ci = self.country_idx[a.country]
                for e in range(n_epochs):
                    for cert in (0, 1):
                        if a.adequate(self._epoch_day(e), bool(cert)):
                            dest[ri, ci, e, cert] = 1
        self.dest = dest


def _dest_ok(c: Condition, d: int) -> bool:
    return {"any": True, "third_country": d != 0, "non_adequate": d == 2}[c.destination]
