"""The recipient registry: from a YAML file or from an estate's processors table, one shape.

    reg = load_registry(Path("recipients.yml"))                   # validated YAML
    reg = registry_from_processors(arrow_table, decl, where)      # the estate's processors table
    reg.get("bengaluru-ts")                                       # by id or by name

The audit and the guards read transfers from a `Registry`: `audit_facts()` is the table the
audit joins its transfers with (the same facts it used to read from the processors table).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from pydantic import ValidationError

from tutela.datamap.models import ProcessorsDecl
from tutela.errors import InputError, UnknownKeyError, validation_message
from tutela.rulebook.yamlio import load_yaml
from tutela.transfers.models import KINDS, POLICY_RECIPIENT, SCC_MODULES, GateLaw, Recipient, RegistryFile


def _where(err: Any, entries: list[Any] | tuple[Any, ...]) -> str:
    """`recipients[2] (bengaluru-ts): tia_date` for a Pydantic error location."""
    loc = [str(p) for p in err["loc"]]
    if len(loc) >= 2 and loc[0] == "recipients" and loc[1].isdigit():
        i = int(loc[1])
        rid = entries[i].get("id") if i < len(entries) and isinstance(entries[i], dict) else None
        head = f"recipients[{i}]" + (f" ({rid})" if rid else "")
        return ": ".join([head, ".".join(loc[2:])]) if loc[2:] else head
    return ".".join(loc)


@dataclass(frozen=True)
class Registry:
    """Recipients by id; `source` says where they were read from (a file or an estate table)."""

    recipients: tuple[Recipient, ...]
    source: str
    tia_review_days: int | None = None

    def __post_init__(self) -> None:
        seen: dict[str, int] = {}
        for i, r in enumerate(self.recipients):
            if r.id in seen:
                raise InputError(f"recipient id `{r.id}` is listed twice", where=f"{self.source}: recipients[{i}].id",
                                 hint=f"first at recipients[{seen[r.id]}]")
            seen[r.id] = i

    def __iter__(self) -> Iterator[Recipient]:
        return iter(self.recipients)

    def __len__(self) -> int:
        return len(self.recipients)

    @property
    def by_id(self) -> Mapping[str, Recipient]:
        return {r.id: r for r in self.recipients}

    def get(self, key: str, where: str = "recipient") -> Recipient:
        """A recipient by id, else by exact name (a name two recipients share is ambiguous)."""
        found = self.by_id.get(key)
        if found is not None:
            return found
        named = [r for r in self.recipients if r.name == key]
        if len(named) == 1:
            return named[0]
        if named:
            raise InputError(f"recipient name `{key}` is ambiguous", where=where,
                             hint="use one of the ids: " + ", ".join(r.id for r in named))
        raise UnknownKeyError(f"unknown recipient `{key}`", where=where,
                              hint=f"not in the registry {self.source}; `tutela transfers list` shows the recipients")

    def audit_facts(self) -> pa.Table:
        """One row per recipient: id, recipient (the decision engine's kind), destination,
        certified, scc and tia (whether an SCC module and a TIA date are on file)."""
        rs = self.recipients
        return pa.table({
            "id": pa.array([r.id for r in rs], pa.string()),
            "recipient": pa.array([POLICY_RECIPIENT[r.kind] for r in rs], pa.string()),
            "destination": pa.array([r.country for r in rs], pa.string()),
            "certified": pa.array([r.dpf_certified for r in rs], pa.bool_()),
            "scc": pa.array([r.scc_module is not None for r in rs], pa.bool_()),
            "tia": pa.array([r.tia_date is not None for r in rs], pa.bool_()),
        })


def load_registry(path: Path) -> Registry:
    """A registry file, validated whole: an error names the file, the entry and the field."""
    where = str(path)
    try:
        raw = load_yaml(path.read_text("utf-8"), dates=False)
    except OSError as exc:
        raise InputError(f"cannot read the recipient registry: {exc.strerror}", where=where) from None
    except UnicodeDecodeError:
        raise InputError("the recipient registry is not UTF-8 text", where=where) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise InputError(f"not valid YAML{at}", where=where) from None
    if not isinstance(raw, dict):
        raise InputError("a recipient registry is a mapping with `version` and `recipients`", where=where)
    try:
        parsed = RegistryFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        listed = raw.get("recipients")
        entries: list[Any] = listed if isinstance(listed, list) else []
        raise InputError(validation_message(err), where=f"{where}: {_where(err, entries)}",
                         hint=_hint(err)) from None
    return Registry(parsed.recipients, where, parsed.tia_review_days)


def _hint(err: Any) -> str | None:
    field = str(err["loc"][-1]) if err["loc"] else ""
    if field == "kind":
        return "one of " + ", ".join(KINDS)
    if field == "scc_module":
        return "one of " + ", ".join(SCC_MODULES)
    if field == "country":
        return "an ISO 3166-1 alpha-2 code such as IE, US, IN"
    if field.endswith("_date") or field in ("scc_signed", "bcr_approved"):
        return "YYYY-MM-DD"
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def registry_from_processors(table: pa.Table, decl: ProcessorsDecl, where: str) -> Registry:
    """The estate's processors table (the columns `decl` names) as a registry; ids are the key
    values as text, names the declared `name` column where there is one. A bad row is named."""
    cols = {c: table.column(c).to_pylist() for c in table.column_names}
    names = cols.get(decl.name) if decl.name else None
    entries: list[dict[str, Any]] = []
    for i in range(table.num_rows):
        certified = cols[decl.certified][i]
        scc = _text(cols[decl.scc][i])
        tia = cols[decl.tia][i]
        entries.append({
            "id": _text(cols[decl.key][i]), "name": _text(names[i]) if names else _text(cols[decl.key][i]),
            "kind": _text(cols[decl.kind][i]), "country": _text(cols[decl.country][i]),
            "dpf_certified": bool(certified) if certified is not None else False,
            "scc_module": scc if scc else None,
            "tia_date": tia.date() if isinstance(tia, dt.datetime) else tia,
        })
    try:
        parsed = RegistryFile.model_validate({"version": 1, "recipients": entries})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        row = loc[1] if len(loc) > 1 else "?"
        column = {"id": decl.key, "kind": decl.kind, "country": decl.country, "dpf_certified": decl.certified,
                  "scc_module": decl.scc, "tia_date": decl.tia}.get(loc[2] if len(loc) > 2 else "", "")
        raise InputError(validation_message(err), where=f"{where}[{row}].{column}".rstrip("."),
                         hint=_hint(err)) from None
    return Registry(parsed.recipients, where)


@cache
def gate_law() -> GateLaw:
    """The packaged data/transfers.yaml, validated (a broken package file is an input error
    naming the field)."""
    text = resources.files("tutela.data").joinpath("transfers.yaml").read_text("utf-8")
    try:
        return GateLaw.model_validate(load_yaml(text))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(validation_message(err),
                         where="transfers.yaml: " + ".".join(str(p) for p in err["loc"])) from None
