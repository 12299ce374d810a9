"""The subject-state table the stream guard reads, and the source that re-reads it (revocation).

Columns (one row per subject):
  subject_id   string           required, unique
  jurisdiction string           required, a rulebook jurisdiction
  birth_date   date32 | age int one of them per row; both null = age unknown (treated as unknown)
  grants       int64            bit i = scope `grant_bits[i]` of stream_guard.yaml is granted (null = 0)
  grant_by     string           self | parent (who gave the grants; required when grants != 0)
  assurance    string           declared | confirmed | verified (default declared)
  separate     int64            optional: scopes whose grant was given on its own (COPPA 2025)
  version      int64            optional: the state's version; a reload never goes backwards

Revocation: `StateSource` re-reads its file when the file changed, checking at most every
`refresh_ms`; a revocation written at time T governs every batch guarded from T + refresh_ms on.
A file that does not read or validate raises (at every check until it does): the guard never
goes on silently with a state older than the file.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tutela.errors import InputError
from tutela.guard.stream_config import StreamConfig
from tutela.rulebook import Rulebook

BY = ("self", "parent")
ASSURANCES = ("declared", "confirmed", "verified")


@dataclass(frozen=True)
class SubjectState:
    """A validated state table: per row its profile (jurisdiction + grants) and its age source."""

    ids: pa.Array  # subject_id, string
    profile: npt.NDArray[np.int32]  # per row, index into `jurisdictions` / `grants`
    jurisdictions: tuple[str, ...]  # per profile
    grants: tuple[str, ...]  # per profile, decide_table's grant tokens
    birth_year: npt.NDArray[np.int32]  # per row; -1 when the age is fixed or unknown
    birth_md: npt.NDArray[np.int32]  # month * 32 + day of birth
    fixed_age: npt.NDArray[np.int32]  # per row; -1 when aged from birth_date, -2 when unknown
    version: int
    table: pa.Table

    def __len__(self) -> int:
        return len(self.ids)


def grant_tokens(mask: int, by: str, assurance: str, separate: int, bits: tuple[str, ...]) -> str:
    return "|".join(f"{s}:{by}:{assurance}" + (":separate" if separate >> i & 1 else "")
                    for i, s in enumerate(bits) if mask >> i & 1)


def _col(table: pa.Table, name: str, where: str) -> pa.Array | None:
    if name not in table.column_names:
        return None
    col = table.column(name).combine_chunks()
    return col.dictionary_decode() if pa.types.is_dictionary(col.type) else col


def _strings(table: pa.Table, name: str, where: str, required: bool) -> list[str | None]:
    col = _col(table, name, where)
    if col is None:
        if required:
            raise InputError(f"missing column `{name}`", where=where)
        return [None] * table.num_rows
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise InputError(f"column `{name}` must be strings", where=f"{where}.{name}")
    return cast("list[str | None]", col.to_pylist())  # pyarrow is untyped


def _ints(table: pa.Table, name: str, where: str) -> list[int | None]:
    col = _col(table, name, where)
    if col is None:
        return [None] * table.num_rows
    if not pa.types.is_integer(col.type):
        raise InputError(f"column `{name}` must be integers", where=f"{where}.{name}")
    return cast("list[int | None]", col.to_pylist())  # pyarrow is untyped


def load_state(table: pa.Table, book: Rulebook, cfg: StreamConfig, where: str = "state") -> SubjectState:
    """Validate the whole table first: a bad row fails the load, nothing half-applies."""
    ids = _col(table, "subject_id", where)
    if ids is None:
        raise InputError("missing column `subject_id`", where=where)
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        raise InputError("column `subject_id` must be strings", where=f"{where}.subject_id")
    ids = ids.cast(pa.string())
    if ids.null_count:
        raise InputError("null subject_id", where=f"{where}[{pc.index(pc.is_null(ids), True).as_py()}].subject_id")
    if len(pc.unique(ids)) != len(ids):
        raise InputError("a subject_id is listed twice", where=f"{where}.subject_id",
                         hint="one row per subject: the state of each subject now")
    jur = _strings(table, "jurisdiction", where, required=True)
    by = _strings(table, "grant_by", where, required=False)
    assurance = _strings(table, "assurance", where, required=False)
    grants, separate = _ints(table, "grants", where), _ints(table, "separate", where)
    birth = _col(table, "birth_date", where)
    if birth is not None and not pa.types.is_date32(birth.type):
        raise InputError("column `birth_date` must be date32", where=f"{where}.birth_date")
    ages = _ints(table, "age", where)
    if birth is None and "age" not in table.column_names:
        raise InputError("give a `birth_date` (date32) or `age` (int) column", where=where)
    births = birth.to_pylist() if birth is not None else [None] * table.num_rows
    limit = 1 << len(cfg.grant_bits)
    keys: dict[tuple[str, str], int] = {}
    profile = np.empty(len(ids), np.int32)
    birth_year = np.full(len(ids), -1, np.int32)
    birth_md = np.zeros(len(ids), np.int32)
    fixed = np.full(len(ids), -2, np.int32)
    for i in range(len(ids)):
        at = f"{where}[{i}]"
        j = jur[i]
        if j is None or j not in book.jurisdictions:
            raise InputError(f"unknown jurisdiction `{j}`", where=f"{at}.jurisdiction",
                             hint="a code listed by `tutela rules list`")
        mask, sep = grants[i] or 0, separate[i] or 0
        if not 0 <= mask < limit or not 0 <= sep < limit or sep & ~mask:
            raise InputError(f"grant mask `{mask}` (separate `{sep}`) out of range", where=f"{at}.grants",
                             hint=f"bits 0..{len(cfg.grant_bits) - 1}; separate only for granted scopes")
        who, level = by[i], assurance[i] or "declared"
        if mask and who not in BY:
            raise InputError(f"grants need `grant_by` self or parent, not `{who}`", where=f"{at}.grant_by")
        if level not in ASSURANCES:
            raise InputError(f"unknown assurance `{level}`", where=f"{at}.assurance", hint=", ".join(ASSURANCES))
        token = grant_tokens(mask, who or "self", level, sep, cfg.grant_bits)
        profile[i] = keys.setdefault((j, token), len(keys))
        b, a = births[i], ages[i]
        if b is not None and a is not None:
            raise InputError("give `birth_date` or `age`, not both", where=at)
        if b is not None:
            birth_year[i], birth_md[i], fixed[i] = b.year, b.month * 32 + b.day, -1
        elif a is not None:
            if not 0 <= a <= 130:
                raise InputError(f"impossible age {a}", where=f"{at}.age")
            fixed[i] = a
    versions = [v for v in _ints(table, "version", where) if v is not None]
    return SubjectState(ids, profile, tuple(k[0] for k in keys), tuple(k[1] for k in keys),
                        birth_year, birth_md, fixed, max(versions, default=0), table)


def read_table(path: Path) -> pa.Table:
    """A Parquet or Arrow IPC (file or stream) table."""
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        with pa.memory_map(str(path)) as src:
            try:
                return pa.ipc.open_file(src).read_all()
            except pa.ArrowInvalid:
                src.seek(0)
                return pa.ipc.open_stream(src).read_all()
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", where=str(path)) from None
    except pa.ArrowInvalid as exc:
        raise InputError(f"not a Parquet or Arrow file: {exc}", where=str(path)) from None


class StateSource:
    """The current state: a table given in memory (`set`, at once) or a file re-read when it changes."""

    def __init__(self, book: Rulebook, cfg: StreamConfig, path: Path | None = None,
                 table: pa.Table | None = None, refresh_ms: int = 1000):
        if (path is None) == (table is None):
            raise InputError("give a state file or a state table", where="state")
        self.book, self.cfg, self.path, self.refresh_ms = book, cfg, path, refresh_ms
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self.state = load_state(table, book, cfg) if table is not None else self._read()

    def set(self, table: pa.Table) -> None:
        """Replace the state now (validated whole before it replaces anything)."""
        new = load_state(table, self.book, self.cfg)
        with self._lock:
            self._adopt(new)

    def current(self) -> SubjectState:
        if self.path is not None and time.monotonic() - self._checked >= self.refresh_ms / 1000:
            with self._lock:
                self._checked = time.monotonic()
                if self._file_stamp() != self._stamp:
                    self._adopt(self._read())
        return self.state

    def _adopt(self, new: SubjectState) -> None:
        if new.version < getattr(self, "state", new).version:
            raise InputError(f"state version {new.version} is older than the current {self.state.version}",
                             where=str(self.path or "state"), hint="a state update must not go backwards")
        self.state = new

    def _file_stamp(self) -> tuple[int, int]:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise InputError(f"cannot read the state: {exc.strerror}", where=str(self.path)) from None
        return st.st_mtime_ns, st.st_size

    def _read(self) -> SubjectState:
        assert self.path is not None
        stamp = self._file_stamp()
        state = load_state(read_table(self.path), self.book, self.cfg, where=str(self.path))
        self._stamp = stamp  # only once read: a file that fails is tried again at the next check
        self._checked = time.monotonic()
        return state
