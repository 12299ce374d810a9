"""Checking a data map: categories, identities, references, reachability, declarations."""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass

from tutela.datamap.graph import identity_seeds, skipped, traverse
from tutela.datamap.loader import DataMap, flatten
from tutela.datamap.masking import TEXT_ONLY, config_problem, max_text
from tutela.datamap.models import FilesStoreDecl, MaskingOverride, MaskSpec
from tutela.taxonomy import Taxonomy


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "message": self.message}


def check(dm: DataMap, tax: Taxonomy) -> list[Problem]:
    """Everything that would make a request or a remediation refuse this data map, found
    before one runs (the requests and the planner refuse the same things)."""
    out: list[Problem] = []
    ds = dm.dataset
    src = dm.source
    fields = {c.name: {name for name, _ in flatten(c.fields)} for c in ds.collections}
    for c in ds.collections:
        for key in c.data_categories:
            if key not in tax.categories:
                out.append(Problem(f"{src}: {c.name}", f"unknown data category `{key}`"))
        if c.fides_meta is not None:
            out.extend(_check_override(f"{src}: {c.name}", c.fides_meta.masking_strategy_override, field_level=False))
        for name, f in flatten(c.fields):
            where = f"{src}: {c.name}.{name}"
            for key in f.data_categories:
                if key not in tax.categories:
                    out.append(Problem(where, f"unknown data category `{key}`"))
            meta = f.fides_meta
            if meta is not None:
                out.extend(_check_override(where, meta.masking_strategy_override, field_level=True,
                                           data_type=meta.data_type, length=meta.length))
    seeds = identity_seeds(dm)
    if not seeds:
        out.append(Problem(f"{src}: {ds.fides_key}", "no identity field (fides_meta.identity) to start from"))
    t = traverse(dm, seeds)
    out.extend(Problem(f"{src}: {where}", f"reference to missing field `{ref}`") for where, ref in t.missing)
    for name in unreachable(dm, t.unreached):
        if seeds:
            out.append(Problem(f"{src}: {name}", UNREACHABLE))
    if dm.tutela is not None:
        out.extend(_check_declarations(dm, tax, fields))
    return out


UNREACHABLE = "unreachable from any identity through references"


def unreachable(dm: DataMap, names: Iterable[str]) -> list[str]:
    """The collections among `names` that hold personal data (not only `system.*`)."""
    return [n for n in names
            if any(not k.startswith("system") for _, f in flatten(dm.collection(n).fields) for k in f.data_categories)]


def notes(dm: DataMap) -> list[Problem]:
    """What is not a problem but changes what a request covers (shown by `datamap check`)."""
    src = dm.source
    out = [Problem(f"{src}: {name}", "fides_meta.skip_processing: never read or erased by a request")
           for name in skipped(dm)]
    t = traverse(dm, identity_seeds(dm))
    out.extend(Problem(f"{src}: {ln.where}", f"this reference closes a cycle, so `{ln.child}` is not read "
                                             f"with the values of `{ln.parent}.{ln.source}`") for ln in t.cycles)
    return out


