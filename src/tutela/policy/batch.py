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

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tutela.errors import InvalidRequestError, UnknownKeyError
from tutela.policy.compiled import EFFECTS, CompiledPolicy, KernelInput, KernelOutput
from tutela.policy.facts import GrantFact
from tutela.policy.model import Grant, Verdict
from tutela.policy.tables import RECIPIENTS
from tutela.rulebook.models import ASSURANCE_ORDER
from tutela.rulebook.suggest import jurisdiction_hint

IntArray = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


@dataclass
class BatchResult:
    policy: CompiledPolicy
    effect: npt.NDArray[np.int8]  # index into EFFECTS
    inputs: KernelInput
    masks: tuple[int, ...]  # grant mask per grant set

    def __len__(self) -> int:
        return len(self.effect)

    def effects(self) -> list[str]:
        return [EFFECTS[i] for i in self.effect.tolist()]

    @cached_property
    def detail(self) -> KernelOutput:
        """Per row: jurisdiction, applicable rules, holder mode, grant set (a second pass)."""
        return self.policy.run_kernel(self.inputs, self.masks, detail=True)

    def verdict(self, row: int) -> Verdict:
        d = self.detail
        cls = self.policy.t.class_id(int(d.jurisdiction[row]), int(d.rules[row]), int(d.hold[row]))
        return self.policy.verdict_of_class(cls, self.masks[int(d.gset[row])])

    def to_arrow(self) -> pa.Table:
        """effect, determining rule ids and missing requirements per row (dictionary-encoded)."""
        d = self.detail
        t = self.policy.t
        rule_bits = 8 * np.dtype(t.mask_dtype).itemsize
        outer = len(t.jurisdictions) * t.n_holds * max(len(self.masks), 1)
        if rule_bits < 64 and outer < 2 ** (64 - rule_bits):  # one integer key: a fast 1-d unique
            key = ((d.jurisdiction.astype(np.uint64) * np.uint64(t.n_holds) + d.hold.astype(np.uint64))
                   * np.uint64(len(self.masks)) + d.gset.astype(np.uint64)) << np.uint64(rule_bits)
            key |= d.rules.astype(np.uint64)
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        else:
            keys = np.stack([d.jurisdiction.astype(np.uint64), d.rules.astype(np.uint64),
                             d.hold.astype(np.uint64), d.gset.astype(np.uint64)], axis=1)
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        rules, missing = [], []
        for row in first.tolist():
            v = self.verdict(row)
            rules.append(",".join(r.id for r in v.determining))
            missing.append(",".join(_missing_label(m) for m in v.missing))
        idx = pa.array(inverse.ravel().astype(np.int32))
        return pa.table({
            "effect": pa.DictionaryArray.from_arrays(pa.array(self.effect.astype(np.int32)), pa.array(EFFECTS)),
            "determining": pa.DictionaryArray.from_arrays(idx, pa.array(rules)),
            "missing": pa.DictionaryArray.from_arrays(idx, pa.array(missing)),
        })


def _encoded(table: pa.Table, name: str, mapping: Any, label: str, required: bool = True, null_code: int = -1,
             hint: Callable[[str], str] | None = None) -> tuple[npt.NDArray[Any], I32]:
    """Dictionary indices per row and a lookup table index -> code (last slot: null)."""
    col = _column(table, name, required=required)
    if col is None:
        return np.zeros(table.num_rows, dtype=np.int32), np.array([null_code], dtype=np.int32)
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    values = col.dictionary.to_pylist()
    lut = np.empty(len(values) + 1, dtype=np.int32)
    for i, v in enumerate(values):
        if v not in mapping:
            row = pc.index(pc.equal(col.indices, i), True).as_py()
            raise UnknownKeyError(f"unknown {label} `{v}`", where=f"batch[{row}].{name}",
                                  hint=hint(str(v)) if hint is not None else None)
        lut[i] = mapping[v]
    lut[len(values)] = null_code
    indices = col.indices.fill_null(len(values)) if col.null_count else col.indices
    return np.asarray(indices), lut


