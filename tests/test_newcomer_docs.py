"""The user guide holds true: the declarations field reference is generated from the models and
current, every consent scope and obligation token is explained, the glossary has the words the
commands use, and the user docs carry no build notes or issue numbers."""

from __future__ import annotations

import importlib.util
import re
import sys
import typing
from pathlib import Path
from types import ModuleType

import yaml

from tutela.rulebook.models import ObligationKind

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_declarations_reference_is_generated_and_current() -> None:
    gen = _script("docs_declarations")
    page = (DOCS / "own-database.md").read_text("utf-8")
    assert gen.update(page) == page, "run `.venv/bin/python scripts/docs_declarations.py`"
    fields = {(m.__name__, name) for m in gen.models() for name in m.model_fields}
    assert len(fields) > 50 and {(m, f) for m, f, *_ in gen.rows()} == fields  # every field, each once
    for model, field in fields:
        assert f"| {model} | `{field}` |" in page


def test_every_consent_scope_and_obligation_token_is_explained() -> None:
    page = (DOCS / "decisions.md").read_text("utf-8")
    scopes = yaml.safe_load((ROOT / "src/tutela/data/rulebook/scopes.yaml").read_text("utf-8"))["scopes"]
    for scope in scopes:
        assert f"| `{scope}` |" in page, scope
    for token in typing.get_args(ObligationKind):
        assert f"| `{token}` |" in page, token
    for level in ("declared", "confirmed", "verified"):
        assert f"| `{level}` |" in page


def test_the_glossary_defines_the_words_the_commands_use() -> None:
    page = (DOCS / "glossary.md").read_text("utf-8")
    terms = re.findall(r"^\*\*(.+?)\.\*\*", page, re.M)
    for word in ("Estate", "Act", "Grant", "Settle", "`lawful_possible`", "Obligation token", "Consent scope",
                 "Assurance level", "Subject", "Jurisdiction", "Finding", "Severity", "Holder", "Missing"):
        assert word in terms, word
    assert terms == sorted(terms, key=lambda t: t.strip("`").lower())


def test_user_docs_have_no_build_notes_or_issue_numbers() -> None:
    pages = [ROOT / "README.md", *sorted(p for p in DOCS.glob("*.md") if p.name != "benchmarks.md")]
    bad = re.compile(r"\(issue \d+\)|\bissue \d+\b|the issue'?s? |rooms of issue|\bTODO\b|^#+ Not done", re.I | re.M)
    found = [f"{p.name}: {m.group(0)}" for p in pages for m in bad.finditer(p.read_text("utf-8"))]
    assert found == []


def test_readme_starts_with_make_demo_and_make_test() -> None:
    head = (ROOT / "README.md").read_text("utf-8").split("```", 2)[1]
    assert [line.split()[:2] for line in head.strip().splitlines()[1:3]] == [["make", "demo"], ["make", "test"]]
