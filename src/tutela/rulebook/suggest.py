"""Did-you-mean hints for jurisdiction codes: `UK` -> `GB`, `Netherlands` or `nl` -> `NL`.

Three sources, in order: the code in upper case, a small alias table of country names and
non-ISO codes (`data/jurisdiction_aliases.yaml`, lowercase keys) plus each jurisdiction's own
`name`, and `difflib` over both for misspellings. Used by the compiled and the reference
evaluators alike, so their errors stay the same.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources

import yaml

from tutela.rulebook.models import Jurisdiction

DEFAULT_HINT = "use an ISO 3166-1 alpha-2 or ISO 3166-2 code listed by `tutela rules list`"


@lru_cache(maxsize=1)
def aliases() -> dict[str, str]:
    """Lowercase alias -> jurisdiction code, from the packaged table."""
    text = resources.files("tutela.data").joinpath("jurisdiction_aliases.yaml").read_text("utf-8")
    raw = yaml.safe_load(text) or {}
    return {str(k).lower(): str(v) for k, v in (raw.get("aliases") or {}).items()}


def suggestions(code: str, jurisdictions: Mapping[str, Jurisdiction]) -> list[str]:
    """Known codes `code` probably meant, best first (empty when nothing is close)."""
    typed = code.strip()
    if typed.upper() in jurisdictions:
        return [typed.upper()]
    names = {j.name.lower(): c for c, j in jurisdictions.items()}
    table = {k: v for k, v in aliases().items() if v in jurisdictions} | names
    if typed.lower() in table:
        return [table[typed.lower()]]
    out: list[str] = []
    for name in difflib.get_close_matches(typed.lower(), list(table), n=3, cutoff=0.75):
        if table[name] not in out:
            out.append(table[name])
    for c in difflib.get_close_matches(typed.upper(), list(jurisdictions), n=3, cutoff=0.75):
        if c not in out:
            out.append(c)
    return out


def jurisdiction_hint(code: str, jurisdictions: Mapping[str, Jurisdiction]) -> str:
    """The hint of an unknown-jurisdiction error: `did you mean `GB`?` or how to list the codes."""
    close = suggestions(code, jurisdictions)
    if not close:
        return DEFAULT_HINT
    names = " or ".join(f"`{c}` ({jurisdictions[c].name})" for c in close)
    return f"did you mean {names}? Jurisdictions are ISO 3166 codes, listed by `tutela rules list`"
