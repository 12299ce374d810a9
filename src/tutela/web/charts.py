"""Charts as SVG drawn on the server: bars coloured by severity with an axis and every item,
a trend over audits, and the data map as a layered graph. Sized by a viewBox, so they shrink
to a phone's width; every shape has a <title> (read aloud, shown on hover)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

COLOURS = {"critical": "#b42318", "high": "#c4320a", "medium": "#6941c6", "low": "#2f6feb", "none": "#667085"}
SERIES = ("#b42318", "#2f6feb", "#067647", "#6941c6")


def _ticks(top: float, n: int = 5) -> list[float]:
    """Round axis ticks from 0 to at least `top`."""
    if top <= 0:
        return [0, 1]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [step * i for i in range(math.ceil(top / step) + 1)]


def _num(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.1f}"


def bars(items: list[tuple[str, int, str]], axis: str, label_width: int = 230) -> str:
    """Horizontal bars (label, value, severity), in the order given, every one of them."""
    if not items:
        return '<p class="muted">nothing to show</p>'
    row, width, top_pad = 22, 360, 30
    ticks = _ticks(max(v for _, v, _ in items))
    scale = width / ticks[-1]
    x0 = label_width
    height = top_pad + row * len(items) + 10
    out = [f'<svg class="chart" role="img" viewBox="0 0 {x0 + width + 70} {height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(axis)}</title>',
           f'<text x="{x0}" y="12" font-size="11" fill="#344054">{escape(axis)}</text>']
    for t in ticks:
        x = x0 + t * scale
        out.append(f'<line x1="{x:.1f}" y1="{top_pad - 6}" x2="{x:.1f}" y2="{height - 8}" stroke="#eaecf0"/>'
                   f'<text x="{x:.1f}" y="{top_pad - 9}" font-size="10" text-anchor="middle" '
                   f'fill="#475467">{_num(t)}</text>')
    out.append(f'<line x1="{x0}" y1="{top_pad - 6}" x2="{x0}" y2="{height - 8}" stroke="#98a2b3"/>')
    for i, (label, value, sev) in enumerate(items):
        y = top_pad + i * row
        w = max(1.0, value * scale) if value else 0
        colour = COLOURS.get(sev, COLOURS["none"])
        short = label if len(label) <= 34 else label[:33] + "…"
        out.append(f'<text x="{x0 - 6}" y="{y + 14}" font-size="11" text-anchor="end">{escape(short)}'
                   f'<title>{escape(label)}</title></text>'
                   f'<rect x="{x0}" y="{y + 3}" width="{w:.1f}" height="{row - 7}" fill="{colour}">'
                   f'<title>{escape(label)}: {_num(value)} ({escape(sev)})</title></rect>'
                   f'<text x="{x0 + w + 4:.1f}" y="{y + 14}" font-size="11">{_num(value)}</text>')
    out.append("</svg>")
    return "".join(out)


def legend(severities: list[str]) -> str:
    return "".join(f'<span class="key"><svg width="12" height="12" aria-hidden="true"><rect width="12" '
                   f'height="12" fill="{COLOURS.get(s, COLOURS["none"])}"/></svg> {escape(s)}</span>'
                   for s in severities)


def trend(points: list[dict[str, Any]], series: tuple[str, ...] = ("children", "subjects")) -> str:
    """Lines over audits (oldest left): distinct children and subjects per audit."""
    if not points:
        return '<p class="muted">no audits yet</p>'
    w, h, left, bottom, top = 560, 220, 56, 40, 16
    ticks = _ticks(max(max(int(p.get(s, 0)) for s in series) for p in points))
    sy = (h - top - bottom) / ticks[-1]
    n = len(points)
    span = w - left - 50  # room for the last date's label
    step = span / max(1, n - 1)

    def x(i: int) -> float:
        return left + 10 + (i * step if n > 1 else span / 2)

    out = [f'<svg class="chart" role="img" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">'
           f'<title>distinct children and subjects per audit</title>']
    for t in ticks:
        y = h - bottom - t * sy
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - 10}" y2="{y:.1f}" stroke="#eaecf0"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{_num(t)}</text>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#98a2b3"/>'
               f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="#98a2b3"/>')
    for i, p in enumerate(points):
        if n <= 8 or i in (0, n - 1) or i % max(1, n // 6) == 0:
            out.append(f'<text x="{x(i):.1f}" y="{h - bottom + 14}" font-size="10" text-anchor="middle">'
                       f'{escape(str(p["at"])[5:16].replace("T", " "))}</text>')
    for k, s in enumerate(series):
        colour = SERIES[k % len(SERIES)]
        pts = " ".join(f"{x(i):.1f},{h - bottom - int(p.get(s, 0)) * sy:.1f}" for i, p in enumerate(points))
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, p in enumerate(points):
            out.append(f'<circle cx="{x(i):.1f}" cy="{h - bottom - int(p.get(s, 0)) * sy:.1f}" r="3.5" '
                       f'fill="{colour}"><title>{escape(s)}: {_num(int(p.get(s, 0)))} ({escape(str(p["at"]))})'
                       f'</title></circle>')
        out.append(f'<text x="{left + 10 + k * 110}" y="{h - 8}" font-size="11" fill="{colour}">■ {escape(s)}</text>')
    out.append("</svg>")
    return "".join(out)


def graph(dm: dict[str, Any]) -> str:
    """The data map: one column per distance from the identities, links as arrows."""
    nodes = dm["nodes"]
    if not nodes:
        return '<p class="muted">no collections</p>'
    cols: dict[int, list[dict[str, Any]]] = {}
    for nd in nodes:
        cols.setdefault(nd["layer"], []).append(nd)
    bw, bh, gx, gy = 170, 44, 70, 18
    pos: dict[str, tuple[float, float]] = {}
    for c, (_layer, members) in enumerate(sorted(cols.items())):
        for r, nd in enumerate(members):
            pos[nd["name"]] = (20 + c * (bw + gx), 20 + r * (bh + gy))
    w = 40 + len(cols) * (bw + gx)
    h = 40 + max(len(m) for m in cols.values()) * (bh + gy)
    out = [f'<svg class="chart graph" role="img" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">'
           f'<title>data map of {escape(dm["dataset"])}</title><defs><marker id="arrow" viewBox="0 0 10 10" '
           f'refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           f'<path d="M 0 0 L 10 5 L 0 10 z" fill="#667085"/></marker></defs>']
    for ln in dm["links"]:
        if ln["parent"] not in pos or ln["child"] not in pos:
            continue
        (x1, y1), (x2, y2) = pos[ln["parent"]], pos[ln["child"]]
        out.append(f'<path d="M {x1 + bw} {y1 + bh / 2} C {x1 + bw + gx / 2} {y1 + bh / 2}, {x2 - gx / 2} '
                   f'{y2 + bh / 2}, {x2} {y2 + bh / 2}" fill="none" stroke="#98a2b3" marker-end="url(#arrow)">'
                   f'<title>{escape(ln["parent"])} → {escape(ln["child"])} ({escape(ln["via"])})</title></path>')
    for nd in nodes:
        x, y = pos[nd["name"]]
        fill = "#fef3f2" if nd["unreached"] else "#ecfdf3" if nd["identity"] else "#f9fafb"
        stroke = "#b42318" if nd["unreached"] else "#067647" if nd["identity"] else "#98a2b3"
        cats = ", ".join(nd["categories"]) or "no personal data declared"
        out.append(f'<g><title>{escape(nd["name"])}: {escape(cats)}</title>'
                   f'<rect x="{x}" y="{y}" width="{bw}" height="{bh}" rx="6" fill="{fill}" stroke="{stroke}"/>'
                   f'<text x="{x + 8}" y="{y + 18}" font-size="12" font-weight="600">{escape(nd["name"][:24])}</text>'
                   f'<text x="{x + 8}" y="{y + 34}" font-size="10" fill="#475467">{len(nd["categories"])} '
                   f'categor{"y" if len(nd["categories"]) == 1 else "ies"}</text></g>')
    out.append("</svg>")
    return "".join(out)
