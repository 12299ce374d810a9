"""The consent data (src/tutela/data/consent.yaml), validated: scopes, methods and their limits,
the data-lite mode, per-jurisdiction privacy defaults and guardian links.

    book = load_consent()                    # the packaged file; RulebookError naming file and key
    book.method("email_plus").excluded()     # scopes the method cannot grant (enforced limits only)
    book.defaults_for("NL", ("EU-DSA",), 12, day)   # the settings a new 12-year-old starts from
    problems = check(known_codes, rulebook_scopes)  # [] when the file holds together

An entry with `verified: false` is listed but never enforced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tutela.datamap.check import Problem
from tutela.errors import InputError, RulebookError, validation_message
from tutela.rulebook.models import Assurance, Citation
from tutela.rulebook.yamlio import load_yaml

FILE = "consent.yaml"
_ID = r"^[A-Za-z][A-Za-z0-9_-]*(\.[a-z0-9][a-z0-9-]*)*$"
Channel = Literal["link", "staff", "provider"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scope(Strict):
    title: str = Field(min_length=3)
    rulebook: tuple[str, ...]
    setting: str | None = None


class Limit(Strict):
    id: str = Field(pattern=_ID)
    scopes: tuple[str, ...] = Field(min_length=1)
    verified: bool
    citation: Citation


class Method(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    assurance: Assurance
    channel: Channel
    effective_from: dt.date
    citation: Citation
    limits: tuple[Limit, ...] = ()

    def excluded(self) -> dict[str, Limit]:
        """Scope -> the enforced limit that keeps this method from granting it."""
        return {s: lim for lim in self.limits if lim.verified for s in lim.scopes}


class Basis(Strict):
    id: str = Field(pattern=_ID)
    applies_to: tuple[str, ...] = Field(min_length=1)
    methods: tuple[str, ...] = Field(min_length=1)
    verified: bool
    citation: Citation


class DataLite(Strict):
    collect: tuple[str, ...]
    allowed_uses: tuple[str, ...]
    delete_after_days: int = Field(ge=1, le=365)
    citations: tuple[Citation, ...] = Field(min_length=1)


class Defaults(Strict):
    id: str = Field(pattern=_ID)
    applies_to: tuple[str, ...] = Field(min_length=1)
    below: int = Field(ge=1, le=18)
    settings: dict[str, str]
    verified: bool
    citation: Citation
    effective_from: dt.date


class GuardianLink(Strict):
    id: str = Field(pattern=_ID)
    applies_to: tuple[str, ...] = Field(min_length=1)
    below: int = Field(ge=1, le=18)
    effective_from: dt.date
    verified: bool
    citation: Citation


class ConsentBook(Strict):
    version: str
    scopes: dict[str, Scope]
    methods: tuple[Method, ...]
    method_basis: tuple[Basis, ...] = ()
    data_lite: DataLite
    settings: dict[str, tuple[str, ...]]
    defaults: tuple[Defaults, ...]
    guardian_links: tuple[GuardianLink, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> ConsentBook:
        ids = [m.id for m in self.methods]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate method id `{next(i for i in ids if ids.count(i) > 1)}`")
        for name, s in self.scopes.items():
            if s.setting is not None and s.setting not in self.settings:
                raise ValueError(f"scope `{name}` names the unknown setting `{s.setting}`")
        for m in self.methods:
            for lim in m.limits:
                for name in lim.scopes:
                    if name not in self.scopes:
                        raise ValueError(f"method `{m.id}` limit `{lim.id}` names the unknown scope `{name}`")
        for b in self.method_basis:
            for name in b.methods:
                if name not in ids:
                    raise ValueError(f"method_basis `{b.id}` names the unknown method `{name}`")
        for d in self.defaults:
            for key, value in d.settings.items():
                if key not in self.settings or value not in self.settings[key]:
                    raise ValueError(f"defaults `{d.id}`: `{key}: {value}` is no setting value")
        return self

    def method(self, method_id: str, where: str = "method") -> Method:
        for m in self.methods:
            if m.id == method_id:
                return m
        raise InputError(f"unknown consent method `{method_id}`", where=where,
                         hint="one of " + ", ".join(m.id for m in self.methods))

    def basis(self, method_id: str, code: str, regimes: Iterable[str]) -> Basis | None:
        """The verified entry that accepts `method_id` in `code` (or a regime it inherits), if any."""
        codes = {code, *regimes}
        return next((b for b in self.method_basis if b.verified and method_id in b.methods
                     and codes & set(b.applies_to)), None)

    def scope(self, name: str, where: str = "scope") -> Scope:
        if name not in self.scopes:
            raise InputError(f"unknown consent scope `{name}`", where=where, hint="one of " + ", ".join(self.scopes))
        return self.scopes[name]

    def scope_for_setting(self, setting: str) -> str | None:
        return next((n for n, s in self.scopes.items() if s.setting == setting), None)

    def defaults_for(self, code: str, regimes: Iterable[str], age: int, day: dt.date) -> tuple[dict[str, str],
                                                                                             list[Defaults]]:
        """The most private value any verified, in-force entry sets for each setting (merged), and the entries."""
        codes = {code, *regimes}
        hits = [d for d in self.defaults if d.verified and d.effective_from <= day and age < d.below
                and codes & set(d.applies_to)]
        out: dict[str, str] = {}
        for d in hits:
            for key, value in d.settings.items():
                order = self.settings[key]
                if key not in out or order.index(value) < order.index(out[key]):
                    out[key] = value
        return out, hits

    def guardian_link(self, code: str, regimes: Iterable[str], age: int, day: dt.date) -> GuardianLink | None:
        codes = {code, *regimes}
        return next((g for g in self.guardian_links if g.verified and g.effective_from <= day and age < g.below
                     and codes & set(g.applies_to)), None)

    def lowers(self, setting: str, old: str, new: str) -> bool:
        """True when moving `setting` from `old` to `new` lowers privacy."""
        order = self.settings[setting]
        return order.index(new) > order.index(old)


def _locate(raw: Any, loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    node = raw
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            ident = node[step].get("id") if isinstance(node[step], dict) else None
            head = parts.pop() if parts else ""
            parts.append(f"{head}[{step}]" + (f" ({ident})" if ident else ""))
            node = node[step]
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _text(path: Path | None) -> tuple[str, str]:
    if path is None:
        return resources.files("tutela.data").joinpath(FILE).read_text("utf-8"), FILE
    try:
        return path.read_text("utf-8"), str(path)
    except OSError as exc:
        raise RulebookError(f"cannot read: {exc.strerror}", where=str(path)) from None


def load_consent(path: Path | None = None) -> ConsentBook:
    """Load and validate the consent file (the packaged one by default, read once)."""
    return _packaged() if path is None else _load(path)


@cache
def _packaged() -> ConsentBook:
    return _load(None)


def _load(path: Path | None) -> ConsentBook:
    text, name = _text(path)
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RulebookError(f"not valid YAML: {exc}", where=name) from None
    if not isinstance(raw, dict):
        raise RulebookError("expected a mapping at the top level", where=name)
    try:
        return ConsentBook.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RulebookError(validation_message(err), where=f"{name}: {_locate(raw, tuple(err['loc']))}") from None


def check(path: Path | None = None, known_codes: frozenset[str] = frozenset(),
          rulebook_scopes: Mapping[str, str] | None = None) -> list[Problem]:
    """What would keep the file from loading, and what it says that the rulebook does not know:
    unknown jurisdictions or regimes, rulebook scopes missing from scopes.yaml, an enforced
    citation not over https, an unverified entry without a note saying why."""
    try:
        book = load_consent(path)
    except RulebookError as exc:
        return [Problem(exc.where or FILE, exc.message)]
    from tutela.consent.methods import REGISTRY

    name = FILE if path is None else str(path)
    out: list[Problem] = [Problem(f"{name}: methods ({m.id})", "no plug-in implements this method")
                          for m in book.methods if m.id not in REGISTRY]
    out += [Problem(f"{name}: methods", f"plug-in `{p}` has no entry (assurance, citation)")
            for p in REGISTRY if p not in {m.id for m in book.methods}]
    for scope, s in book.scopes.items():
        out += [Problem(f"{name}: scopes.{scope}.rulebook", f"`{r}` is no consent scope of the rulebook")
                for r in s.rulebook if rulebook_scopes is not None and r not in rulebook_scopes]
    cited: list[tuple[str, Citation, bool, Iterable[str]]] = []
    for m in book.methods:
        cited.append((f"methods ({m.id})", m.citation, True, ()))
        cited += [(f"methods ({m.id}).limits ({lim.id})", lim.citation, lim.verified, ()) for lim in m.limits]
    cited += [(f"method_basis ({b.id})", b.citation, b.verified, b.applies_to) for b in book.method_basis]
    cited += [(f"defaults ({d.id})", d.citation, d.verified, d.applies_to) for d in book.defaults]
    cited += [(f"guardian_links ({g.id})", g.citation, g.verified, g.applies_to) for g in book.guardian_links]
    cited += [(f"data_lite.citations[{i}]", c, True, ()) for i, c in enumerate(book.data_lite.citations)]
    for where, cit, verified, codes in cited:
        if verified and not cit.url.startswith("https://"):
            out.append(Problem(f"{name}: {where}.citation.url", "an enforced entry cites its source over https"))
        if not verified and not cit.note:
            out.append(Problem(f"{name}: {where}.citation.note", "an unverified entry says why in the note"))
        out += [Problem(f"{name}: {where}.applies_to", f"unknown jurisdiction or regime `{c}`")
                for c in codes if known_codes and c not in known_codes]
    return out
