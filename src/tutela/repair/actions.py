"""What repairs each denied row: delete, minimise or stop the act (data: `remediation.yaml`).

Turns the rows derived from the audit (`tutela.audit.breaches`) into a job's steps: one
step per (store, collection, action, masks), keys in Arrow. Each key row carries its subject
and rules (`SID`, `RULES`), so a receipt says per subject what was changed, checked and failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutela.datamap import DataMap
from tutela.errors import InputError, validation_message
from tutela.repair.jobs import RULES, SID, JobPlan, Step

RepairKind = Literal["delete", "minimise", "stop_act"]


class Repair(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    categories: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    repair: RepairKind
    why: str = Field(min_length=1)

    def matches(self, category: str, use: str) -> bool:
        return (not self.categories or any(_covers(k, category) for k in self.categories)) and (
            not self.uses or any(_covers(k, use) for k in self.uses))


class RepairFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    repairs: tuple[Repair, ...] = Field(min_length=1)


def _covers(key: str, value: str) -> bool:
    return value == key or value.startswith(key + ".")


@cache
def repairs() -> tuple[Repair, ...]:
    """The packaged repairs (`tutela/data/remediation.yaml`)."""
    return load_repairs()


def load_repairs(path: Path | None = None) -> tuple[Repair, ...]:
    """The repairs in `path` (default: the packaged file); errors name the file and the field."""
    where = "remediation.yaml" if path is None else str(path)
    try:
        text = (resources.files("tutela.data").joinpath("remediation.yaml") if path is None else path).read_text(
            "utf-8")
        raw = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the repairs file: {exc.__class__.__name__}", where=where) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", where=where) from None
    try:
        parsed = RepairFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(validation_message(err), where=f"{where}: " + ".".join(map(str, err["loc"]))) from None
    if parsed.repairs[-1].categories or parsed.repairs[-1].uses:
        raise InputError("the last repair must match everything (no categories, no uses)", where=where)
    return parsed.repairs


@dataclass(frozen=True)
class Action:
    action: str  # delete | mask
    masks: tuple[tuple[str, str, str | None], ...]  # (field, strategy, rewrite value)

    def mask_dict(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for f, strategy, value in self.masks:
            out[f] = {"strategy": strategy, "configuration": {"rewrite_value": value} if value is not None else {}}
        return out


def action_for(dm: DataMap, collection: str, pairs: str) -> Action:
    """The repair of one row from its denied `category|use` pairs."""
    assert dm.tutela is not None
    decl = dm.tutela.collections[collection]
    cats = dm.categories(collection)
    minimised: set[str] = set()
    stops: dict[str, str] = {}
    for pair in pairs.split(","):
        category, use = pair.split("|", 1)
        kind = next(r.repair for r in repairs() if r.matches(category, use))
        if kind == "delete":
            return Action("delete", ())
        if kind == "minimise":
            minimised.add(category)
            continue
        act = next((a for a in decl.acts if a.use == use and a.where is not None), None)
        stop = act.where.stop if act and act.where else None
        if act is None or act.where is None or stop is None:
            return Action("delete", ())  # the act cannot be switched off for this row: erase it
        stops[act.where.field] = stop
    all_cats = {c for cs in cats.values() for c in cs}
    if minimised and all_cats <= minimised:
        return Action("delete", ())
    masks: dict[str, tuple[str, str | None]] = {f: ("null_rewrite", None) for f, cs in cats.items()
                                                  if set(cs) & minimised}
    masks.update({f: ("string_rewrite", v) for f, v in stops.items()})
    return Action("mask", tuple(sorted((f, s, v) for f, (s, v) in masks.items())))


def steps_for(dm: DataMap, collection: str, rows: pa.Table, pk: tuple[str, ...],
              files: tuple[str, str] | None = None) -> tuple[list[Step], list[pa.Table]]:
    """Steps and their keys (tagged with subject and rules) for one collection's derived rows.

    `files` = (files store name, the collection's field holding a file path) when the
    collection's files live in a media folder: deleted rows lose their files, rows whose
    location is nulled get their files' location metadata stripped.
    """
    enc = pc.dictionary_encode(rows["pairs"]).combine_chunks()
    actions = [action_for(dm, collection, p) for p in enc.dictionary.to_pylist()]
    sigs = sorted(set(actions), key=lambda a: (a.action, a.masks))
    sig_of = pa.array([sigs.index(a) for a in actions], pa.int32())
    idx = pc.take(sig_of, enc.indices)
    steps: list[Step] = []
    keys: list[pa.Table] = []
    for i, a in enumerate(sigs):
        sel = rows.filter(pc.equal(idx, i))
        rules = sorted({r for v in pc.unique(sel["rules"]).to_pylist() for r in v.split(",")})
        steps.append(Step("estate", collection, pk, a.action, a.mask_dict(), rules, sel.num_rows))
        keys.append(tagged(sel, pk))
        if files is not None:
            store, field = files
            paths = sel.filter(pc.is_valid(sel[field]))
            located = any(m[1] == "null_rewrite" and _locational(dm, collection, m[0]) for m in a.masks)
            if a.action == "delete" or located:
                action = "delete" if a.action == "delete" else "mask"
                masks = {} if action == "delete" else {field: {"strategy": "strip_location", "configuration": {}}}
                steps.append(Step(store, collection, (field,), action, masks, rules, paths.num_rows))
                keys.append(tagged(paths, (field,)))
    return steps, keys


def tagged(rows: pa.Table, match: tuple[str, ...], sid: str = "sid", rules: str = "rules") -> pa.Table:
    """The match columns of `rows`, with each row's subject and comma-joined rules beside them."""
    out = rows.select(list(match))
    return out.append_column(SID, rows[sid].cast(pa.int64())).append_column(
        RULES, pc.dictionary_encode(rows[rules]).cast(pa.dictionary(pa.int32(), pa.string())))


def _locational(dm: DataMap, collection: str, field: str) -> bool:
    return any(_covers("user.location", c) for c in dm.categories(collection).get(field, ()))


def subject_keys_steps(stores: dict[str, tuple[str, tuple[str, ...]]], sids: pa.Array,
                       rules: list[str]) -> tuple[list[Step], list[pa.Table]]:
    """An erased account's keys in key-value stores: {store.family: (store, placeholders)}."""
    steps, keys = [], []
    for family, (store, names) in sorted(stores.items()):
        if len(names) != 1:
            continue  # a family keyed by more than the subject is erased by its own rows' plan
        steps.append(Step(store, family, names, "delete", {}, rules, len(sids)))
        joined = pa.array([",".join(rules)] * len(sids), pa.string())
        keys.append(tagged(pa.table({names[0]: sids, "sid": sids, "rules": joined}), names))
    return steps, keys


def transfer_step(collection: str, rows: pa.Table) -> tuple[Step, pa.Table, pa.Table]:
    """Past transfers: never deleted; settled (route blocked, recipient asked to erase)."""
    rules = sorted({r for v in pc.unique(rows["rules"]).to_pylist() for r in v.split(",")})
    step = Step("registry", collection, ("transfer",), "settle", {}, rules, rows.num_rows)
    first_rule = pa.array([v.split(",")[0] for v in rows["rules"].to_pylist()], pa.string())
    settle = pa.table({"transfer": rows["transfer"].cast(pa.string()), "sid": rows["sid"],
                       "recipient": rows["processor"], "source": rows["source"], "rule": first_rule})
    return step, tagged(rows, ("transfer",)), settle


def assemble(parts: list[tuple[list[Step], list[pa.Table]]], settle: pa.Table | None) -> JobPlan:
    steps = [s for p in parts for s in p[0]]
    keys = [k for p in parts for k in p[1]]
    empty_settle = pa.schema([("transfer", pa.string()), ("sid", pa.int64()), ("recipient", pa.string()),
                              ("source", pa.string()), ("rule", pa.string())]).empty_table()
    return JobPlan(steps, keys, settle.cast(empty_settle.schema) if settle is not None else empty_settle)
