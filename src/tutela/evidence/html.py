"""The pack's summary page: one self-contained HTML file (inline CSS, no script, no external asset)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, Template, select_autoescape


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
    text = resources.files("tutela.data").joinpath("templates/evidence.html.j2").read_text("utf-8")
    return env.from_string(text)


def render(pack: dict[str, Any]) -> str:
    return _template().render(p=pack)
