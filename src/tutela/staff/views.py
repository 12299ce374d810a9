"""Plain data for the console's pages, from the capabilities' own objects (no HTML here)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tutela.datamap import load_datamap
from tutela.datamap.graph import identity_seeds, traverse
from tutela.repair import load_repairs
from tutela.rulebook import Rulebook
from tutela.rulebook.models import Rule


def _rule(rule: Rule, source: str, day: dt.date) -> dict[str, Any]:
    c = rule.citation
    return {"id": rule.id, "title": rule.title, "effect": rule.effect, "source": source, "status": rule.status,
            "effective_from": rule.effective_from.isoformat(),
            "effective_to": rule.effective_to.isoformat() if rule.effective_to else None,
            "in_force": rule.in_force(day),
            "citation": {"instrument": c.instrument, "section": c.section, "url": c.url,
                         "primary_checked": c.primary_checked, "note": c.note},
            "uses": list(rule.when.uses), "categories": list(rule.when.categories),
            "age": rule.when.age.model_dump() if rule.when.age else None}


def finding_detail(book: Rulebook, finding: dict[str, Any]) -> dict[str, Any]:
    """A finding with its rule (citation, dates, status) and the repair each data category would get."""
    scoped = book.rule_index[finding["rule"]]
    rule = scoped.rule
    repairs = load_repairs()
    uses = rule.when.uses or ("",)
    per: list[dict[str, str]] = []
    for category in sorted(finding["categories"] or finding["collections"]):
        for use in uses:
            hit = next((r for r in repairs if r.matches(category, use)), None)
            if hit is not None:
                per.append({"category": category, "use": use or "any", "repair": hit.repair, "why": hit.why})
                break
    return {**finding, "rule_detail": _rule(rule, scoped.source, dt.date.today()), "repairs": per}


def job(row: dict[str, Any]) -> dict[str, Any]:
    spec = row["spec"]
    dry = spec.get("dry_run") or {}
    summary = spec.get("summary") or {}
    return {"job_id": row["job_id"], "status": row["status"], "estate": row["estate"],
            "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
            "rules": spec.get("rules", []), "created_by": spec.get("created_by"),
            "approved_by": spec.get("approved_by"), "executed_by": spec.get("executed_by"),
            "as_of": spec.get("as_of"), "note": row.get("note"),
            "planned": dry.get("steps") or summary.get("steps") or [],
            "subjects": dry.get("subjects", summary.get("subjects")),
            "changed": spec.get("changed"), "attempts": spec.get("attempts")}


def queue(requests: list[dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    """Open requests first, the nearest deadline first; days left on each (negative: overdue)."""
    out = []
    for r in requests:
        due = dt.date.fromisoformat(r["due"]) if r.get("due") else None
        out.append({**r, "days_left": (due - today).days if due else None})
    open_first = ("pending_approval", "approved", "failed")
    return sorted(out, key=lambda r: (r["status"] not in open_first, r["due"] or "9999", r["id"]))


def rulebook(book: Rulebook, day: dt.date) -> list[dict[str, Any]]:
    return [{"code": c, "name": j.name, "regimes": list(j.inherits), "rules": len(book.rules_for(c)),
             "in_force": sum(1 for s in book.rules_for(c) if s.rule.in_force(day))}
            for c, j in sorted(book.jurisdictions.items())]


def jurisdiction(book: Rulebook, code: str, day: dt.date) -> dict[str, Any]:
    j = book.jurisdiction(code, where="code")
    return {"code": j.code, "name": j.name, "regimes": list(j.inherits), "note": j.note,
            "digital_consent": [d.model_dump(mode="json") for d in j.digital_consent],
            "rules": [_rule(s.rule, s.source, day) for s in book.rules_for(j.code)]}


def datamap(path: Path | None) -> dict[str, Any]:
    """The estate's collections as a graph: layers from the identities, links by reference."""
    dm = load_datamap(path)
    seeds = identity_seeds(dm)
    t = traverse(dm, seeds)
    layer: dict[str, int] = {}
    for name in t.order:
        parents = [layer[ln.parent] for ln in t.inputs.get(name, ()) if ln.parent in layer]
        layer[name] = 0 if name in seeds or not parents else 1 + max(parents)
    last = max(layer.values(), default=-1) + 1
    for name in (*t.unreached, *t.skipped):
        layer[name] = last
    nodes = [{"name": c.name, "layer": layer.get(c.name, last), "identity": c.name in seeds,
              "unreached": c.name in t.unreached,
              "categories": sorted({k for ks in dm.categories(c.name).values() for k in ks})}
             for c in dm.dataset.collections]
    links = [{"parent": ln.parent, "child": ln.child, "via": ln.where}
             for feed in t.inputs.values() for ln in feed]
    return {"dataset": dm.dataset.fides_key, "nodes": nodes, "links": links,
            "cycles": [ln.where for ln in t.cycles]}
