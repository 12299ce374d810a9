"""The docs hold true: every CLI command and option, every API route, every TUTELA_* setting,
every rulebook and declaration field is in docs/reference.md (refresh it with
`scripts/docs_reference.py`), and every TUTELA_* variable the code names is a known setting."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tutela.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "reference.md").read_text("utf-8")
FIX = "run `.venv/bin/python scripts/docs_reference.py` and describe it in the guide"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["docs_reference"] = mod
    spec.loader.exec_module(mod)
    return mod


GEN = _generator()


def _section(doc: str, heading: str) -> str | None:
    """The text of one `### heading` section of the reference (None: there is none)."""
    start = doc.find(f"### `{heading}`\n")
    if start < 0:
        return None
    end = doc.find("\n### ", start + 1)
    return doc[start:end if end > 0 else None]


def _undocumented_cli(doc: str) -> list[str]:
    missing = []
    for path, cmd in GEN.cli_commands():
        text = _section(doc, path)
        if text is None:
            missing.append(path)
            continue
        missing += [f"{path} {label}" for label, _h in GEN.options(cmd)
                    if label != "--help" and f"`{label}`" not in text]
    return missing


def test_every_command_and_option_is_documented() -> None:
    assert len(list(GEN.cli_commands())) > 20  # the walk found the real tree
    assert _undocumented_cli(DOC) == [], FIX


def test_the_check_fires_on_a_missing_option_or_command() -> None:
    assert _undocumented_cli(DOC.replace("| `--as-of` |", "| `--on` |", 1)) == ["tutela audit --as-of"]
    assert "tutela rules diff" in _undocumented_cli(DOC.replace("### `tutela rules diff`", "### `gone`"))


def test_every_api_route_is_documented() -> None:
    routes = GEN.api_routes()
    paths = {p for _m, p, _s in routes}
    assert "/v1/decisions" in paths and "/v1/requests" in paths
    for method, path, _summary in routes:
        assert f"| {method} | `{path}` |" in DOC, f"{method} {path} is not documented; {FIX}"


def test_every_setting_is_known_and_documented() -> None:
    named = set()
    for f in (ROOT / "src" / "tutela").rglob("*.py"):
        named |= set(re.findall(r"\bTUTELA_[A-Z][A-Z0-9_]*(?:<STORE>)?", f.read_text("utf-8")))
    known = set(SETTINGS) | {"TUTELA_STORE_PASSWORD_"}  # the prefix of TUTELA_STORE_PASSWORD_<STORE>
    unknown = {n for n in named if n not in known and not n.startswith("TUTELA_STORE_PASSWORD_")}
    assert not unknown, f"read but not listed in tutela.settings.SETTINGS: {sorted(unknown)}"
    for name in SETTINGS:
        assert f"| `{name}` |" in DOC, f"setting {name} is not documented; {FIX}"


@pytest.mark.parametrize("title, models", [("Rulebook fields", GEN.rulebook_models()),
                                           ("Declaration fields", GEN.declaration_models())])
def test_every_rule_and_declaration_field_is_documented(title: str, models: list[type]) -> None:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    text = DOC[start:end if end > 0 else None]
    fields = [row for m in models for row in GEN.model_fields(m)]
    assert len(fields) > 20
    for model, field, _type in fields:
        assert f"| {model} | `{field}` |" in text, f"{model}.{field} is not documented under {title}; {FIX}"

