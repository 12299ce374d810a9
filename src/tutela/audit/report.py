"""A self-contained HTML audit report: summary, charts (inline SVG) and cited findings."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from html import escape

from jinja2 import Environment, select_autoescape

from tutela.audit.run import Finding, Findings

SEVERITY_COLOURS = {"critical": "#b42318", "high": "#b54708", "medium": "#6941c6", "low": "#2f6feb",
                    "resolved": "#067647"}

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Tutela audit — {{ estate }}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;
     color:#1b1f24;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} .muted{color:#57606a}
.cards{display:flex;gap:1rem;margin:1.2rem 0}
.card{flex:1;border:1px solid #d0d7de;border-radius:8px;padding:.8rem 1rem}
.card b{display:block;font-size:1.6rem}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(600px,1fr));gap:1rem} .charts svg{max-width:100%}
table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{border-bottom:1px solid #d0d7de;padding:.45rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} .sev-critical{color:#b42318;font-weight:600}
.sev-high{color:#b54708;font-weight:600} .sev-medium{color:#6941c6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
</style></head><body>
<h1>Children's privacy audit</h1>
<p class="muted">Estate <code>{{ estate }}</code> · audited {{ as_of }} · rulebook {{ version }}</p>
<div class="cards">
 <div class="card"><b id="n-rules">{{ findings|length }}</b>rules breached</div>
 <div class="card"><b id="n-children">{{ children }}</b>children affected{{ counted }}</div>
 <div class="card"><b id="n-subjects">{{ subjects }}</b>subjects affected{{ counted }}</div>
 <div class="card"><b id="n-rows">{{ rows }}</b>rows affected</div>
 <div class="card"><b id="n-unverified">{{ unverified }}</b>consented only by an unverified parent
  (sum over rules)</div>
</div>
<div class="charts">
 <div><h2>By rule (rows)</h2>{{ chart_rule|safe }}</div>
 <div><h2>By country (subjects)</h2>{{ chart_country|safe }}</div>
 <div><h2>By collection (rows)</h2>{{ chart_collection|safe }}</div>
 <div><h2>By data category (children)</h2>{{ chart_category|safe }}</div>
</div>
<h2>Findings</h2>
<table id="findings"><thead><tr><th>Rule</th><th>Severity</th><th>Subjects</th><th>Rows</th>
<th>Children</th><th>Age from a signal</th>
<th title="subjects whose parental consent would have sufficed had it been verified">Unverified parent</th>
<th>Citation</th><th>Examples</th></tr></thead><tbody>
{% for f in findings %}<tr>
 <td><b>{{ f.rule }}</b><br>{{ f.title }}</td>
 <td class="sev-{{ f.severity }}">{{ f.severity }}</td>
 <td class="num">{{ f.subjects }}</td><td class="num">{{ f.rows }}</td><td class="num">{{ f.children }}</td>
 <td class="num">{{ f.age_from_signal }}</td><td class="num">{{ f.unverified_parent }}</td>
 <td><a href="{{ f.url }}" rel="noreferrer">{{ f.instrument }}, {{ f.section }}</a></td>
 <td>{{ f.examples|join(", ") }}</td>
</tr>{% else %}<tr><td colspan="9">No unlawful processing found.</td></tr>{% endfor %}
</tbody></table>
<p class="muted">Counts follow docs/audit.md. Synthetic data. Not legal advice.</p>
</body></html>
"""


def bars(data: dict[str, int], limit: int | None = 12, colours: dict[str, str] | None = None) -> str:
    """A horizontal bar chart as inline SVG (every bar with `limit=None`; `colours` per key)."""
    items = sorted(data.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    if not items:
        return "<p class='muted'>nothing to show</p>"
    top = max(v for _, v in items) or 1
    h, label_w, width = 24, 290, 300
    rows = []
    for i, (k, v) in enumerate(items):
        w = max(1, int(width * v / top))
        y = i * h
        rows.append(
            f'<text x="0" y="{y + 15}" font-size="12">{escape(k[:42])}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{h - 6}" '
            f'fill="{(colours or {}).get(k, "#2f6feb")}"><title>{v}</title></rect>'
            f'<text x="{label_w + w + 4}" y="{y + 15}" font-size="12">{v}</text>')
    total_w = label_w + width + 70
    return (f'<svg role="img" viewBox="0 0 {total_w} {h * len(items)}" width="{total_w}" '
            f'height="{h * len(items)}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>')


def render(findings: list[Finding], estate: str, as_of: dt.date, version: str) -> str:
    """The report; subjects and children are distinct over every rule when the findings are the
    audit's own (`Findings`), else (a plain list) summed over rules and labelled so."""
    countries: Counter[str] = Counter()
    collections: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for f in findings:
        countries.update(f.countries)
        collections.update(f.collections)
        categories.update(f.categories)
    distinct = findings.distinct.get("all") if isinstance(findings, Findings) else None
    env = Environment(autoescape=select_autoescape(default=True))
    return env.from_string(_TEMPLATE).render(
        findings=findings, estate=estate, as_of=as_of, version=version,
        subjects=distinct["subjects"] if distinct else sum(f.subjects for f in findings),
        rows=sum(f.rows for f in findings), unverified=sum(f.unverified_parent for f in findings),
        children=distinct["children"] if distinct else sum(f.children for f in findings),
        counted=" (distinct)" if distinct else " (sum over rules)", chart_category=bars(dict(categories)),
        chart_rule=bars({f.rule: f.rows for f in findings}, limit=None,
                        colours={f.rule: SEVERITY_COLOURS.get(f.severity, "#2f6feb") for f in findings}),
        chart_country=bars(dict(countries)), chart_collection=bars(dict(collections)),
    )
