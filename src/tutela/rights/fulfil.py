"""One subject's access and erasure across every store, through the planner (docs/rights.md).

The planner traverses the data map from the identity, as Fides does; `resolve` finds every
reached collection's keys set-based (one `retrieve` per parent). Access then reads each
collection once with all its mapped fields; erasure checks every store, lists the transfer
records (never deleted: they are evidence), and applies the planner's targets children
first, so a run stopped half-way finds the rest again when it is run once more.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tutela.connectors import ESTATE, Connector, Erasure, Plan, erasure_targets, needs, plan, resolve
from tutela.connectors.base import Applied
from tutela.connectors.planner import Node, categories_of
from tutela.datamap.erasure import ErasurePolicy
from tutela.datamap.graph import identity_seeds
from tutela.datamap.loader import DataMap
from tutela.datamap.models import FilesStoreDecl, RedisStoreDecl, StoreDecl
from tutela.errors import InputError
from tutela.policy import age_on
from tutela.rights.export import preview, rows

FILE_INFO = ("bytes", "sha256")
SKIPPED = "fides_meta.skip_processing: the data map says never to read or erase it (not searched)"
EVIDENCE = "a record of a transfer to a recipient: kept as evidence, never erased (docs/rights.md)"


@dataclass(frozen=True)
class EstateSubject:
    """The subject as the estate records them: key, jurisdiction, birth date (when declared)."""

    key: Any
    jurisdiction: str | None
    birth_date: dt.date | None

    def age_on(self, day: dt.date) -> int | None:
        return None if self.birth_date is None else age_on(self.birth_date, day)


class SubjectOps:
    """Access and erasure for one subject over the stores that are open (`estate`, files, Redis)."""

    def __init__(self, dm: DataMap, stores: Mapping[str, Connector]):
        self.dm = dm
        self.decl = dm.tutela
        self.declared: dict[str, StoreDecl] = dict(dm.tutela.stores) if dm.tutela else {}
        self.stores = dict(stores)
        self.identity, self.key_type = _identity(dm)
        self.plan: Plan = plan(dm, [self.identity], stores=list(self.stores))
        self.transfers = self.decl.transfers.collection if self.decl and self.decl.transfers else None

    # -- the subject ---------------------------------------------------------------------
    def keys(self, subject: str) -> pa.Table:
        """The request's identity as a one-row keys table, typed like the estate's key."""
        as_int = self.key_type in ("integer", "int") or (self.key_type is None and subject.isdigit())
        value: Any = int(subject) if as_int and subject.lstrip("-").isdigit() else subject
        return pa.table({self.identity: pa.array([value], pa.int64() if isinstance(value, int) else pa.string())})

    def find(self, subject: str) -> EstateSubject:
        """The subject's row, or an InputError naming `subject` when the estate has none. Without
        declared subjects: the subject exists when a collection holding the identity has it."""
        s = self.decl.subjects if self.decl else None
        if s is None:
            for node in self.plan.nodes:
                for e in node.inputs:
                    if e.parent is None and self._found(node.collection, e.match[0], subject):
                        return EstateSubject(subject, None, None)
            raise InputError(f"unknown subject `{subject}`: no collection holds `{self.identity}` = {subject}",
                             where="body.subject", hint="check the identity value and the estate")
        cols = [s.key, *(c for c in (s.jurisdiction, s.birth_date) if c)]
        found = self.stores[ESTATE].retrieve(s.collection, (s.key,), self.keys(subject).rename_columns([s.key]), cols)
        if found.num_rows == 0:
            raise InputError(f"unknown subject `{subject}`: no `{s.collection}` row with `{s.key}` = {subject}",
                             where="body.subject", hint="check the account id and the estate")
        row = found.slice(0, 1).to_pylist()[0]
        birth = row.get(s.birth_date) if s.birth_date else None
        if isinstance(birth, dt.datetime):
            birth = birth.date()
        jur = row.get(s.jurisdiction) if s.jurisdiction else None
        return EstateSubject(row[s.key], jur, birth if isinstance(birth, dt.date) else None)

    def _found(self, collection: str, field: str, subject: str) -> bool:
        keys = self.keys(subject).rename_columns([field])
        return bool(self.stores[ESTATE].retrieve(collection, (field,), keys, [field]).num_rows > 0)

    def undecided(self, who: EstateSubject, declared_age: int | None) -> list[str]:
        """What Tutela cannot decide for this subject from the data map and the request."""
        out = []
        if who.birth_date is None and declared_age is None:
            where = "declares no birth-date column" if self.decl else "has no Tutela declarations"
            out.append(f"age: the data map {where} and the request gives no age, so Tutela cannot tell whether "
                       "the subject is a child: deadlines that depend on age (COPPA's, under 13) are applied as if "
                       "the subject might be one, and no age-based flag or decision is made")
        if self.decl is None:
            out.append("consents, age signals and transfers: the data map declares none, so an erasure keeps no "
                       "transfer record as evidence and nothing is known of a parent's consent")
        return out

    # -- access ----------------------------------------------------------------------------
    def access(self, subject: str, names: Mapping[str, str]) -> dict[str, Any]:
        """Everything held about the subject, per collection, with field names and categories."""
        self._check(needs(self.plan))
        keys = resolve(self.plan, self.keys(subject), self.stores)
        collections: list[dict[str, Any]] = []
        files: list[dict[str, Any]] = []
        for node in self.plan.nodes:
            fields = self._fields(node)
            names_ = [f["name"] for f in fields]
            parts = [self.stores[node.store].retrieve(node.collection, e.match, keys[(node.id, e.match)],
                                                      self._read_fields(node, names_))
                     for e in node.inputs if (node.id, e.match) in keys]
            got = _unique(rows(pa.concat_tables(parts, promote_options="permissive"))) if parts else []
            if self._is_files(node.store):
                files.extend(self._file_rows(node, got))
                continue
            if self._is_redis(node.store):
                for r in got:
                    r["value"] = json.loads(r["value"]) if isinstance(r.get("value"), str) else r.get("value")
            collections.append({"name": node.collection if node.store == ESTATE else node.id, "store": node.store,
                                "fields": fields, "rows": got, "searched": True})
        used = {c for coll in collections for f in coll["fields"] for c in f["categories"]}
        return {"subject": subject, "dataset": self.plan.dataset, "collections": collections, "files": files,
                "rows": sum(len(c["rows"]) for c in collections),
                "categories": {c: names.get(c, c) for c in sorted(used)},
                "unreachable": list(self.plan.unreachable), "not_searched": list(self.plan.skipped),
                "skipped": [{"collection": c, "why": SKIPPED} for c in self.plan.skip_processing]}

    def _fields(self, node: Node) -> list[dict[str, Any]]:
        if node.store == ESTATE:
            return [{"name": f.name, "categories": list(categories_of(f))}
                    for f in self.dm.collection(node.collection).fields]
        decl = self.declared[node.store]
        if isinstance(decl, FilesStoreDecl):
            path = decl.collections[node.collection].field
            owner = {f.name: f for f in self.dm.collection(node.collection).fields}
            cats = list(owner[path].data_categories) if path in owner else []
            return [{"name": path, "categories": cats}, {"name": "bytes", "categories": []},
                    {"name": "sha256", "categories": []}]
        assert isinstance(decl, RedisStoreDecl)
        fam = decl.collections[node.collection]
        cats = sorted({*fam.data_categories, *(c for h in fam.fields.values() for c in h.data_categories)})
        return [{"name": m, "categories": []} for m in node.inputs[0].match] + [
            {"name": "key", "categories": []}, {"name": "type", "categories": []},
            {"name": "value", "categories": cats}]

    def _read_fields(self, node: Node, names: list[str]) -> list[str]:
        if self._is_redis(node.store):
            fam = self.declared[node.store]
            assert isinstance(fam, RedisStoreDecl)
            return list(fam.collections[node.collection].fields)  # META and placeholders come anyway
        return names

    def _file_rows(self, node: Node, got: list[dict[str, Any]]) -> list[dict[str, Any]]:
        decl = self.declared[node.store]
        assert isinstance(decl, FilesStoreDecl)
        field = decl.collections[node.collection].field
        out = []
        conn = self.stores[node.store]
        root = getattr(conn, "root", None)
        for r in got:
            item = {"collection": node.collection, "path": r[field], "bytes": r.get("bytes"), "sha256": r.get("sha256"),
                    "preview": None}
            if root is not None and item["bytes"] is not None:
                try:
                    item["preview"] = preview((root / r[field]).read_bytes(), r[field])
                except OSError:
                    item["preview"] = None
            out.append(item)
        return out

    # -- erasure ---------------------------------------------------------------------------
    def check_policy(self, policy: ErasurePolicy) -> None:
        """Fail when the request is made, not when it runs, if the policy cannot run on this data map."""
        erasure_targets(self.plan, self.dm, policy=policy)

    def erasure(self, subject: str, delete_rows: bool, policy: ErasurePolicy | None = None
                ) -> tuple[list[Erasure], pa.Table | None, dict[Any, pa.Table]]:
        """The targets (transfers left out), the transfer records kept, and every node's keys."""
        targets = [e for e in erasure_targets(self.plan, self.dm, delete_rows=delete_rows, policy=policy)
                   if not (e.store == ESTATE and e.target.collection == self.transfers)]
        self._check(needs(self.plan, targets))
        keys = resolve(self.plan, self.keys(subject), self.stores)
        kept = None
        if self.transfers is not None and self.dm.has(self.transfers):
            node = next((n for n in self.plan.nodes if n.id == self.transfers), None)
            if node is not None:
                fields = [f.name for f in self.dm.collection(self.transfers).fields]
                parts = [self.stores[ESTATE].retrieve(self.transfers, e.match, keys[(node.id, e.match)], fields)
                         for e in node.inputs if (node.id, e.match) in keys]
                kept = pa.concat_tables(parts) if parts else None
        return targets, kept, keys

    def erase(self, subject: str, delete_rows: bool, policy: ErasurePolicy | None = None) -> dict[str, Any]:
        """Apply the erasure; the rows changed per store and collection, and the transfers kept."""
        targets, kept, keys = self.erasure(subject, delete_rows, policy)
        node_of = {n.id: n for n in self.plan.nodes}
        for er in targets:  # dry-run every mask first: a strategy the store's types refuse fails before any write
            k = keys.get((er.node, er.target.match))
            if er.target.action == "mask" and k is not None and k.num_rows:
                self.stores[er.store].count(er.target, k)
        changes: list[dict[str, Any]] = []
        for er in targets:
            k = keys.get((er.node, er.target.match))
            done = Applied(0) if k is None or k.num_rows == 0 else self.stores[er.store].apply(er.target, k)
            node = node_of[er.node]
            changes.append({"store": er.store, "collection": node.collection if er.store == ESTATE else node.id,
                            "action": er.target.action, "fields": sorted(er.target.masks), "rows": done.changed,
                            "failed": [f.to_dict(er.target.match) for f in done.failed]})
        return {"changes": changes, "kept": {"collection": self.transfers, "why": EVIDENCE,
                                             "records": [] if kept is None else rows(kept)},
                "unreachable": list(self.plan.unreachable), "not_searched": list(self.plan.skipped),
                "skipped": [{"collection": c, "why": SKIPPED} for c in self.plan.skip_processing]}

    # -- helpers ---------------------------------------------------------------------------
    def _check(self, need: Mapping[str, dict[str, set[str]]]) -> None:
        """Every store, collection and field the run touches exists: before anything is read or written."""
        for store, cols in need.items():
            self.stores[store].check(cols)

    def _is_files(self, store: str) -> bool:
        return isinstance(self.declared.get(store), FilesStoreDecl)

    def _is_redis(self, store: str) -> bool:
        return isinstance(self.declared.get(store), RedisStoreDecl)


