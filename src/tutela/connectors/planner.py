"""Planning a subject's request over the data map as a graph, as Fides does (docs/repair.md).

Start at the identity fields, follow `references` to every collection (the traversal is
`tutela.datamap.graph`, shared with `datamap check`). Each reached collection gets an input
for every reference path into it (the parent fields whose values it is matched on) and
comes after all its parents; only a link closing a real cycle is left out (`Plan.cycles`).
Collections no path reaches are reported, never skipped quietly; `skip_processing` ones are
listed as such and never read or erased.
Declared stores hang off the dataset: a Redis key family off the subjects collection (its
template's placeholders), a file set off the collection whose field holds the paths.

`resolve` runs the access phase set-based (one `retrieve` per parent and input) so every
node's keys are known before anything is erased; `erasure_targets` lists what to do per
node, children before parents, so a job stopped half-way can resolve its keys again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from tutela.connectors.base import Connector, Target, prepare_keys
from tutela.connectors.redis import placeholders
from tutela.connectors.strategies import Strategy, parse_strategy, require_field_strategy
from tutela.datamap.erasure import ErasurePolicy, MaskingStrategySpec
from tutela.datamap.graph import identity_seeds, traverse
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
    skip_processing: tuple[str, ...] = ()  # collections (and their store nodes) marked `skip_processing`
    cycles: tuple[str, ...] = ()  # links left out because they close a cycle: `parent.f -> child.g`
    _index: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def node(self, node_id: str) -> Node:
        if not self._index:
            self._index.update({n.id: n for n in self.nodes})
        if node_id not in self._index:
            raise InputError(f"`{node_id}` is not in the plan", where=f"dataset `{self.dataset}`")
        return self._index[node_id]

    def to_dict(self) -> dict[str, object]:
        return {"dataset": self.dataset, "identities": list(self.identities), "unreachable": list(self.unreachable),
                "skipped": list(self.skipped), "skip_processing": list(self.skip_processing),
                "cycles": list(self.cycles),
                "nodes": [{"id": n.id, "store": n.store, "collection": n.collection,
                           "inputs": [{"from": e.parent or "identity", "source": list(e.source),
                                       "match": list(e.match)} for e in n.inputs]} for n in self.nodes]}


def plan(dm: DataMap, identities: Iterable[str] | None = None, stores: Iterable[str] | None = None) -> Plan:
    """The traversal from `identities` (default: every identity the dataset declares) to every
    collection, plus the declared stores named in `stores` (default: all of them)."""
    ds = dm.dataset
    declared = sorted({f.fides_meta.identity for c in ds.collections for f in c.fields
                       if f.fides_meta and f.fides_meta.identity})
    wanted = tuple(declared if identities is None else identities)
    unknown = sorted(set(wanted) - set(declared))
    if unknown:
        raise InputError(f"identity `{unknown[0]}` is not declared in the data map", where=dm.source,
                         hint=f"declared: {', '.join(declared) or 'none'}")
    seeds = identity_seeds(dm, wanted)
    t = traverse(dm, seeds)
    if t.missing:
        where, ref = t.missing[0]
        raise InputError(f"reference to missing field `{ref}`", where=f"{dm.source}: {where}")
    nodes = [Node(name, ESTATE, name, tuple(Edge(None, (ident,), (fname,)) for ident, fname in seeds.get(name, []))
                  + tuple(Edge(ln.parent, (ln.source,), (ln.match,)) for ln in t.inputs[name])) for name in t.order]
    placed = set(t.order)
    unreachable = list(t.unreached)
    skipped: list[str] = []
    skip_processing = list(t.skipped)
    take = None if stores is None else set(stores)
    for store, decl in (dm.tutela.stores.items() if dm.tutela else ()):
        for name, node in _store_nodes(dm, store, decl):
            parent = node.inputs[0].parent
            if parent in t.skipped:
                skip_processing.append(name)
            elif take is not None and store not in take:
                skipped.append(name)
            elif parent in placed:
                nodes.append(node)
            else:
                unreachable.append(name)
    return Plan(ds.fides_key, wanted, tuple(nodes), tuple(unreachable), tuple(skipped), tuple(skip_processing),
                tuple(f"{ln.parent}.{ln.source} -> {ln.child}.{ln.match}" for ln in t.cycles))


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

def erasure_targets(p: Plan, dm: DataMap, *, delete_rows: bool = False,
                    policy: ErasurePolicy | None = None) -> list[Erasure]:
    """What an erasure does per node, children before parents, identity fields last.

    `delete_rows` (a Tutela account erasure): every reached collection holding personal data
    loses the subject's rows, keys and files. `policy` (a Fides erasure policy): the fields
    whose categories a rule covers are masked with their own override or the rule's strategy
    (primary keys and `read_only` fields never); identity fields too, but in targets after all
    others, so a run stopped half-way still finds the subject. Otherwise the data map's rules:
    a collection whose `masking_strategy_override` is `delete` loses its rows; else every
    erasable field (personal categories; not a primary key, identity, reference, referenced or
    read-only field) is masked with its override or `null_rewrite`. Each node gets one target
    per distinct match (two paths into one collection on the same field erase once).
    """
    if delete_rows and policy is not None:
        raise InputError("an account erasure deletes every row; a policy is for a `data` erasure", where="policy")
    plans: dict[str, Action | None] = {}
    out: list[Erasure] = []
    last: list[Erasure] = []
    for node in reversed(p.nodes):
        if node.store == ESTATE:
            plans[node.id] = _collection_action(dm, node.collection, delete_rows, policy)
    for node in reversed(p.nodes):
        if node.store == ESTATE:
            action = plans[node.id]
        elif node.inputs[0].parent is not None and _is_files(dm, node.store):
            owner = plans.get(node.inputs[0].parent)
            path = node.inputs[0].source[0]
            erased = owner is not None and (owner.kind == "delete" or path in owner.masks or path in owner.last)
            action = Action("delete") if delete_rows or erased else None
        else:
            action = _family_action(dm, node, delete_rows, policy)
        if action is None:
            continue
        for match in dict.fromkeys(e.match for e in node.inputs):
            if action.kind == "delete":
                out.append(Erasure(node.id, node.store, Target(node.collection, match, "delete")))
                continue
            if action.masks:
                out.append(Erasure(node.id, node.store, Target(node.collection, match, "mask", action.masks)))
            if action.last:
                last.append(Erasure(node.id, node.store, Target(node.collection, match, "mask", action.last)))
    return out + last


@dataclass(frozen=True)
class Action:
    kind: Literal["delete", "mask"]
    masks: dict[str, Strategy] = field(default_factory=dict)
    last: dict[str, Strategy] = field(default_factory=dict)  # identity fields, masked after the rest


def _is_files(dm: DataMap, store: str) -> bool:
    return dm.tutela is not None and isinstance(dm.tutela.stores.get(store), FilesStoreDecl)


def _personal(categories: Iterable[str]) -> bool:
    return any(c == p or c.startswith(p + ".") for c in categories for p in ERASABLE)


def categories_of(f: FidesField) -> tuple[str, ...]:
    """A field's categories with its nested fields' (a column holding a document is erased whole)."""
    return tuple(dict.fromkeys([*f.data_categories, *(c for sub in f.fields for c in categories_of(sub))]))


def _strategy(spec: MaskingOverride | MaskSpec | MaskingStrategySpec, where: str) -> Strategy | None:
    """The field strategy an override names; None for `preserve` (the field is kept)."""
    s = parse_strategy({"strategy": spec.strategy, "configuration": spec.configuration}, where)
    if s.strategy == "preserve":
        return None
    require_field_strategy(s, where)
    return s


def _choose(categories: tuple[str, ...], override: MaskingOverride | MaskSpec | None, where: str,
            policy: ErasurePolicy | None) -> Strategy | None:
    """How a field with these categories is erased (None: kept): by the policy when given."""
    if policy is None:
        if not _personal(categories):
            return None
        return _strategy(override, where) if override is not None else NULL
    rule = policy.rule_for(categories)
    if rule is None:
        return None
    return _strategy(override if override is not None else rule.masking_strategy, where)


def _delete_only(spec: MaskingOverride | MaskSpec, where: str) -> Action:
    s = parse_strategy({"strategy": spec.strategy, "configuration": spec.configuration}, where)
    if s.strategy != "delete":
        raise InputError(f"a collection-level override must be `delete`, not `{s}`", where=where)
    return Action("delete")


def _collection_action(dm: DataMap, name: str, delete_rows: bool, policy: ErasurePolicy | None) -> Action | None:
    coll = dm.collection(name)
    where = f"{dm.source}: {name}"
    cats = [categories_of(f) for f in coll.fields]
    if delete_rows:
        personal = _personal(coll.data_categories) or any(_personal(c) for c in cats)
        return Action("delete") if personal else None
    override = coll.fides_meta.masking_strategy_override if coll.fides_meta else None
    if override is not None and (policy is None or any(policy.rule_for(c) for c in cats)):
        return _delete_only(override, f"{where}: fides_meta.masking_strategy_override")
    referenced = _referenced(dm)
    masks: dict[str, Strategy] = {}
    last: dict[str, Strategy] = {}
    for f, fcats in zip(coll.fields, cats, strict=True):
        meta = f.fides_meta
        if meta and (meta.primary_key or meta.read_only):
            continue
        if policy is None and ((meta and (meta.identity or meta.references)) or (name, f.name) in referenced):
            continue
        fwhere = f"{where}.{f.name}: fides_meta.masking_strategy_override"
        s = _choose(fcats, meta.masking_strategy_override if meta else None, fwhere, policy)
        longest = s.max_length() if s is not None else None
        if meta and meta.length is not None and longest is not None and longest > meta.length:
            raise InputError(f"`{s}` writes up to {longest} characters; the field's length is {meta.length}",
                             where=f"{where}.{f.name}", hint="Fides would truncate the masked value; Tutela does "
                                                             "not: choose a strategy that fits")
        if s is not None:
            (last if meta and meta.identity else masks)[f.name] = s
    return Action("mask", masks, last) if masks or last else None


def _referenced(dm: DataMap) -> set[tuple[str, str]]:
    out = set()
    for c in dm.dataset.collections:
        for f in c.fields:
            for ref in f.fides_meta.references if f.fides_meta else ():
                if ref.dataset == dm.dataset.fides_key:
                    out.add(tuple(ref.field.split(".", 1)))
    return {(a, b) for a, b in out}


def _family_action(dm: DataMap, node: Node, delete_rows: bool, policy: ErasurePolicy | None) -> Action | None:
    assert dm.tutela is not None
    decl = dm.tutela.stores[node.store]
    assert isinstance(decl, RedisStoreDecl)
    fam = decl.collections[node.collection]
    where = f"{dm.source}: tutela.stores.{node.store}.collections.{node.collection}"
    every = (*fam.data_categories, *(c for f in fam.fields.values() for c in f.data_categories))
    erased = _personal(every) if policy is None or delete_rows else policy.rule_for(every) is not None
    if fam.masking_strategy_override is not None:
        return _delete_only(fam.masking_strategy_override, f"{where}.masking_strategy_override") if erased else None
    if not erased:
        return None
    if delete_rows or fam.type != "hash":
        return Action("delete")  # a string, list or set cannot be masked field by field
    masks = {}
    for name, hf in fam.fields.items():
        spec = hf.masking_strategy_override
        s = _choose(hf.data_categories, spec, f"{where}.fields.{name}.masking_strategy_override", policy)
        if s is not None:
            masks[name] = s
    return Action("mask", masks) if masks else None


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
