"""The console's SVG charts: every item drawn, coloured by severity, with an axis; text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tutela.web import charts

NS = "{http://www.w3.org/2000/svg}"


def test_bars_draw_every_item_with_severity_colours_and_an_axis() -> None:
    items = [(f"RULE-{i}", 100 - i, ("critical", "high", "medium")[i % 3]) for i in range(40)]
    svg = ET.fromstring(charts.bars(items, "rows"))
    rects = svg.findall(f"{NS}rect")
    assert len(rects) == 40  # every rule, not the first 12
    assert {r.get("fill") for r in rects} == {charts.COLOURS[s] for s in ("critical", "high", "medium")}
    ticks = [t.text for t in svg.findall(f"{NS}text") if t.get("text-anchor") == "middle"]
    assert ticks[0] == "0" and int(ticks[-1].replace(",", "")) >= 100  # the axis covers the largest bar
    widths = [float(r.get("width", 0)) for r in rects]
    assert widths == sorted(widths, reverse=True)  # proportional to the values, in the order given
    assert charts.bars([], "rows").startswith("<p")


def test_labels_are_escaped_and_the_trend_and_graph_render() -> None:
    svg = charts.bars([("<script>alert(1)</script>", 3, "high")], "a & b")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)
    trend = ET.fromstring(charts.trend([{"at": "2026-12-01T10:00:00", "children": 40, "subjects": 90},
                                        {"at": "2026-12-02T10:00:00", "children": 0, "subjects": 0}]))
    assert len(trend.findall(f"{NS}polyline")) == 2 and len(trend.findall(f"{NS}circle")) == 4
    dm = {"dataset": "d", "nodes": [{"name": "accounts", "layer": 0, "identity": True, "unreached": False,
                                     "categories": ["user.contact.email"]},
                                    {"name": "pings", "layer": 1, "identity": False, "unreached": False,
                                     "categories": ["user.location.precise"]},
                                    {"name": "orphans", "layer": 2, "identity": False, "unreached": True,
                                     "categories": []}],
          "links": [{"parent": "accounts", "child": "pings", "via": "pings.account_id"}], "cycles": []}
    graph = charts.graph(dm)
    root = ET.fromstring(graph)
    assert len(root.findall(f".//{NS}g")) == 3 and len(root.findall(f"{NS}path")) == 1
    assert re.search(r'stroke="#b42318"', graph)  # the unreached collection is marked