def _identity(dm: DataMap) -> tuple[str, str | None]:
    """The identity a request's subject is (and its declared data type): the declared subjects'
    key, or the one identity a plain Fides dataset declares."""
    if dm.tutela is not None:
        subjects = dm.collection(dm.tutela.subjects.collection)
        key = dm.tutela.subjects.key
        f = next((f for f in subjects.fields if f.name == key), None)
        if f is None or f.fides_meta is None or not f.fides_meta.identity:
            raise InputError(f"`{subjects.name}.{key}` is not an identity in the data map",
                             where=dm.source, hint="mark it `fides_meta: {identity: ...}`")
        return f.fides_meta.identity, f.fides_meta.data_type
    seeds = identity_seeds(dm)
    found = sorted({ident for pairs in seeds.values() for ident, _f in pairs})
    if len(found) != 1:
        raise InputError(f"the data map declares {len(found)} identities ({', '.join(found) or 'none'}); "
                         "a request's subject must be one", where=dm.source,
                         hint="declare `tutela.subjects` in a `<name>.tutela.yml` beside the dataset")
    ident = found[0]
    types = [f.fides_meta.data_type for c, pairs in seeds.items() for _i, name in pairs
             for f in dm.collection(c).fields if f.name == name and f.fides_meta]
    return ident, next((t for t in types if t), None)


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows reached along two paths once (order kept)."""
    seen: set[str] = set()
    out = []
    for r in items:
        sig = json.dumps(r, sort_keys=True, default=str)
        if sig not in seen:
            seen.add(sig)
            out.append(r)
    return out

