"""What changed in the rulebook between two dates: rules, consent ages and adequacy."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Literal

from tutela.rulebook.book import Rulebook

Which = Literal["starts", "ends"]


@dataclass(frozen=True)
class Change:
    kind: Literal["rule", "digital_consent", "adequacy"]
    id: str
    source: str
    change: Which
    on: dt.date
    title: str
    instrument: str
    section: str
    url: str

    def to_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}


def _span(start: dt.date, end: dt.date | None, a: dt.date, b: dt.date) -> tuple[Which, dt.date] | None:
    """Did [start, end) begin or end within (a, b]?"""
    if a < start <= b:
        return "starts", start
    if end is not None and a < end <= b:
        return "ends", end
    return None


def diff(book: Rulebook, start: dt.date, end: dt.date) -> list[Change]:
    out: list[Change] = []
    for s in book.all_rules:
        r = s.rule
        if r.status != "enforced":
            continue
        hit = _span(r.effective_from, r.effective_to, start, end)
        if hit:
            c = r.citation
            out.append(Change("rule", r.id, s.source, hit[0], hit[1], r.title,
                              c.instrument, c.section, c.url))
    for dcid, (code, d) in book.consent_index.items():
        hit = _span(d.effective_from, d.effective_to, start, end)
        if hit:
            c = d.citation
            out.append(Change("digital_consent", dcid, code, hit[0], hit[1],
                              f"age of digital consent {d.age}", c.instrument, c.section, c.url))
    for code, reg in book.regimes.items():
        for a in reg.transfers.adequacy if reg.transfers else ():
            hit = _span(a.effective_from, a.effective_to, start, end)
            if hit:
                c = a.citation
                title = f"adequacy for {a.country}" + (" (certified recipients only)" if a.certified_only else "")
                out.append(Change("adequacy", f"{code}.adequacy.{a.country}", code, hit[0], hit[1],
                                  title, c.instrument, c.section, c.url))
    return sorted(out, key=lambda c: (c.on, c.kind, c.id))
