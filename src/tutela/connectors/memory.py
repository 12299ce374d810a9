"""An in-memory store (a dict of Arrow tables) with the connectors' semantics, for unit tests.

Deliberately plain: a Python set of key tuples and a loop over rows, so it also serves as the
reference that the set-based connectors are checked against (tests/test_connectors_sql.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

from tutela.connectors.base import Applied, Target, missing_fields
from tutela.connectors.strategies import changed, mask, require_ready
from tutela.errors import InputError


class MemoryConnector:
    kind = "memory"

    def __init__(self, tables: Mapping[str, pa.Table]) -> None:
        self.tables: dict[str, pa.Table] = dict(tables)

    def check(self, need: Mapping[str, set[str]]) -> None:
        for name, fields in need.items():
            if name not in self.tables:
                raise InputError(f"table `{name}` is missing", where="memory")
            missing_fields(name, self.tables[name].column_names, fields, "memory")

    def _hits(self, collection: str, match: tuple[str, ...], keys: pa.Table) -> list[int]:
        self.check({collection: set(match)})
        wanted = {k for k in zip(*(keys[c].to_pylist() for c in match), strict=True) if None not in k}
        table = self.tables[collection]
        rows = zip(*(table[c].to_pylist() for c in match), strict=True)
        return [i for i, row in enumerate(rows) if row in wanted]

    def _masked(self, target: Target, keys: pa.Table) -> tuple[list[int], dict[str, list[object]]]:
        """Rows whose masked values differ, and each masked field's new values for all rows."""
        require_ready(target.masks.values())
        table = self.tables[target.collection]
        hits = set(self._hits(target.collection, target.match, keys))
        new: dict[str, list[object]] = {}
        rows_changed: set[int] = set()
        for name, strategy in target.masks.items():
            values = table[name].to_pylist()
            for i in hits:
                one = pa.array([values[i]], type=table.schema.field(name).type)
                after = mask(strategy, one, f"{target.collection}.{name}")
                if changed(one, after)[0].as_py():
                    rows_changed.add(i)
                    values[i] = after[0].as_py()
            new[name] = values
        return sorted(rows_changed), new

    def count(self, target: Target, keys: pa.Table) -> int:
        self.check({target.collection: target.fields()})
        if target.action == "delete":
            return len(self._hits(target.collection, target.match, keys))
        return len(self._masked(target, keys)[0])

    def retrieve(self, collection: str, match: tuple[str, ...], keys: pa.Table,
                 fields: Sequence[str]) -> pa.Table:
        self.check({collection: set(fields)})
        rows = pa.array(self._hits(collection, match, keys), pa.int64())
        return self.tables[collection].select(list(fields)).take(rows)

    def apply(self, target: Target, keys: pa.Table) -> Applied:
        self.check({target.collection: target.fields()})
        table = self.tables[target.collection]
        if target.action == "delete":
            gone = set(self._hits(target.collection, target.match, keys))
            keep = pa.array([i for i in range(table.num_rows) if i not in gone], pa.int64())
            self.tables[target.collection] = table.take(keep)
            return Applied(len(gone))
        rows, new = self._masked(target, keys)
        for name, values in new.items():
            spec = table.schema.field(name)
            table = table.set_column(table.schema.get_field_index(name), spec, pa.array(values, type=spec.type))
        self.tables[target.collection] = table
        return Applied(len(rows))

    def close(self) -> None:
        self.tables.clear()
