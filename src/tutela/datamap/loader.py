"""Loading a data map: a Fides dataset file and, optionally, Tutela's declarations beside it."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tutela.datamap.models import FidesCollection, FidesDataset, FidesField, FidesFile, TutelaDecl, TutelaFile
from tutela.errors import InputError, validation_message

M = TypeVar("M", bound=BaseModel)
SKIP_PREFIXES = ("system", "user.unique_id", "user.privacy_preferences")


@dataclass(frozen=True)
class DataMap:
    dataset: FidesDataset
    tutela: TutelaDecl | None
    source: str

    def collection(self, name: str) -> FidesCollection:
        for c in self.dataset.collections:
            if c.name == name:
                return c
        raise InputError(f"collection `{name}` is not in dataset `{self.dataset.fides_key}`", where=self.source)

    def has(self, collection: str, field: str | None = None) -> bool:
        for c in self.dataset.collections:
            if c.name == collection:
                return field is None or any(f.name == field for f in c.fields)
        return False

    def primary_key(self, collection: str) -> tuple[str, ...]:
        """The collection's primary key fields (Fides `primary_key`), else its subject field."""
        pk = tuple(f.name for f in self.collection(collection).fields if f.fides_meta and f.fides_meta.primary_key)
        if pk or self.tutela is None or collection not in self.tutela.collections:
            return pk
        return (self.tutela.collections[collection].subject,)

    def categories(self, collection: str) -> dict[str, tuple[str, ...]]:
        """Field name -> the data categories that count for acts (see docs/audit.md)."""
        out: dict[str, tuple[str, ...]] = {}
        for f in self.collection(collection).fields:
            cats = tuple(c for c in f.data_categories if not _skipped(c))
            if cats:
                out[f.name] = cats
        return out


def _skipped(category: str) -> bool:
    return any(category == p or category.startswith(p + ".") for p in SKIP_PREFIXES)


def flatten(fields: tuple[FidesField, ...], prefix: str = "") -> list[tuple[str, FidesField]]:
    out: list[tuple[str, FidesField]] = []
    for f in fields:
        out.append((prefix + f.name, f))
        out.extend(flatten(f.fields, prefix + f.name + "."))
    return out


def _parse(model: type[M], path: str, text: str) -> M:
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", where=path) from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(validation_message(err), where=f"{path}: {loc}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the data map: {exc.__class__.__name__}", where=str(path)) from None


def load_datamap(fides: Path | None = None, declarations: Path | None = None) -> DataMap:
    """Load a Fides dataset file (the packaged ClipStream map by default) and its declarations.

    Declarations default to `<stem>.tutela.yml` beside the dataset when that file exists.
    """
    if fides is None:
        base = resources.files("tutela.data.datamaps")
        text, where = base.joinpath("clipstream.yml").read_text("utf-8"), "clipstream.yml"
        decl_text: str | None = base.joinpath("clipstream.tutela.yml").read_text("utf-8")
        decl_where = "clipstream.tutela.yml"
    else:
        text, where = _read(fides), str(fides)
        side = declarations or fides.with_name(fides.name.split(".")[0] + ".tutela.yml")
        decl_text = _read(side) if declarations is not None or side.exists() else None
        decl_where = str(side)
    ffile = _parse(FidesFile, where, text)
    if len(ffile.dataset) != 1:
        raise InputError("expected exactly one dataset in the file", where=f"{where}: dataset")
    decl = _parse(TutelaFile, decl_where, decl_text).tutela if decl_text is not None else None
    if decl is not None and decl.dataset != ffile.dataset[0].fides_key:
        raise InputError(f"declarations are for dataset `{decl.dataset}`, not `{ffile.dataset[0].fides_key}`",
                         where=f"{decl_where}: tutela.dataset")
    return DataMap(ffile.dataset[0], decl, where)
