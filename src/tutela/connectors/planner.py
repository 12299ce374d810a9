"""Planning a subject's request over the data map as a graph, as Fides does (docs/repair.md).

Start at the identity fields, follow `references` to every collection: a reference on field
F of C to D.G is an edge D.G -> C.F when its direction is `from`, C.F -> D.G when `to`, and
both when it has none. Each reached collection gets its inputs (the parent fields whose
values it is matched on); collections no path reaches are reported, never skipped quietly.
Declared stores hang off the dataset: a Redis key family off the subjects collection (its
template's placeholders), a file set off the collection whose field holds the paths.

`resolve` runs the access phase set-based (one `retrieve` per parent and input) so every
node's keys are known before anything is erased; `erasure_targets` lists what to do per
node, children before parents, so a job stopped half-way can resolve its keys again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from tutela.connectors.base import Connector, Target, prepare_keys
from tutela.connectors.redis import placeholders
from tutela.connectors.strategies import Strategy, parse_strategy, require_field_strategy
from tutela.datamap.loader import DataMap
from tutela.datamap.models import FidesField, FilesStoreDecl, MaskingOverride, MaskSpec, RedisStoreDecl, StoreDecl
from tutela.errors import InputError

ESTATE = "estate"  # the store holding the Fides dataset's collections
ERASABLE = ("user",)  # categories whose fields an erasure masks (never system.*)
NULL = Strategy(strategy="null_rewrite")
Keys = dict[tuple[str, tuple[str, ...]], pa.Table]  # (node id, match) -> keys


@dataclass(frozen=True)
class Edge:
    parent: str | None  # node whose rows give the values; None: the request's identity
    source: tuple[str, ...]  # the parent's fields (or the identity's name)
    match: tuple[str, ...]  # this node's fields matched against those values


@dataclass(frozen=True)
class Node:
    id: str  # the collection's name, or `<store>.<collection>` for a declared store's
    store: str
    collection: str
    inputs: tuple[Edge, ...]


@dataclass(frozen=True)
class Erasure:
    node: str
    store: str
    target: Target


@dataclass(frozen=True)
class Plan:
    dataset: str
    identities: tuple[str, ...]
    nodes: tuple[Node, ...]  # every input's parent comes before the node
    unreachable: tuple[str, ...]  # collections (or store nodes) no reference path reaches
    skipped: tuple[str, ...] = ()  # store nodes left out because their store was not asked for
    _index: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def node(self, node_id: str) -> Node:
        if not self._index:
            self._index.update({n.id: n for n in self.nodes})
        if node_id not in self._index:
            raise InputError(f"`{node_id}` is not in the plan", where=f"dataset `{self.dataset}`")
        return self._index[node_id]

    def to_dict(self) -> dict[str, object]:
        return {"dataset": self.dataset, "identities": list(self.identities), "unreachable": list(self.unreachable),
                "skipped": list(self.skipped),
                "nodes": [{"id": n.id, "store": n.store, "collection": n.collection,
                           "inputs": [{"from": e.parent or "identity", "source": list(e.source),
                                       "match": list(e.match)} for e in n.inputs]} for n in self.nodes]}


def plan(dm: DataMap, identities: Iterable[str] | None = None, stores: Iterable[str] | None = None) -> Plan:
    """The traversal from `identities` (default: every identity the dataset declares) to every
    collection, plus the declared stores named in `stores` (default: all of them)."""
    ds = dm.dataset
    fields = {c.name: {f.name: f for f in c.fields} for c in ds.collections}
    declared = sorted({f.fides_meta.identity for c in ds.collections for f in c.fields
                       if f.fides_meta and f.fides_meta.identity})
    wanted = tuple(declared if identities is None else identities)
    unknown = sorted(set(wanted) - set(declared))
    if unknown:
        raise InputError(f"identity `{unknown[0]}` is not declared in the data map", where=dm.source,
                         hint=f"declared: {', '.join(declared) or 'none'}")
    seeds: dict[str, list[Edge]] = {}
    for c in ds.collections:
        for f in c.fields:
            if f.fides_meta and f.fides_meta.identity in wanted:
                seeds.setdefault(c.name, []).append(Edge(None, (f.fides_meta.identity,), (f.name,)))
    graph = _edges(dm, fields)
    order: list[str] = list(seeds)
    queue = deque(order)
    while queue:
        for child, _edge in graph.get(queue.popleft(), []):
            if child not in order:
                order.append(child)
                queue.append(child)
    rank = {name: i for i, name in enumerate(order)}
    nodes = [Node(name, ESTATE, name, tuple(seeds.get(name, [])) + tuple(
        e for p in order[:rank[name]] for child, e in graph.get(p, []) if child == name)) for name in order]
    unreachable = [c.name for c in ds.collections if c.name not in rank]
    skipped: list[str] = []
    take = None if stores is None else set(stores)
    for store, decl in (dm.tutela.stores.items() if dm.tutela else ()):
        for name, node in _store_nodes(dm, store, decl):
            parent = node.inputs[0].parent
            if take is not None and store not in take:
                skipped.append(name)
            elif parent in rank:
                nodes.append(node)
            else:
                unreachable.append(name)
    return Plan(ds.fides_key, wanted, tuple(nodes), tuple(unreachable), tuple(skipped))


def _edges(dm: DataMap, fields: dict[str, dict[str, FidesField]]) -> dict[str, list[tuple[str, Edge]]]:
    """parent collection -> (child collection, edge) for every reference inside the dataset."""
    out: dict[str, list[tuple[str, Edge]]] = {}
    for cname, cfields in fields.items():
        for fname, f in cfields.items():
            for ref in f.fides_meta.references if f.fides_meta else ():
                if ref.dataset != dm.dataset.fides_key:
                    continue  # another dataset: planned with that dataset
                other, _, ofield = ref.field.partition(".")
                if other not in fields or ofield not in fields[other]:
                    raise InputError(f"reference to missing field `{ref.dataset}.{ref.field}`",
                                     where=f"{dm.source}: {cname}.{fname}")
                if ref.direction in (None, "from"):
                    out.setdefault(other, []).append((cname, Edge(other, (ofield,), (fname,))))
                if ref.direction in (None, "to"):
                    out.setdefault(cname, []).append((other, Edge(cname, (fname,), (ofield,))))
    return out


def _store_nodes(dm: DataMap, store: str, decl: StoreDecl) -> list[tuple[str, Node]]:
    assert dm.tutela is not None
    out = []
    if isinstance(decl, FilesStoreDecl):
        for cname, files in decl.collections.items():
            edge = Edge(cname, (files.field,), (files.field,))
            out.append((f"{store}.{cname}", Node(f"{store}.{cname}", store, cname, (edge,))))
        return out
    subjects = dm.tutela.subjects.collection
    for fname, fam in decl.collections.items():
        names = placeholders(fam.key, f"{dm.source}: tutela.stores.{store}.collections.{fname}.key")
        out.append((f"{store}.{fname}", Node(f"{store}.{fname}", store, fname, (Edge(subjects, names, names),))))
    return out


# -- erasure -------------------------------------------------------------------------------

def erasure_targets(p: Plan, dm: DataMap, *, delete_rows: bool = False) -> list[Erasure]:
    """What an erasure does per node, children before parents.

    `delete_rows` (a Tutela account erasure): every reached collection holding personal data
    loses the subject's rows, keys and files. Otherwise Fides' rules: a collection whose
    `fides_meta.masking_strategy_override` is `delete` loses its rows; else every erasable
    field (personal categories; not a primary key, identity, reference, referenced or
    read-only field) is masked with its `masking_strategy_override` or `null_rewrite`.
    """
    plans: dict[str, tuple[str, dict[str, Strategy]] | None] = {}
    out: list[Erasure] = []
    for node in reversed(p.nodes):
        if node.store == ESTATE:
            plans[node.id] = _collection_action(dm, node.collection, delete_rows)
    for node in reversed(p.nodes):
        if node.store == ESTATE:
            action = plans[node.id]
        elif node.inputs[0].parent is not None and _is_files(dm, node.store):
            owner = plans.get(node.inputs[0].parent)
            path = node.inputs[0].source[0]
            erased = owner is not None and (owner[0] == "delete" or path in owner[1])
            action = ("delete", {}) if delete_rows or erased else None
        else:
            action = _family_action(dm, node, delete_rows)
        if action is None:
            continue
        kind, masks = action
        for edge in node.inputs:
            out.append(Erasure(node.id, node.store, Target(node.collection, edge.match, "delete" if kind == "delete"
                                                          else "mask", masks if kind == "mask" else {})))
    return out


def _is_files(dm: DataMap, store: str) -> bool:
    return dm.tutela is not None and isinstance(dm.tutela.stores.get(store), FilesStoreDecl)


def _personal(categories: Iterable[str]) -> bool:
    return any(c == p or c.startswith(p + ".") for c in categories for p in ERASABLE)


def _strategy(spec: MaskingOverride | MaskSpec, where: str) -> Strategy | None:
    """The field strategy an override names; None for `preserve` (the field is kept)."""
    s = parse_strategy({"strategy": spec.strategy, "configuration": spec.configuration}, where)
    if s.strategy == "preserve":
        return None
    require_field_strategy(s, where)
    return s


def _delete_only(spec: MaskingOverride | MaskSpec, where: str) -> tuple[str, dict[str, Strategy]]:
    s = parse_strategy({"strategy": spec.strategy, "configuration": spec.configuration}, where)
    if s.strategy != "delete":
        raise InputError(f"a collection-level override must be `delete`, not `{s}`", where=where)
    return "delete", {}


def _collection_action(dm: DataMap, name: str, delete_rows: bool) -> tuple[str, dict[str, Strategy]] | None:
    coll = dm.collection(name)
    where = f"{dm.source}: {name}"
    personal = _personal(coll.data_categories) or any(_personal(f.data_categories) for f in coll.fields)
    if delete_rows:
        return ("delete", {}) if personal else None
    override = coll.fides_meta.masking_strategy_override if coll.fides_meta else None
    if override is not None:
        return _delete_only(override, f"{where}: fides_meta.masking_strategy_override")
    referenced = _referenced(dm)
    masks: dict[str, Strategy] = {}
    for f in coll.fields:
        meta = f.fides_meta
        if meta and (meta.primary_key or meta.identity or meta.references or meta.read_only):
            continue
        if (name, f.name) in referenced or not _personal(f.data_categories):
            continue
        fwhere = f"{where}.{f.name}: fides_meta.masking_strategy_override"
        s = _strategy(meta.masking_strategy_override, fwhere) if meta and meta.masking_strategy_override else NULL
        if s is not None:
            masks[f.name] = s
    return ("mask", masks) if masks else None


def _referenced(dm: DataMap) -> set[tuple[str, str]]:
    out = set()
    for c in dm.dataset.collections:
        for f in c.fields:
            for ref in f.fides_meta.references if f.fides_meta else ():
                if ref.dataset == dm.dataset.fides_key:
                    out.add(tuple(ref.field.split(".", 1)))
    return {(a, b) for a, b in out}


def _family_action(dm: DataMap, node: Node, delete_rows: bool) -> tuple[str, dict[str, Strategy]] | None:
    assert dm.tutela is not None
    decl = dm.tutela.stores[node.store]
    assert isinstance(decl, RedisStoreDecl)
    fam = decl.collections[node.collection]
    where = f"{dm.source}: tutela.stores.{node.store}.collections.{node.collection}"
    if fam.masking_strategy_override is not None:
        return _delete_only(fam.masking_strategy_override, f"{where}.masking_strategy_override")
    if not (_personal(fam.data_categories) or any(_personal(f.data_categories) for f in fam.fields.values())):
        return None
    if delete_rows or fam.type != "hash":
        return "delete", {}  # a string, list or set cannot be masked field by field
    masks = {}
    for name, hf in fam.fields.items():
        if not _personal(hf.data_categories):
            continue
        spec = hf.masking_strategy_override
        s = _strategy(spec, f"{where}.fields.{name}.masking_strategy_override") if spec else NULL
        if s is not None:
            masks[name] = s
    return ("mask", masks) if masks else None


# -- running the access phase --------------------------------------------------------------

def needs(p: Plan, erasures: Iterable[Erasure] = ()) -> dict[str, dict[str, set[str]]]:
    """store -> collection -> fields that resolving the plan and running `erasures` touch, for
    each connector's `check` before anything is written."""
    out: dict[str, dict[str, set[str]]] = {}
    for node in p.nodes:
        for e in node.inputs:
            out.setdefault(node.store, {}).setdefault(node.collection, set()).update(e.match)
            if e.parent is not None:
                parent = p.node(e.parent)
                out.setdefault(parent.store, {}).setdefault(parent.collection, set()).update(e.source)
    for er in erasures:
        out.setdefault(er.store, {}).setdefault(er.target.collection, set()).update(er.target.fields())
    return out


