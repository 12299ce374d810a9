"""Redis: key families, one key per subject, declared as templates (`clipstream:session:{account_id}`).

A collection is a key family (`tutela.stores.<name>.collections` in the declarations). The
batch's keys fill the template's placeholders (Arrow string joins, no per-row formatting), an
optional prefix keeps test runs and tenants apart. Delete is `UNLINK` of the keys; a mask
reads the hash fields with `HMGET`, computes the strategies in Arrow and writes back with
`HSET` (or `HDEL` for a NULL) only where a value changes. Reads go through one pipeline; the
writes of a call go through one MULTI/EXEC pipeline. `retrieve` returns key, type and the
value as JSON text.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import redis as redislib
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from tutela.connectors.base import Applied, ConnectorUnavailable, Target, prepare_keys
from tutela.connectors.strategies import Strategy, changed, mask, require_field_strategy, require_ready
from tutela.connectors.urls import redact
from tutela.datamap.models import KeyFamilyDecl
from tutela.errors import InputError

CHUNK = 5_000  # keys per command / pipeline
META = ("key", "type", "value")  # the columns `retrieve` returns besides the placeholders


def placeholders(template: str, where: str) -> tuple[str, ...]:
    """The field names in a key template; plain `{name}` placeholders only."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InputError(f"bad key template `{template}`: {exc}", where=where) from None
    for _literal, name, spec, conv in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conv:
            raise InputError(f"bad placeholder `{{{name}}}` in key template `{template}`", where=where,
                             hint="use plain field names, e.g. `app:session:{account_id}`")
        names.append(name)
    if not names:
        raise InputError(f"key template `{template}` has no `{{placeholder}}`: it would be one key for everyone",
                         where=where)
    return tuple(dict.fromkeys(names))