def _grant_lut(policy: CompiledPolicy, table: pa.Table) -> tuple[npt.NDArray[Any], I32, tuple[int, ...]]:
    """Dictionary indices of `grants`, (index, safeguards) -> mask number, and the distinct masks."""
    col = _column(table, "grants", required=False)
    sets: tuple[frozenset[str], ...] = (frozenset(), frozenset({"tia"}), frozenset({"scc"}),
                                        frozenset({"scc", "tia"}))
    if col is None:
        return np.zeros(table.num_rows, dtype=np.int32), *_unique_masks(policy, [frozenset()], sets)
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    values = col.dictionary.to_pylist()
    facts: list[frozenset[GrantFact]] = []
    for i, v in enumerate(values):
        try:
            facts.append(parse_grants(v or "", policy.book.scopes, -1))
        except InvalidRequestError as exc:  # find the row only when there is an error to report
            row = pc.index(pc.equal(col.indices, i), True).as_py()
            raise InvalidRequestError(exc.message, where=f"batch[{row}].grants", hint=exc.hint) from None
    facts.append(frozenset())  # null = no grants
    indices = col.indices.fill_null(len(values)) if col.null_count else col.indices
    return np.asarray(indices), *_unique_masks(policy, facts, sets)


def _unique_masks(policy: CompiledPolicy, facts: list[frozenset[GrantFact]],
                  sets: tuple[frozenset[str], ...]) -> tuple[I32, tuple[int, ...]]:
    """(grant value, safeguard combination) -> index into the distinct token masks."""
    index: dict[int, int] = {}
    lut = np.empty((len(facts), len(sets)), dtype=np.int32)
    for i, f in enumerate(facts):
        for k, s in enumerate(sets):
            lut[i, k] = index.setdefault(policy.grant_mask(f, s), len(index))
    return lut, tuple(index)


def _bitmap(table: pa.Table, name: str) -> tuple[npt.NDArray[np.uint8], int]:
    """A boolean column as its Arrow bitmap (no conversion) and bit offset; null = false."""
    col = _column(table, name, required=False)
    if col is None:
        return np.zeros(table.num_rows // 8 + 1, dtype=np.uint8), 0
    if not pa.types.is_boolean(col.type):
        raise InvalidRequestError(f"column `{name}` must be boolean", where=f"batch.{name}")
    if col.null_count:
        col = col.fill_null(False)
    data = col.buffers()[1]
    return np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, np.uint8), col.offset


COLUMNS = frozenset({"jurisdiction", "age", "birth_date", "category", "use", "at", "recipient", "destination",
                     "recipient_certified", "scc", "tia", "grants"})


def decide_table(policy: CompiledPolicy, table: pa.Table, strict: bool = False) -> BatchResult:
    """Decide every row. `strict` (the edges' batches): a column no rule reads is refused, never
    silently ignored; internal callers pass tables with their own key columns beside these."""
    if strict:
        unknown = sorted(set(table.column_names) - COLUMNS)
        if unknown:
            raise InvalidRequestError(f"unknown column `{unknown[0]}`", where=f"batch.{unknown[0]}",
                                      hint="the columns are " + ", ".join(sorted(COLUMNS)))
    t = policy.t
    at = _column(table, "at")
    assert at is not None
    if not pa.types.is_date32(at.type):
        raise InvalidRequestError("column `at` must be date32", where="batch.at")
    days = np.asarray(at.cast(pa.int32()))
    lo = int(days.min()) if len(days) else 0
    hi = int(days.max()) if len(days) else 0
    ep_lut = np.searchsorted(t.bound_days, np.arange(lo, hi + 1) + EPOCH_ORDINAL, side="right").astype(np.int32)
    age = _ages(table, days)
    jraw, j_lut = _encoded(table, "jurisdiction", t.jidx, "jurisdiction",
                           hint=lambda v: jurisdiction_hint(v, policy.book.jurisdictions))
    craw, c_lut = _encoded(table, "category", t.cat_class, "category")
    uraw, u_lut = _encoded(table, "use", t.use_class, "use")
    rraw, r_lut = _encoded(table, "recipient", {r: i for i, r in enumerate(RECIPIENTS)}, "recipient",
                           required=False, null_code=0)
    draw, d_lut = _encoded(table, "destination", _CountryMap(t.country_idx), "destination", required=False)
    graw, g_lut, masks = _grant_lut(policy, table)
    (cert, c_off), (scc, s_off), (tia, t_off) = (
        _bitmap(table, "recipient_certified"), _bitmap(table, "scc"), _bitmap(table, "tia"))
    inputs = KernelInput(jraw, j_lut, age, days, lo, ep_lut, craw, c_lut, uraw, u_lut, rraw, r_lut,
                         draw, d_lut, cert, graw, g_lut, scc, tia, np.array([c_off, s_off, t_off], np.int64))
    return BatchResult(policy, policy.run_kernel(inputs, masks, detail=False).effect, inputs, masks)


