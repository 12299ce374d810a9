"""YAML reading without YAML 1.1 surprises: `NO` (Norway), `on`, `yes` stay strings."""

from __future__ import annotations

import re
from typing import Any

import yaml

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]  # libyaml's loader when present
    """The safe loader with YAML 1.1's yes/no/on/off booleans taken out (below)."""


# Keep only true/false as booleans; YAML 1.1 also reads yes/no/on/off as booleans.
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _TextDates(_Loader):
    """The same, with dates left as text (for Pydantic to parse, so a bad date names its field)."""


_TextDates.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Loader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str, dates: bool = True) -> Any:
    """`dates=False`: YYYY-MM-DD stays a string (an impossible date is then not a parser crash)."""
    return yaml.load(text, Loader=_Loader if dates else _TextDates)