def resolve(p: Plan, identity: pa.Table, stores: Mapping[str, Connector]) -> Keys:
    """Every node's keys for the subjects in `identity` (columns named by identity), found
    with one `retrieve` per parent input: the access phase, before any erasure."""
    keys: Keys = {}
    fetched: dict[tuple[str, tuple[str, ...]], pa.Table] = {}
    for node in p.nodes:
        if node.store not in stores:
            raise InputError(f"no connector for store `{node.store}`", where=f"dataset `{p.dataset}`",
                             hint="open it, or plan without it (`stores=`)")
        for e in node.inputs:
            if e.parent is None:
                if e.source[0] not in identity.column_names:
                    continue  # this identity is not part of the request
                values = identity.select(list(e.source))
            else:
                if (e.parent, e.source) not in fetched:
                    parent = p.node(e.parent)
                    parts = [stores[parent.store].retrieve(parent.collection, pe.match, keys[(parent.id, pe.match)],
                                                           list(e.source))
                             for pe in parent.inputs if (parent.id, pe.match) in keys]
                    fetched[(e.parent, e.source)] = pa.concat_tables(parts) if parts else pa.table(
                        {s: pa.array([], pa.null()) for s in e.source})
                values = fetched[(e.parent, e.source)]
            values = values.rename_columns(list(e.match))
            if (node.id, e.match) in keys:
                values = pa.concat_tables([keys[(node.id, e.match)], values], promote_options="permissive")
            keys[(node.id, e.match)] = prepare_keys(values, e.match, node.id)
    return keys
