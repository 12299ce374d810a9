"""An access export as JSON values and as one self-contained HTML page (no external assets).

The page groups the person's data by collection; each column shows the field's name and its
data categories (from the data map, named by the taxonomy). Images are inlined as `data:`
URIs, so the page works saved to disk and offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import pyarrow as pa
from jinja2 import Environment, Template, select_autoescape

PREVIEW_MAX = 512 * 1024  # bytes: larger images are listed, not inlined


def json_value(v: Any) -> Any:
    """A value from Arrow as JSON: dates as ISO text, bytes as base64, decimals as floats."""
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, bytes | bytearray):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_value(x) for x in v]
    return v


def rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: json_value(v) for k, v in r.items()} for r in table.to_pylist()]


def preview(data: bytes, path: str) -> str | None:
    """A `data:` URI for a small JPEG or PNG, else None."""
    if len(data) > PREVIEW_MAX:
        return None
    if data[:3] == b"\xff\xd8\xff":
        mime = "image/jpeg"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        mime = "image/png"
    else:
        return None
    del path
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def show(v: Any) -> str:
    """A cell's text: lists and objects (Redis values) as compact JSON, everything else as is."""
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    return str(v)


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["show"] = show
    text = resources.files("tutela.data").joinpath("templates/access.html.j2").read_text("utf-8")
    return env.from_string(text)


def render_html(export: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """The export as a readable page; `names` maps data categories to their taxonomy names."""
    return _template().render(e=export, names=names)
