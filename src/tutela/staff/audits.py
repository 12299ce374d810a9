"""The audits the console ran, kept in the state store: what every page shows is the latest
one, and the overview's trend is their history.

A stored audit holds counts, citations and pseudonymous example ids only (no personal data):
the findings as `Finding.to_dict` gives them and a summary of distinct subjects and children
over every rule and per severity.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import sqlalchemy as sa

from tutela.audit import Finding, Findings
from tutela.staff.tables import audit_runs
from tutela.store.state import StateStore, canonical, now

SEVERITIES = ("critical", "high", "medium", "low")
RANK = {s: i for i, s in enumerate(SEVERITIES)}


def summary(found: Findings) -> dict[str, Any]:
    """Rules breached, rows, and distinct subjects and children, overall and per severity."""
    per: dict[str, dict[str, int]] = {}
    for f in found:
        if f.status != "open":
            continue
        s = per.setdefault(f.severity, {"rules": 0, "rows": 0, "subjects": 0, "children": 0})
        s["rules"] += 1
        s["rows"] += f.rows
    for sev, d in found.distinct.items():
        if sev != "all":
            per.setdefault(sev, {"rules": 0, "rows": 0, "subjects": 0, "children": 0}).update(d)
    every = found.distinct.get("all", {})
    return {"rules": sum(p["rules"] for p in per.values()), "rows": sum(p["rows"] for p in per.values()),
            "subjects": int(every.get("subjects", 0)), "children": int(every.get("children", 0)),
            "by_severity": {k: per[k] for k in sorted(per, key=lambda k: RANK.get(k, 99))}}


def risk(f: dict[str, Any]) -> tuple[int, int, int, int, str]:
    """Most severe first, then the most children, subjects and rows."""
    return (RANK.get(f["severity"], 99), -int(f["children"]), -int(f["subjects"]), -int(f["rows"]), f["rule"])


class Audits:
    def __init__(self, state: StateStore):
        self.state = state

    def save(self, estate_key: str, as_of: dt.date, by: str, found: Findings) -> dict[str, Any]:
        effects = {f.rule: f.effect for f in found}
        row = {"run_id": uuid.uuid4().hex[:16], "estate_key": estate_key, "at": now(), "as_of": as_of, "by": by,
               "summary": canonical(summary(found)),
               "findings": canonical({"findings": [{**f.to_dict(), "effect": effects[f.rule]} for f in found]})}
        with self.state.tx() as c:
            c.execute(audit_runs.insert().values(**row))
        return self._view(row)

    def latest(self, estate_key: str) -> dict[str, Any] | None:
        q = (sa.select(audit_runs).where(audit_runs.c.estate_key == estate_key)
             .order_by(audit_runs.c.at.desc(), audit_runs.c.run_id.desc()).limit(1))
        with self.state.engine.connect() as c:
            row = c.execute(q).mappings().first()
        return None if row is None else self._view(dict(row))

    def history(self, estate_key: str, limit: int = 30) -> list[dict[str, Any]]:
        """Summaries of the last `limit` audits, oldest first (for the trend)."""
        q = (sa.select(audit_runs.c.run_id, audit_runs.c.at, audit_runs.c.as_of, audit_runs.c.by,
                       audit_runs.c.summary).where(audit_runs.c.estate_key == estate_key)
             .order_by(audit_runs.c.at.desc(), audit_runs.c.run_id.desc()).limit(limit))
        with self.state.engine.connect() as c:
            rows = [dict(r) for r in c.execute(q).mappings()]
        return [{"id": r["run_id"], "at": r["at"].isoformat(), "as_of": r["as_of"].isoformat(), "by": r["by"],
                 **json.loads(r["summary"])} for r in reversed(rows)]

    @staticmethod
    def _view(row: dict[str, Any]) -> dict[str, Any]:
        findings = json.loads(row["findings"])["findings"]
        return {"id": row["run_id"], "at": row["at"].isoformat(), "at_time": row["at"],
                "as_of": row["as_of"].isoformat() if isinstance(row["as_of"], dt.date) else row["as_of"],
                "by": row["by"], "summary": json.loads(row["summary"]),
                "findings": sorted(findings, key=risk)}

    @staticmethod
    def as_findings(view: dict[str, Any]) -> Findings:
        """A stored audit back as Findings (for the HTML report), distinct counts included."""
        s = view["summary"]
        distinct = {"all": {"subjects": s["subjects"], "children": s["children"]},
                    **{k: {"subjects": v["subjects"], "children": v["children"]} for k, v in s["by_severity"].items()}}
        return Findings([Finding.from_dict(f) for f in sorted(view["findings"], key=lambda f: f["rule"])], distinct)
