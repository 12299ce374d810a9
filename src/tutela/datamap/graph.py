"""The data map as a graph of collections, as Fides' traversal builds it (shared by
`datamap check` and the planner, so both reach the same collections).

A reference on field F of C to D.G is a link D.G -> C.F for `direction: from`, C.F -> D.G for
`to`, and one of the two for none: the one leaving the end the traversal reaches first (by
depth from the identities, then dataset order). Collections with `fides_meta.skip_processing`
are left out with every link to or from them.

Every link into a reached collection feeds it: a collection is read after all its parents,
with the values of each. Only a link that closes a real cycle (a path back to a collection
that is still waiting for it) is left out of the order, and named in `Traversal.cycles`.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from tutela.datamap.loader import DataMap


@dataclass(frozen=True)
class Link:
    parent: str
    source: str  # the parent's field
    child: str
    match: str  # the child's field matched against the source's values
    where: str  # the field whose reference this is: `collection.field`


@dataclass(frozen=True)
class Traversal:
    order: tuple[str, ...]  # every reached collection after all its parents
    inputs: dict[str, tuple[Link, ...]]  # collection -> the links that feed it (in `order`)
    cycles: tuple[Link, ...]  # links left out because they close a cycle
    unreached: tuple[str, ...]  # collections (not skipped) no path reaches
    skipped: tuple[str, ...]  # `skip_processing` collections
    missing: tuple[tuple[str, str], ...]  # (where, `dataset.collection.field`) references to nothing


def skipped(dm: DataMap) -> tuple[str, ...]:
    return tuple(c.name for c in dm.dataset.collections if c.fides_meta is not None and c.fides_meta.skip_processing)


def identity_seeds(dm: DataMap, identities: Iterable[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    """collection -> (identity, field) for every identity field (of `identities`, default all)."""
    wanted = None if identities is None else set(identities)
    skip = set(skipped(dm))
    out: dict[str, list[tuple[str, str]]] = {}
    for c in dm.dataset.collections:
        for f in c.fields:
            ident = f.fides_meta.identity if f.fides_meta else None
            if ident and c.name not in skip and (wanted is None or ident in wanted):
                out.setdefault(c.name, []).append((ident, f.name))
    return out


def traverse(dm: DataMap, seeds: Iterable[str]) -> Traversal:
    """The traversal from the `seeds` collections (those holding the request's identities)."""
    ds = dm.dataset
    index = {c.name: i for i, c in enumerate(ds.collections)}
    skip = set(skipped(dm))
    fields = {c.name: {f.name for f in c.fields} for c in ds.collections}
    directed: list[Link] = []
    undirected: list[tuple[Link, Link]] = []
    missing: list[tuple[str, str]] = []
    for c in ds.collections:
        for f in c.fields:
            for ref in f.fides_meta.references if f.fides_meta else ():
                if ref.dataset != ds.fides_key:
                    continue  # another dataset: planned with that dataset
                other, _, ofield = ref.field.partition(".")
                where = f"{c.name}.{f.name}"
                if other not in fields or ofield not in fields[other]:
                    missing.append((where, f"{ref.dataset}.{ref.field}"))
                    continue
                if c.name in skip or other in skip:
                    continue
                into = Link(other, ofield, c.name, f.name, where)  # D.G -> C.F
                out = Link(c.name, f.name, other, ofield, where)  # C.F -> D.G
                if ref.direction == "from":
                    directed.append(into)
                elif ref.direction == "to":
                    directed.append(out)
                else:
                    undirected.append((into, out))
    start = [s for s in dict.fromkeys(seeds) if s in index and s not in skip]
    depth = _depths(start, directed + [x for pair in undirected for x in pair])
    links = [ln for ln in directed if ln.parent in depth and ln.child in depth]
    for a, b in undirected:
        if a.parent in depth and a.child in depth:
            links.append(min((a, b), key=lambda ln: (depth[ln.parent], index[ln.parent])))
    order, cycles = _order(links, depth, index)
    placed = set(order)
    inputs = {name: tuple(ln for ln in links if ln.child == name and ln not in cycles) for name in order}
    assert all(ln.parent in placed for feed in inputs.values() for ln in feed)
    unreached = tuple(c.name for c in ds.collections if c.name not in depth and c.name not in skip)
    return Traversal(tuple(order), inputs, tuple(cycles), unreached, tuple(sorted(skip, key=index.__getitem__)),
                     tuple(missing))


def _depths(start: list[str], links: list[Link]) -> dict[str, int]:
    out = {s: 0 for s in start}
    queue = deque(start)
    while queue:
        name = queue.popleft()
        for ln in links:
            if ln.parent == name and ln.child not in out:
                out[ln.child] = out[name] + 1
                queue.append(ln.child)
    return out


def _order(links: list[Link], depth: dict[str, int], index: dict[str, int]) -> tuple[list[str], list[Link]]:
    """Kahn's order over `links`, shallowest and earliest first. When every waiting collection
    waits on another, some of them wait on each other (a cycle): in a group that waits on
    nothing outside itself, the shallowest collection is read first and its links from
    inside the group are the cycle's closing links."""
    waiting = {name: {ln for ln in links if ln.child == name} for name in depth}
    ready = [(depth[n], index[n], n) for n, w in waiting.items() if not w]
    heapq.heapify(ready)
    order: list[str] = []
    cycles: list[Link] = []
    done: set[str] = set()
    while len(done) < len(depth):
        if not ready:
            name = _cycle_entry(waiting, done, depth, index)
            cycles.extend(sorted(waiting[name], key=lambda ln: ln.where))
            waiting[name] = set()
            heapq.heappush(ready, (depth[name], index[name], name))
        _d, _i, name = heapq.heappop(ready)
        if name in done:
            continue
        done.add(name)
        order.append(name)
        for ln in links:
            if ln.parent == name and ln.child not in done and ln in waiting[ln.child]:
                waiting[ln.child].discard(ln)
                if not waiting[ln.child]:
                    heapq.heappush(ready, (depth[ln.child], index[ln.child], ln.child))
    return order, cycles


def _cycle_entry(waiting: dict[str, set[Link]], done: set[str], depth: dict[str, int], index: dict[str, int]) -> str:
    """The shallowest collection of a cycle group that waits on nothing outside the group."""
    rest = [n for n in waiting if n not in done]
    reach = {n: _reaching(n, waiting, done) for n in rest}  # who n waits on, directly or not
    best: tuple[int, int, str] | None = None
    for n in rest:
        group = {m for m in reach[n] if n in reach[m]} | {n}
        closed = all(ln.parent in group for m in group for ln in waiting[m])
        if n in reach[n] and closed and (best is None or (depth[n], index[n]) < best[:2]):
            best = (depth[n], index[n], n)
    assert best is not None  # a finite graph where everything waits has a closed cycle group
    return best[2]


def _reaching(name: str, waiting: dict[str, set[Link]], done: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = [ln.parent for ln in waiting[name]]
    while stack:
        n = stack.pop()
        if n not in seen and n not in done:
            seen.add(n)
            stack.extend(ln.parent for ln in waiting[n])
    return seen
