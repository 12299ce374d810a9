"""A record of processing activities (GDPR Art. 30(1)) from the data map.

Art. 30(1) lists what the record holds: (a) the controller and its contact details, (b) the
purposes, (c) the categories of data subjects and of personal data, (d) the recipients, (e)
transfers to a third country with their safeguards, (f) where possible the time limits for
erasure, (g) where possible the security measures (Regulation (EU) 2016/679,
https://eur-lex.europa.eu/eli/reg/2016/679/oj, applicable from 2018-05-25). Every field comes
from the data map (and, for transfers, from the estate's processors table when the estate is
given); what the data map does not hold is written as `not recorded`, never guessed.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from tutela.datamap import DataMap
from tutela.taxonomy import Taxonomy

NOT_RECORDED = "not recorded in the data map"
CITATION = {"instrument": "Regulation (EU) 2016/679 (GDPR)", "section": "Art. 30(1)",
            "url": "https://eur-lex.europa.eu/eli/reg/2016/679/oj", "effective": "2018-05-25"}


def _categories(fields: Any) -> set[str]:
    out: set[str] = set()
    for f in fields:
        out.update(f.data_categories)
        out |= _categories(f.fields)
    return out


def record(dm: DataMap, tax: Taxonomy, processors: pa.Table | None, processors_why: str) -> dict[str, Any]:
    """The record, one activity per declared collection; `processors` the estate's processors
    table (None: not read, `processors_why` says why)."""
    names = {k: e.name for k, e in tax.categories.entries.items()}
    uses = {k: e.name for k, e in tax.uses.entries.items()}
    decl = dm.tutela
    activities = []
    for coll in dm.dataset.collections:
        d = decl.collections.get(coll.name) if decl else None
        cats = sorted(_categories(coll.fields) | set(coll.data_categories))
        activities.append({
            "collection": coll.name,
            "purposes": [{"use": a.use, "name": uses.get(a.use, a.use)} for a in d.acts] if d else NOT_RECORDED,
            "data_categories": [{"key": c, "name": names.get(c, c)} for c in cats],
            "recipients": sorted({a.recipient for a in d.acts}) if d else NOT_RECORDED,
            "storage_region": (d.storage_region if d and d.storage_region else NOT_RECORDED),
            "erasure_time_limit": (f"{d.retention_days} days" if d and d.retention_days
                                   else "no time limit declared" if d else NOT_RECORDED),
        })
    subjects = ({"collection": decl.subjects.collection, "key": decl.subjects.key,
                 "description": "users of the service (account holders), children among them: age from "
                                f"`{decl.subjects.birth_date}`" if decl.subjects.birth_date else
                                "users of the service (account holders)"} if decl else NOT_RECORDED)
    return {
        "citation": CITATION,
        "dataset": dm.dataset.fides_key,
        "source": dm.source,
        "controller": NOT_RECORDED,
        "categories_of_data_subjects": subjects,
        "activities": activities,
        "third_country_transfers": _transfers(dm, processors, processors_why),
        "security_measures": NOT_RECORDED,
        "note": "fields written `not recorded` are not in the data map; add them to the record by hand",
    }


def _transfers(dm: DataMap, processors: pa.Table | None, why: str) -> dict[str, Any]:
    t = dm.tutela.transfers if dm.tutela else None
    if t is None:
        return {"declared": False, "recipients": NOT_RECORDED}
    if processors is None:
        return {"declared": True, "collection": t.collection, "recipients": f"not searched: {why}"}
    p = t.processors
    rows = []
    for r in processors.to_pylist():
        rows.append({"processor": str(r[p.key]), "kind": r[p.kind], "country": r[p.country],
                     "dpf_certified": bool(r[p.certified]), "scc": r[p.scc] or None,
                     "transfer_assessment": str(r[p.tia]) if r[p.tia] else None})
    return {"declared": True, "collection": t.collection, "processors_collection": p.collection,
            "recipients": sorted(rows, key=lambda x: x["processor"])}
