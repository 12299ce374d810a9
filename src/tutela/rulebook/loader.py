"""Load and validate the rulebook: regime files, jurisdiction files, consent scopes.

Errors name the file, the rule id and the field, e.g.
`jurisdictions/NL.yaml: rule NL-UAVG.art5: citation.url: …`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from importlib import resources
from importlib.abc import Traversable
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from tutela.errors import RulebookError, UnknownKeyError, validation_message
from tutela.rulebook.book import Rulebook
from tutela.rulebook.models import Jurisdiction, Regime, Rule
from tutela.rulebook.yamlio import load_yaml
from tutela.taxonomy import Taxonomy, load_taxonomy

M = TypeVar("M", bound=BaseModel)


def _locate(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into `rule <id>: field.path` where possible."""
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] in ("rules", "digital_consent") and isinstance(loc[1], int):
        try:
            rid = raw[loc[0]][loc[1]].get("id", f"#{loc[1]}")
        except (KeyError, IndexError, TypeError, AttributeError):
            rid = f"#{loc[1]}"
        field = ".".join(parts[2:]) or "(rule)"
        kind = "rule" if loc[0] == "rules" else "digital_consent"
        return f"{kind} {rid}: {field}"
    return ".".join(parts) or "(file)"


def _parse(model: type[M], text: str, where: str) -> M:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RulebookError(f"not valid YAML: {exc}", where=where) from exc
    if not isinstance(raw, dict):
        raise RulebookError("expected a mapping at the top level", where=where)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RulebookError(validation_message(err), where=f"{where}: {_locate(raw, err['loc'])}") from exc


def _files(folder: Traversable) -> list[Traversable]:
    return sorted(
        (f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name
    )


def _check_keys(rule: Rule, where: str, tax: Taxonomy, scopes: Mapping[str, str]) -> None:
    w = f"{where}: rule {rule.id}"
    for key in (*rule.when.categories, *rule.when.except_categories):
        tax.categories.check(key, f"{w}: when.categories")
    for key in (*rule.when.uses, *rule.when.except_uses):
        tax.uses.check(key, f"{w}: when.uses")
    req = rule.requirement
    if req is not None and req.consent is not None and req.consent.scope not in scopes:
        raise UnknownKeyError(
            f"unknown consent scope `{req.consent.scope}`",
            where=f"{w}: consent.scope",
            hint=f"known scopes: {sorted(scopes)}",
        )


def load_rulebook(root: Path | Traversable | None = None) -> Rulebook:
    """Load every file under `root` (the packaged rulebook by default) and validate it."""
    base: Traversable = resources.files("tutela.data.rulebook") if root is None else _as_trav(root)
    tax = load_taxonomy()
    digest = hashlib.sha256()
    scope_file = base.joinpath("scopes.yaml")
    scope_text = scope_file.read_text("utf-8")
    digest.update(scope_text.encode())
    scopes = _parse_scopes(scope_text)

    regimes: dict[str, Regime] = {}
    for f in _files(base.joinpath("regimes")):
        text = f.read_text("utf-8")
        digest.update(f.name.encode() + text.encode())
        regime = _parse(Regime, text, f"regimes/{f.name}")
        if f.name != f"{regime.code}.yaml":
            raise RulebookError(f"file name must be `{regime.code}.yaml`", where=f"regimes/{f.name}")
        regimes[regime.code] = regime

    jurisdictions: dict[str, Jurisdiction] = {}
    for f in _files(base.joinpath("jurisdictions")):
        text = f.read_text("utf-8")
        digest.update(f.name.encode() + text.encode())
        jur = _parse(Jurisdiction, text, f"jurisdictions/{f.name}")
        if f.name != f"{jur.code}.yaml":
            raise RulebookError(f"file name must be `{jur.code}.yaml`", where=f"jurisdictions/{f.name}")
        jurisdictions[jur.code] = jur

    _validate(regimes, jurisdictions, tax, scopes)
    return Rulebook(
        regimes=regimes,
        jurisdictions=jurisdictions,
        scopes=scopes,
        version=f"{_version()}+{digest.hexdigest()[:12]}",
    )


def _as_trav(root: Path | Traversable) -> Traversable:
    if isinstance(root, Path) and not root.is_dir():
        raise RulebookError("rulebook folder not found", where=str(root))
    return root


def _parse_scopes(text: str) -> dict[str, str]:
    raw = load_yaml(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("scopes"), dict):
        raise RulebookError("expected `scopes:` mapping scope name to description", where="scopes.yaml")
    return {str(k): str(v) for k, v in raw["scopes"].items()}


def _validate(
    regimes: Mapping[str, Regime],
    jurisdictions: Mapping[str, Jurisdiction],
    tax: Taxonomy,
    scopes: Mapping[str, str],
) -> None:
    seen: dict[str, str] = {}

    def unique(ids: Iterable[str], where: str) -> None:
        for rid in ids:
            if rid in seen:
                raise RulebookError(f"rule id `{rid}` is also used in {seen[rid]}", where=where)
            seen[rid] = where

    for code, regime in regimes.items():
        where = f"regimes/{code}.yaml"
        unique((r.id for r in regime.rules), where)
        for rule in regime.rules:
            _check_keys(rule, where, tax, scopes)
    for code, jur in jurisdictions.items():
        where = f"jurisdictions/{code}.yaml"
        unique((r.id for r in jur.rules), where)
        unique((d.id for d in jur.digital_consent), where)
        for rule in jur.rules:
            _check_keys(rule, where, tax, scopes)
        for name in jur.inherits:
            if name not in regimes:
                raise UnknownKeyError(
                    f"inherits unknown regime `{name}`", where=f"{where}: inherits",
                    hint=f"known regimes: {sorted(regimes)}",
                )
        if sum(1 for name in jur.inherits if regimes[name].transfers) > 1:
            raise RulebookError("more than one inherited regime defines transfers", where=where)
        spans = sorted(jur.digital_consent, key=lambda d: d.effective_from)
        for a, b in pairwise(spans):
            if a.effective_to is None or a.effective_to > b.effective_from:
                raise RulebookError(
                    f"`{a.id}` overlaps `{b.id}`: close it with `effective_to`",
                    where=f"{where}: digital_consent",
                )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tutela")
    except PackageNotFoundError:
        return "0.0.0"