def _check_declarations(dm: DataMap, tax: Taxonomy, fields: dict[str, set[str]]) -> list[Problem]:
    assert dm.tutela is not None
    t = dm.tutela
    out: list[Problem] = []

    def need(where: str, collection: str, *names: str | None) -> None:
        if collection not in fields:
            out.append(Problem(where, f"collection `{collection}` is not in the dataset"))
            return
        for n in names:
            if n is not None and n not in fields[collection]:
                out.append(Problem(where, f"field `{collection}.{n}` is not in the dataset"))

    need("tutela.subjects", t.subjects.collection, t.subjects.key, t.subjects.jurisdiction, t.subjects.birth_date)
    if t.consents:
        c = t.consents
        need("tutela.consents", c.collection, c.subject, c.scopes, c.by, c.assurance, c.granted_at,
             c.expires_at, c.revoked_at)
    for i, s in enumerate(t.age_signals):
        need(f"tutela.age_signals[{i}]", s.collection, s.subject, s.field)
    if t.transfers:
        tr, p = t.transfers, t.transfers.processors
        need("tutela.transfers", tr.collection, tr.subject, tr.processor, tr.source_collection, tr.time)
        need("tutela.transfers.processors", p.collection, p.key, p.kind, p.country, p.certified, p.scc, p.tia, p.name)
    for name, decl in t.collections.items():
        where = f"tutela.collections.{name}"
        need(where, name, decl.subject, decl.time)
        for i, act in enumerate(decl.acts):
            if act.use not in tax.uses:
                out.append(Problem(f"{where}.acts[{i}]", f"unknown data use `{act.use}`"))
            if act.where is not None:
                need(f"{where}.acts[{i}].where", name, act.where.field)
    subject_fields = fields.get(t.subjects.collection, set())
    for store, sdecl in t.stores.items():
        base = f"tutela.stores.{store}"
        if isinstance(sdecl, FilesStoreDecl):
            for name, files in sdecl.collections.items():
                need(f"{base}.collections.{name}", name, files.field)
            continue
        for name, fam in sdecl.collections.items():
            where = f"{base}.collections.{name}"
            for problem in _template_problems(fam.key, subject_fields, t.subjects.collection):
                out.append(Problem(f"{where}.key", problem))
            if fam.type != "hash" and fam.fields:
                out.append(Problem(f"{where}.fields", f"a `{fam.type}` has no fields; only a hash does"))
            out.extend(_check_override(where, fam.masking_strategy_override, field_level=False))
            cats = [(where, k) for k in fam.data_categories]
            for fname, hf in fam.fields.items():
                cats.extend((f"{where}.fields.{fname}", k) for k in hf.data_categories)
                out.extend(_check_override(f"{where}.fields.{fname}", hf.masking_strategy_override, field_level=True))
            out.extend(Problem(w, f"unknown data category `{k}`") for w, k in cats if k not in tax.categories)
    return [Problem(f"{dm.source}: {p.where}", p.message) for p in out]


STRING_TYPES = ("string", "str", "text")


def _check_override(where: str, spec: MaskingOverride | MaskSpec | None, field_level: bool,
                    data_type: str | None = None, length: int | None = None) -> list[Problem]:
    """A masking override names a strategy Tutela runs with a configuration it accepts (the
    test the planner applies); `delete` only for a whole collection; a strategy that writes
    text not on a field whose declared `data_type` is not text."""
    if spec is None:
        return []
    where = f"{where}: masking_strategy_override"
    problem = config_problem(spec.strategy, spec.configuration)
    if problem is not None:
        return [Problem(where, problem)]
    if field_level and spec.strategy in TEXT_ONLY and data_type is not None and data_type not in STRING_TYPES:
        return [Problem(where, f"`{spec.strategy}` writes text; the field's data_type is `{data_type}`")]
    longest = max_text(spec.strategy, spec.configuration)
    if field_level and length is not None and longest is not None and longest > length:
        return [Problem(where, f"`{spec.strategy}` writes up to {longest} characters; the field's length is {length}")]
    if field_level and spec.strategy == "delete":
        return [Problem(where, "`delete` is a collection-level override")]
    if not field_level and spec.strategy != "delete":
        return [Problem(where, f"a collection-level override must be `delete`, not `{spec.strategy}`")]
    return []


def _template_problems(template: str, subject_fields: set[str], subjects: str) -> list[str]:
    try:
        names = [n for _lit, n, _spec, _conv in string.Formatter().parse(template) if n is not None]
    except ValueError as exc:
        return [f"bad key template `{template}`: {exc}"]
    if not names:
        return [f"key template `{template}` has no `{{placeholder}}`"]
    return [f"placeholder `{{{n}}}` is not a field of `{subjects}`" for n in names if n not in subject_fields]
