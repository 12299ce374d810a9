"""Columnar decisions over Arrow tables (the compiled evaluator's batch path).

Input columns (strings may be plain or dictionary-encoded):
  jurisdiction   string          required
  age | birth_date  int | date32 one of them; birth_date is aged at `at`
  category, use  string          required
  at             date32          required (the day of the act)
  recipient      string          optional, default `first_party`
  destination    string          optional, null = no transfer
  recipient_certified, scc, tia  bool  optional, default false
  grants         string          optional: valid grants at `at`, `|`-separated tokens
                                 `scope:by:assurance[:separate]`, e.g. `location:parent:verified`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tutela.errors import InvalidRequestError, UnknownKeyError
from tutela.policy.compiled import EFFECTS, CompiledPolicy
from tutela.policy.facts import GrantFact
from tutela.policy.model import Verdict
from tutela.policy.tables import RECIPIENTS
from tutela.rulebook.models import ASSURANCE_ORDER

IntArray = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


@dataclass
class BatchResult:
    policy: CompiledPolicy
    effect: npt.NDArray[np.int8]  # index into EFFECTS
    classes: npt.NDArray[np.int32]  # compiled class per row
    gsets: npt.NDArray[np.int32]  # index into masks
    masks: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.effect)

    def effects(self) -> list[str]:
        return [EFFECTS[i] for i in self.effect.tolist()]

    def verdict(self, row: int) -> Verdict:
        return self.policy.verdict_of_class(int(self.classes[row]), self.masks[int(self.gsets[row])])

    def to_arrow(self) -> pa.Table:
        """effect, determining rule ids and missing requirements per row (dictionary-encoded)."""
        key = self.classes.astype(np.int64) * len(self.masks) + self.gsets
        uniq, inverse = np.unique(key, return_inverse=True)
        rules, missing = [], []
        for k in uniq.tolist():
            c, gi = divmod(k, len(self.masks))
            v = self.policy.verdict_of_class(c, self.masks[gi])
            rules.append(",".join(d.id for d in v.determining))
            missing.append(",".join(_missing_label(m) for m in v.missing))
        idx = pa.array(inverse.ravel().astype(np.int32))
        return pa.table({
            "effect": pa.DictionaryArray.from_arrays(pa.array(self.effect.astype(np.int32)), pa.array(EFFECTS)),
            "determining": pa.DictionaryArray.from_arrays(idx, pa.array(rules)),
            "missing": pa.DictionaryArray.from_arrays(idx, pa.array(missing)),
        })


def _missing_label(m: Any) -> str:
    if m.kind == "safeguard":
        return f"safeguard:{m.safeguard}"
    return f"{m.scope}:{m.by}:{m.assurance}" + (":separate" if m.separate else "")


def _column(table: pa.Table, name: str, required: bool = True) -> pa.Array | None:
    if name not in table.column_names:
        if required:
            raise InvalidRequestError(f"missing column `{name}`", where="batch")
        return None
    col = table.column(name).combine_chunks()
    if required and col.null_count:
        row = pc.index(pc.is_null(col), True).as_py()
        raise InvalidRequestError(f"null value in required column `{name}`", where=f"batch[{row}].{name}")
    return col


def _codes(col: pa.Array, mapping: dict[str, int], name: str, null_code: int | None = None) -> I32:
    """Integer code per row through `mapping`; unknown values are an error naming the row."""
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    values = col.dictionary.to_pylist()
    lut = np.empty(len(values) + 1, dtype=np.int32)
    for i, v in enumerate(values):
        if v not in mapping:
            row = pc.index(pc.equal(col.indices, i), True).as_py()
            raise UnknownKeyError(f"unknown {name} `{v}`", where=f"batch[{row}].{name}")
        lut[i] = mapping[v]
    indices = col.indices.fill_null(len(values)) if col.null_count else col.indices
    lut[len(values)] = -1 if null_code is None else null_code
    return lut[np.asarray(indices)]


def _bools(table: pa.Table, name: str) -> I32:
    col = _column(table, name, required=False)
    if col is None:
        return np.zeros(table.num_rows, dtype=np.int32)
    return np.asarray(col.fill_null(False), dtype=np.int32)


def parse_grants(text: str, scopes: Any, row: int) -> frozenset[GrantFact]:
    out = set()
    for tok in filter(None, text.split("|")):
        parts = tok.split(":")
        ok = 3 <= len(parts) <= 4 and parts[1] in ("self", "parent") and parts[2] in ASSURANCE_ORDER
        if not ok or parts[0] not in scopes or (len(parts) == 4 and parts[3] != "separate"):
            raise InvalidRequestError(
                f"bad grant token `{tok}`", where=f"batch[{row}].grants",
                hint="use scope:by:assurance[:separate], e.g. location:parent:verified",
            )
        out.add(GrantFact(parts[0], parts[1], ASSURANCE_ORDER[parts[2]], len(parts) == 4))
    return frozenset(out)


def _grant_sets(policy: CompiledPolicy, table: pa.Table) -> tuple[I32, list[frozenset[GrantFact]]]:
    n = table.num_rows
    col = _column(table, "grants", required=False)
    if col is None:
        return np.zeros(n, dtype=np.int32), [frozenset()]
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    values = col.dictionary.to_pylist()
    facts = []
    for i, v in enumerate(values):
        try:
            facts.append(parse_grants(v or "", policy.book.scopes, -1))
        except InvalidRequestError as exc:  # find the row only when there is an error to report
            row = pc.index(pc.equal(col.indices, i), True).as_py()
            raise InvalidRequestError(exc.message, where=f"batch[{row}].grants", hint=exc.hint) from None
    facts.append(frozenset())  # null = no grants
    indices = col.indices.fill_null(len(values)) if col.null_count else col.indices
    return np.asarray(indices).astype(np.int32), facts


def decide_table(policy: CompiledPolicy, table: pa.Table) -> BatchResult:
    t = policy.t
    n = table.num_rows
    j = _codes(_column(table, "jurisdiction"), t.jidx, "jurisdiction")
    at = _column(table, "at")
    if not pa.types.is_date32(at.type):
        raise InvalidRequestError("column `at` must be date32", where="batch.at")
    days = np.asarray(at.cast(pa.int32())).astype(np.int32)
    lo = int(days.min()) if n else 0
    hi = int(days.max()) if n else 0
    ep_lut = np.searchsorted(t.bound_days, np.arange(lo, hi + 1) + EPOCH_ORDINAL, side="right").astype(np.int32)
    age = _ages(table, days.astype(np.int64) + EPOCH_ORDINAL).astype(np.int32)
    cat = _codes(_column(table, "category"), t.cat_class, "category")
    use = _codes(_column(table, "use"), t.use_class, "use")
    rec_col = _column(table, "recipient", required=False)
    rec = np.zeros(n, dtype=np.int32) if rec_col is None else _codes(
        rec_col, {r: i for i, r in enumerate(RECIPIENTS)}, "recipient", null_code=0)
    dest_col = _column(table, "destination", required=False)
    country = np.full(n, -1, dtype=np.int32) if dest_col is None else _codes(
        dest_col, _CountryMap(t.country_idx), "destination")
    gidx, facts = _grant_sets(policy, table)
    gsets = gidx * 4 + _bools(table, "scc") * 2 + _bools(table, "tia")
    safeguard_sets = (frozenset(), frozenset({"tia"}), frozenset({"scc"}), frozenset({"scc", "tia"}))
    masks = tuple(policy.grant_mask(g, s) for g in facts for s in safeguard_sets)
    effect, classes = policy.run_kernel(
        j, age, days - lo, cat, use, rec, country, _bools(table, "recipient_certified"), gsets, ep_lut, masks)
    return BatchResult(policy, effect, classes, gsets, masks)


class _CountryMap(dict[str, int]):
    """Countries the transfer tables know map to their index; any other ISO code to 0."""

    def __init__(self, known: dict[str, int]):
        super().__init__(known)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and len(key) == 2 and key.isalpha() and key.isupper()

    def __missing__(self, key: str) -> int:
        return 0


def _ages(table: pa.Table, day: IntArray) -> IntArray:
    if "age" in table.column_names:
        col = _column(table, "age")
        age = np.asarray(col.cast(pa.int64()), dtype=np.int64)
    else:
        birth = _column(table, "birth_date")
        if birth is None or not pa.types.is_date32(birth.type):
            raise InvalidRequestError("give an `age` (int) or `birth_date` (date32) column", where="batch")
        b = np.asarray(birth.cast(pa.int32()), dtype="datetime64[D]")
        d = (day - EPOCH_ORDINAL).astype("datetime64[D]")
        by, dy = b.astype("datetime64[Y]"), d.astype("datetime64[Y]")
        age = (dy - by).astype(np.int64) - (_month_day(d) < _month_day(b)).astype(np.int64)
    bad = (age < 0) | (age > 130)
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidRequestError(f"impossible age {int(age[row])}", where=f"batch[{row}].age")
    return age


def _month_day(x: npt.NDArray[np.datetime64]) -> IntArray:
    month = x.astype("datetime64[M]")
    m = (month - x.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64)
    return m * 32 + (x - month).astype(np.int64)