class RedisConnector:
    kind = "redis"

    def __init__(self, url: str, families: Mapping[str, KeyFamilyDecl], *, key_prefix: str = "") -> None:
        self.where = redact(url)
        self._families = dict(families)
        self._fields = {n: placeholders(f.key, f"{self.where}: {n}.key") for n, f in self._families.items()}
        self._prefix = key_prefix
        try:
            self._client = redislib.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5,
                                                   socket_timeout=60)
        except ValueError as exc:
            raise InputError(f"bad Redis URL: {exc}", where=self.where) from None

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ConnectorUnavailable(f"cannot reach Redis ({what}): {exc}", where=self.where) from None
        except RedisError as exc:
            raise InputError(f"{what}: {exc}", where=self.where) from None

    def _family(self, collection: str) -> KeyFamilyDecl:
        if collection not in self._families:
            raise InputError(f"key family `{collection}` is not declared", where=self.where,
                             hint="declare it under `tutela.stores` in the data map's declarations")
        return self._families[collection]

    def _keys(self, collection: str, match: tuple[str, ...], keys: pa.Table) -> tuple[pa.Table, list[str]]:
        """The batch's keys (placeholder columns) and the Redis key each one names."""
        fam, names = self._family(collection), self._fields[collection]
        if set(match) != set(names):
            raise InputError(f"key family `{collection}` is matched on {', '.join(names)}, not on "
                             f"{', '.join(match)}", where=self.where)
        k = prepare_keys(keys, names, f"{collection} keys")
        if k.num_rows == 0:
            return k, []
        pieces: list[Any] = []
        for literal, name, _spec, _conv in string.Formatter().parse(self._prefix.replace("{", "{{")
                                                                      .replace("}", "}}") + fam.key):
            if literal:
                pieces.append(pa.scalar(literal))
            if name is not None:
                pieces.append(k[name].cast(pa.string()))
        return k, pc.binary_join_element_wise(*pieces, "").to_pylist()

    def _hash_masks(self, target: Target) -> dict[str, Strategy]:
        fam = self._family(target.collection)
        if fam.type != "hash":
            raise InputError(f"key family `{target.collection}` holds a {fam.type}; only hash fields can be masked",
                             where=self.where, hint="delete the keys instead")
        for name, s in target.masks.items():
            require_field_strategy(s, f"{target.collection}.{name}")
        return dict(target.masks)

    def _masked(self, target: Target, keys: pa.Table) -> list[tuple[str, dict[FieldT, EncodableT], list[str]]]:
        """Per key whose hash changes: the fields to set and the fields to delete."""
        masks = self._hash_masks(target)
        _k, names = self._keys(target.collection, target.match, keys)
        fields = list(masks)
        out: list[tuple[str, dict[FieldT, EncodableT], list[str]]] = []
        for start in range(0, len(names), CHUNK):
            chunk = names[start:start + CHUNK]
            with self._errors(f"read `{target.collection}`"):
                pipe = self._client.pipeline(transaction=False)
                for key in chunk:
                    pipe.hmget(key, fields)
                got = pipe.execute()
            before = {f: pa.array([row[i] for row in got], pa.string()) for i, f in enumerate(fields)}
            after = {f: self._mask_text(s, before[f], f"{target.collection}.{f}") for f, s in masks.items()}
            diff = {f: changed(before[f], after[f]).to_pylist() for f in fields}
            new = {f: after[f].to_pylist() for f in fields}
            for j, key in enumerate(chunk):
                sets: dict[FieldT, EncodableT] = {f: new[f][j] for f in fields if diff[f][j] and new[f][j] is not None}
                dels = [f for f in fields if diff[f][j] and new[f][j] is None]
                if sets or dels:
                    out.append((key, sets, dels))
        return out

    @staticmethod
    def _mask_text(s: Strategy, values: pa.Array, where: str) -> pa.Array:
        """Hash fields are text: numbers are parsed for `coarsen_location` and written back as text."""
        if s.strategy != "coarsen_location":
            return mask(s, values, where)
        try:
            numbers = values.cast(pa.float64())
        except pa.ArrowInvalid:
            raise InputError("`coarsen_location` needs numbers; the hash field holds other text", where=where) from None
        return mask(s, numbers, where).cast(pa.string())

    # -- the interface ----------------------------------------------------------------------

    def check(self, need: Mapping[str, set[str]]) -> None:
        with self._errors("check"):
            self._client.ping()
        for name, fields in need.items():
            fam = self._family(name)
            known = set(self._fields[name]) | set(fam.fields) | set(META)
            unknown = sorted(set(fields) - known)
            if unknown:
                raise InputError(f"field(s) {', '.join(f'`{name}.{f}`' for f in unknown)} not declared",
                                 where=self.where, hint="declare hash fields under the key family's `fields`")

    def count(self, target: Target, keys: pa.Table) -> int:
        require_ready(target.masks.values())
        if target.action == "mask":
            return len(self._masked(target, keys))
        _k, names = self._keys(target.collection, target.match, keys)
        with self._errors(f"count `{target.collection}`"):
            return sum(int(self._client.exists(*names[i:i + CHUNK])) for i in range(0, len(names), CHUNK))

    def apply(self, target: Target, keys: pa.Table) -> Applied:
        require_ready(target.masks.values())
        if target.action == "delete":
            _k, names = self._keys(target.collection, target.match, keys)
            if not names:
                return Applied(0)
            with self._errors(f"delete `{target.collection}`"):
                pipe = self._client.pipeline(transaction=True)
                for i in range(0, len(names), CHUNK):
                    pipe.unlink(*names[i:i + CHUNK])
                return Applied(sum(int(n) for n in pipe.execute()))
        todo = self._masked(target, keys)
        if todo:
            with self._errors(f"mask `{target.collection}`"):
                pipe = self._client.pipeline(transaction=True)
                for key, sets, dels in todo:
                    if sets:
                        pipe.hset(key, mapping=sets)
                    if dels:
                        pipe.hdel(key, *dels)
                pipe.execute()
        return Applied(len(todo))

    def retrieve(self, collection: str, match: tuple[str, ...], keys: pa.Table,
                 fields: Sequence[str]) -> pa.Table:
        """Placeholder columns, `key`, `type` and `value` (JSON) of the keys that exist; a hash's
        value holds the named hash fields (all of them when none is named)."""
        self.check({collection: set(fields)})
        k, names = self._keys(collection, match, keys)
        wanted = [f for f in fields if f in self._family(collection).fields]
        with self._errors(f"retrieve `{collection}`"):
            pipe = self._client.pipeline(transaction=False)
            for key in names:
                pipe.type(key)
            types = pipe.execute()
            pipe = self._client.pipeline(transaction=False)
            for key, kind in zip(names, types, strict=True):
                _read(pipe, key, kind, wanted)
            values = iter(pipe.execute())
        rows: list[int] = []
        out: dict[str, list[Any]] = {"key": [], "type": [], "value": []}
        for i, (key, kind) in enumerate(zip(names, types, strict=True)):
            if kind == "none":
                continue
            value = next(values)
            if kind == "hash" and wanted:
                value = {f: v for f, v in zip(wanted, value, strict=True) if v is not None}
            rows.append(i)
            out["key"].append(key)
            out["type"].append(kind)
            out["value"].append(json.dumps(sorted(value) if kind == "set" else value, sort_keys=True))
        table = k.take(pa.array(rows, pa.int64())) if names else k
        for col in META:
            table = table.append_column(col, pa.array(out[col], pa.string()))
        return table

    def close(self) -> None:
        self._client.close()


def _read(pipe: Any, key: str, kind: str, fields: list[str]) -> None:
    if kind == "hash" and fields:
        pipe.hmget(key, fields)
    elif kind == "hash":
        pipe.hgetall(key)
    elif kind == "string":
        pipe.get(key)
    elif kind == "list":
        pipe.lrange(key, 0, -1)
    elif kind == "set":
        pipe.smembers(key)
    elif kind == "zset":
        pipe.zrange(key, 0, -1, withscores=True)
    elif kind != "none":
        pipe.type(key)  # streams and modules' types: report the type, not the content
