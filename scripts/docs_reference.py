"""Write docs/reference.md from the code: every CLI command and option, every API route, every
TUTELA_* setting, every rulebook and declaration field. tests/test_docs.py fails when the
committed file misses one, so after changing any of them run:

    .venv/bin/python scripts/docs_reference.py
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

OUT = Path(__file__).resolve().parent.parent / "docs" / "reference.md"


def cli_commands() -> Iterator[tuple[str, Any]]:
    """(`tutela rules list`, click command) for every command, groups included."""
    from tutela.cli import app

    def walk(prefix: str, cmd: Any) -> Iterator[tuple[str, Any]]:
        yield prefix, cmd
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(f"{prefix} {name}", sub)

    yield from walk("tutela", typer.main.get_command(app))


def options(cmd: Any) -> list[tuple[str, str]]:
    out = []
    for p in cmd.params:
        names = [o for o in [*p.opts, *getattr(p, "secondary_opts", [])] if o.startswith("--")]
        label = " / ".join(names) if names else f"<{p.name}>"
        out.append((label, (getattr(p, "help", None) or "").strip()))
    return out


def api_routes() -> list[tuple[str, str, str]]:
    from tutela.api import create_app
    from tutela.models import EstateConfig

    app = create_app(estate=EstateConfig("sqlite:///estate.db"))  # opened on first use only
    found = [(method.upper(), path, (op.get("summary") or "").strip())
             for path, ops in app.openapi()["paths"].items() for method, op in ops.items()]
    return sorted(found, key=lambda t: (t[1], t[0]))


def page_routes() -> list[tuple[str, str, str]]:
    """The web pages (console, report, age gate, parent portal): routes outside the OpenAPI document."""
    from tutela.engine import Engine
    from tutela.web import age_gate, console, desk, portal
    from tutela.web.pages import Pages

    eng, pages = Engine(), Pages(None)
    routers = [console.router(None, pages), desk.router(eng, None, pages), age_gate.router(eng, pages),  # type: ignore[arg-type]  # routers walked for their routes only: no office
               portal.router(eng, pages, eng.portal())]
    found = [(m, r.path, (r.endpoint.__doc__ or r.name.replace("_", " ")).strip().splitlines()[0])
             for router in routers for r in router.routes for m in sorted(getattr(r, "methods", ()))]
    return sorted(found, key=lambda t: (t[1], t[0]))


def model_fields(model: type[BaseModel], seen: set[type] | None = None) -> Iterator[tuple[str, str, str]]:
    """(model name, field, type) for `model` and every model it nests."""
    seen = seen if seen is not None else set()
    if model in seen:
        return
    seen.add(model)
    nested = []
    for name, f in model.model_fields.items():
        yield model.__name__, f.alias or name, _type_name(f.annotation)
        nested += [t for t in _models_in(f.annotation) if t not in seen]
    for t in nested:
        yield from model_fields(t, seen)


def _models_in(tp: Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for a in typing.get_args(tp) for m in _models_in(a)]


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(tp) if a is not Ellipsis)
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return str(tp).replace("typing.", "")


def rulebook_models() -> list[type[BaseModel]]:
    from tutela.rulebook.models import Jurisdiction, Regime

    return [Regime, Jurisdiction]


def declaration_models() -> list[type[BaseModel]]:
    from tutela.datamap.models import TutelaFile

    return [TutelaFile]


def render() -> str:
    from tutela.settings import SETTINGS

    lines = ["# Reference", "",
             "Generated from the code by `scripts/docs_reference.py`; `tests/test_docs.py` checks that nothing",
             "is missing. The guides (audit, repair, rights, guard, ...) explain how these fit together.", "",
             "## Command line", "",
             "Exit codes: 0 ok / allowed, 1 a check found problems, 2 denied, 3 bad input (usage errors of",
             "the command line included), 4 a store unavailable (nothing was committed; run it again).", ""]
    for path, cmd in cli_commands():
        lines += [f"### `{path}`", "", (cmd.help or cmd.short_help or "").strip().splitlines()[0]
                  if (cmd.help or cmd.short_help) else "", ""]
        opts = [o for o in options(cmd) if o[0] != "--help"]
        if opts:
            lines += ["| option | what it does |", "|---|---|"]
            lines += [f"| `{label}` | {text.replace('|', '/')} |" for label, text in opts]
            lines.append("")
    lines += ["## HTTP API", "", "Interactive documentation at `/docs`; the OpenAPI document at `/openapi.json`.", "",
              "| method | path | what it does |", "|---|---|---|"]
    lines += [f"| {m} | `{p}` | {s} |" for m, p, s in api_routes()]
    lines += ["", "## Web pages", "",
              "Served by `tutela serve --estate URL` (docs/console.md); a staff sign-in is needed",
              "for every `/console` page; a parent's sign-in for every `/portal/children` page",
              "(docs/portal.md).", "", "| method | path | what it does |", "|---|---|---|"]
    lines += [f"| {m} | `{p}` | {s} |" for m, p, s in page_routes()]
    lines += ["", "## Settings (environment)", "", "| variable | what it does |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in SETTINGS.items()]
    for title, models in (("Rulebook fields", rulebook_models()), ("Declaration fields", declaration_models())):
        lines += ["", f"## {title}", "", "| model | field | type |", "|---|---|---|"]
        lines += [f"| {m} | `{f}` | {t.replace('|', '/')} |" for mm in models for m, f, t in model_fields(mm)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), "utf-8")
    print(f"wrote {OUT}")
