"""Checks across Tutela's packaged data that no single file's schema can make.

Each file validates on its own when it loads (the rulebook, `deadlines.yaml`,
`remediation.yaml`); this module checks what they say about each other, for
`tutela rules check`:

- every deadline applies to a regime or a jurisdiction of the rulebook (a misspelt code
  would silently never apply);
- every repair names data categories and data uses of the taxonomy (a misspelt key would
  silently never match, and its rows would fall through to the next repair);
- `age_assurance.yaml` loads, names only regimes and jurisdictions of the rulebook, and holds
  together (tutela.age.check);
- `consent.yaml` loads, its scopes map onto the rulebook's consent scopes, its codes are the
  rulebook's, every method has a plug-in and every entry is cited (tutela.consent.check);
- every enforced rule and every age of digital consent cites its source over https, and an
  unverified or enjoined rule says why in its citation's note (a rule out of enforcement
  must say what is missing).
"""

from __future__ import annotations

from pathlib import Path

from tutela.age import check as check_age
from tutela.consent import check as check_consent
from tutela.datamap.check import Problem
from tutela.errors import TutelaError
from tutela.repair import load_repairs
from tutela.rights import load_deadlines
from tutela.rulebook import Rulebook
from tutela.taxonomy import Taxonomy


def check_data(book: Rulebook, taxonomy: Taxonomy, deadlines: Path | None = None,
               repairs: Path | None = None, age: Path | None = None) -> list[Problem]:
    """Every problem found; an empty list when the data is consistent."""
    out: list[Problem] = []
    known = set(book.regimes) | set(book.jurisdictions)
    out += check_age(age, frozenset(known))
    out += check_consent(None, frozenset(known), book.scopes)
    try:
        for e in load_deadlines(deadlines).entries:
            out += [Problem(f"deadlines.yaml: {e.id}.applies_to", f"`{code}` is no regime or jurisdiction of the "
                            "rulebook") for code in e.applies_to if code not in known]
    except TutelaError as exc:
        out.append(Problem(exc.where or "deadlines.yaml", exc.message))
    try:
        for i, r in enumerate(load_repairs(repairs)):
            where = f"remediation.yaml: repairs.{i}"
            out += [Problem(f"{where}.categories", f"unknown data category `{c}`") for c in r.categories
                    if c not in taxonomy.categories]
            out += [Problem(f"{where}.uses", f"unknown data use `{u}`") for u in r.uses if u not in taxonomy.uses]
    except TutelaError as exc:
        out.append(Problem(exc.where or "remediation.yaml", exc.message))
    for s in book.all_rules:
        rule, where = s.rule, f"{s.source}: rule {s.rule.id}"
        if rule.status == "enforced" and not rule.citation.url.startswith("https://"):
            out.append(Problem(f"{where}.citation.url", "an enforced rule cites its source over https"))
        if rule.status != "enforced" and not rule.citation.note:
            out.append(Problem(f"{where}.citation.note", f"a rule that is `{rule.status}` says why in the note"))
    for code, jur in sorted(book.jurisdictions.items()):
        out += [Problem(f"{code}: digital_consent {d.id}.citation.url", "an age of consent cites its source over https")
                for d in jur.digital_consent if not d.citation.url.startswith("https://")]
    return out