TOKEN_SEP, SET_SEP, SEPARATE = ":", "|", "separate"  # the grant-token format, written down once


def grant_token(scope: str, by: str, assurance: str, separate: bool) -> str:
    """One grant of one scope: `scope:by:assurance[:separate]` (separate = given for that scope alone)."""
    return TOKEN_SEP.join((scope, by, assurance, SEPARATE) if separate else (scope, by, assurance))


def grants_text(grants: Iterable[Grant], day: dt.date) -> str | None:
    """The `grants` column for a subject's grants: those valid on `day`, as tokens (None: none)."""
    toks = [grant_token(s, g.by, g.assurance, len(set(g.scopes)) == 1)
            for g in grants if g.valid_on(day) for s in g.scopes]
    return SET_SEP.join(toks) or None


def _missing_label(m: Any) -> str:
    if m.kind == "safeguard":
        return f"safeguard:{m.safeguard}"
    return grant_token(m.scope, m.by, m.assurance, m.separate)


def _column(table: pa.Table, name: str, required: bool = True) -> pa.Array | None:
    if name not in table.column_names:
        if required:
            raise InvalidRequestError(f"missing column `{name}`", where="batch")
        return None
    chunked = table.column(name)
    col = chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()
    if required and col.null_count:
        row = pc.index(pc.is_null(col), True).as_py()
        raise InvalidRequestError(f"null value in required column `{name}`", where=f"batch[{row}].{name}")
    return col


def parse_grants(text: str, scopes: Any, row: int) -> frozenset[GrantFact]:
    out = set()
    for tok in filter(None, text.split(SET_SEP)):
        parts = tok.split(TOKEN_SEP)
        ok = 3 <= len(parts) <= 4 and parts[1] in ("self", "parent") and parts[2] in ASSURANCE_ORDER
        if not ok or parts[0] not in scopes or (len(parts) == 4 and parts[3] != SEPARATE):
            raise InvalidRequestError(
                f"bad grant token `{tok}`", where=f"batch[{row}].grants",
                hint="use scope:by:assurance[:separate], e.g. location:parent:verified",
            )
        out.add(GrantFact(parts[0], parts[1], ASSURANCE_ORDER[parts[2]], len(parts) == 4))
    return frozenset(out)


class _CountryMap(dict[str, int]):
    """Countries the transfer tables know map to their index; any other ISO code to 0."""

    def __init__(self, known: dict[str, int]):
        super().__init__(known)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and len(key) == 2 and key.isalpha() and key.isupper()

    def __missing__(self, key: str) -> int:
        return 0


def _ages(table: pa.Table, day: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Age per row: the `age` column as it is, or `birth_date` aged at `at` (days since 1970)."""
    where = "age"
    if "age" in table.column_names:
        col = _column(table, "age")
        assert col is not None
        if not pa.types.is_integer(col.type):
            raise InvalidRequestError("column `age` must be integers", where="batch.age")
        age = np.asarray(col)
    else:
        where = "birth_date"
        birth = _column(table, "birth_date")
        if birth is None or not pa.types.is_date32(birth.type):
            raise InvalidRequestError("give an `age` (int) or `birth_date` (date32) column", where="batch")
        b = np.asarray(birth.cast(pa.int32()), dtype="datetime64[D]")
        d = day.astype("datetime64[D]")
        by, dy = b.astype("datetime64[Y]"), d.astype("datetime64[Y]")
        age = (dy - by).astype(np.int64) - (_month_day(d) < _month_day(b)).astype(np.int64)
    bad = (age < 0) | (age > 130)
    if bad.any():
        row = int(np.argmax(bad))
        msg = (f"impossible age {int(age[row])}" if where == "age" or age[row] > 0
               else "birth date is after the act's date `at`")
        raise InvalidRequestError(msg, where=f"batch[{row}].{where}")
    return age


def _month_day(x: npt.NDArray[np.datetime64]) -> IntArray:
    month = x.astype("datetime64[M]")
    m: IntArray = (month - x.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64)
    day: IntArray = (x - month).astype(np.int64)
    return m * 32 + day
