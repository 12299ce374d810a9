"""The connector interface: one store, batches of keys as Arrow tables, set-based work.

    InputError
    └── ConnectorUnavailable   the store cannot be reached or the connection was lost;
                               nothing of the failed call was committed, a retry may succeed

`apply` answers with `Applied`: the items changed, and the items it could not change, each
with its reason (a file that cannot be cleaned, a row still there after the statement). A
failed item never stops the rest of the batch; the caller records it and can retry it alone.

A connector never works one row at a time: the keys of a batch go into a temporary table
(SQL), a hash set (DuckDB/Arrow) or one pipeline (Redis), and one statement per collection
does the work. See docs/repair.md, "Connector interface".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.compute as pc

from tutela.connectors.strategies import Strategy, require_field_strategy
from tutela.errors import InputError, StoreUnavailable

Action = Literal["delete", "mask"]


class ConnectorUnavailable(StoreUnavailable):
    """The store is unreachable or the connection was lost; the failed call committed nothing."""


@dataclass(frozen=True)
class Target:
    """What to do to one collection's rows that match a batch of keys."""

    collection: str  # table / key family / file set
    match: tuple[str, ...]  # columns the keys table matches on
    action: Action
    masks: Mapping[str, Strategy] = field(default_factory=dict)  # field -> strategy (action == "mask")

    def __post_init__(self) -> None:
        where = f"target `{self.collection}`"
        if not self.match:
            raise InputError("a target needs at least one match column", where=where)
        if self.action == "delete" and self.masks:
            raise InputError("a delete target takes no masks", where=where)
        if self.action == "mask":
            if not self.masks:
                raise InputError("a mask target needs at least one field to mask", where=where)
            for name, s in self.masks.items():
                if s.strategy == "delete":
                    require_field_strategy(s, f"{self.collection}.{name}")

    def fields(self) -> set[str]:
        return set(self.match) | set(self.masks)


@dataclass(frozen=True)
class Failure:
    """One item `apply` could not change: its match-column values, and why (no personal data)."""

    key: tuple[object, ...]
    reason: str

    def to_dict(self, match: Sequence[str]) -> dict[str, object]:
        return {**dict(zip(match, self.key, strict=True)), "reason": self.reason}


@dataclass(frozen=True)
class Applied:
    """What one `apply` did: `changed` items changed (and, where the store can say, verified),
    `failed` the items it could not change; the rest needed no change (already done)."""

    changed: int
    failed: tuple[Failure, ...] = ()


@runtime_checkable
class Connector(Protocol):
    kind: str  # "sql", "lake", "redis", "files", "memory"

    def check(self, need: Mapping[str, set[str]]) -> None:
        """Every collection and field the plan touches exists, else InputError naming it; no write."""
        ...

    def count(self, target: Target, keys: pa.Table) -> int:
        """Dry run: the rows `apply` would change now. Writes nothing."""
        ...

    def retrieve(self, collection: str, match: tuple[str, ...], keys: pa.Table,
                 fields: Sequence[str]) -> pa.Table:
        """The rows matching the keys, with the named fields."""
        ...

    def apply(self, target: Target, keys: pa.Table) -> Applied:
        """Delete or mask the matching rows in one transaction; what changed, what failed. Idempotent."""
        ...

    def close(self) -> None: ...


def needs_of(targets: Iterable[Target]) -> dict[str, set[str]]:
    """Collection -> fields that a list of targets touches (the argument of `check`)."""
    out: dict[str, set[str]] = {}
    for t in targets:
        out.setdefault(t.collection, set()).update(t.fields())
    return out


def prepare_keys(keys: pa.Table, match: tuple[str, ...], where: str) -> pa.Table:
    """The keys table cut to the match columns, without NULL keys, each key once."""
    missing = [c for c in match if c not in keys.column_names]
    if missing:
        raise InputError(f"the keys table has no column(s) {', '.join(f'`{c}`' for c in missing)}", where=where,
                         hint=f"it needs {', '.join(match)}")
    out = keys.select(list(match))
    if out.num_rows == 0:
        return out.combine_chunks()
    valid = pc.is_valid(out[match[0]])
    for c in match[1:]:
        valid = pc.and_(valid, pc.is_valid(out[c]))
    out = out.filter(valid)
    return out.group_by(list(match), use_threads=False).aggregate([]).select(list(match)).combine_chunks()



def scrub(text: str, secret: str | None) -> str:
    """A driver's message with the password removed, first line only."""
    line = text.strip().splitlines()[0] if text.strip() else "no message"
    return line.replace(secret, "***") if secret else line


def missing_fields(collection: str, have: Iterable[str], need: Iterable[str], where: str) -> None:
    lacking = sorted(set(need) - set(have))
    if lacking:
        raise InputError(f"column(s) {', '.join(f'`{collection}.{c}`' for c in lacking)} missing", where=where,
                         hint="does the store match its data map?")
