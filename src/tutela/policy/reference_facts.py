"""The reference's own reading of a request and of the rulebook's data (see `reference.py`).

From a validated `DecisionRequest` it checks the keys and dates and derives the `Facts`:
the age on the act's day (birthdays counted; the lower bound of an age range, the most
protective reading), the destination class, and the grants valid that day. It uses the
rulebook's data only, not the helper methods the compiled tables call (`Rulebook.rules_for`,
`transfer_regime`, `adequacy`, `digital_consent`, `Adequacy.adequate`, `Rule.in_force`, ...).

The first problem found is reported, in this order: jurisdiction, category, use, grant
scopes, birth date after the act, impossible age.
"""

from __future__ import annotations

import datetime as dt

from tutela.errors import InvalidRequestError, UnknownKeyError
from tutela.policy.model import DecisionRequest, DestClass, Facts, Grant, GrantFact
from tutela.rulebook import Rulebook, ScopedRule
from tutela.rulebook.models import DigitalConsent, Jurisdiction
from tutela.rulebook.suggest import jurisdiction_hint
from tutela.taxonomy import Taxonomy

LEVELS = ("declared", "confirmed", "verified")


def in_window(start: dt.date, end: dt.date | None, day: dt.date) -> bool:
    """Dates are half-open: in force from `start`, no longer on `end`."""
    return start <= day and (end is None or day < end)


def rules_of(book: Rulebook, code: str) -> tuple[ScopedRule, ...]:
    """The rules of the regimes the jurisdiction inherits, then its own."""
    jur = book.jurisdictions[code]
    inherited = [ScopedRule(r, name) for name in jur.inherits for r in book.regimes[name].rules]
    return (*inherited, *(ScopedRule(r, code) for r in jur.rules))


def consent_age(jur: Jurisdiction, day: dt.date) -> DigitalConsent | None:
    """The age of digital consent in force on `day` (entries do not overlap), if any."""
    return next((d for d in jur.digital_consent if in_window(d.effective_from, d.effective_to, day)), None)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years: one more on each birthday (a 29 February birthday falls on 1 March)."""
    years = day.year - birth.year
    return years - 1 if (day.month, day.day) < (birth.month, birth.day) else years


def destination_class(book: Rulebook, code: str, dest: str | None, day: dt.date, certified: bool) -> DestClass:
    """`none` without a transfer or a transfer regime, or inside its area; `adequate` under an
    adequacy decision in force (certified recipients only, where it says so); else `non_adequate`."""
    regimes = [book.regimes[n] for n in book.jurisdictions[code].inherits if book.regimes[n].transfers is not None]
    transfers = regimes[0].transfers if regimes else None
    if dest is None or transfers is None or dest in transfers.area:
        return "none"
    adequate = any(a.country == dest and in_window(a.effective_from, a.effective_to, day)
                   and (certified or not a.certified_only) for a in transfers.adequacy)
    return "adequate" if adequate else "non_adequate"


def valid_on(g: Grant, day: dt.date) -> bool:
    """Given on or before `day`, not yet expired nor revoked on it."""
    return ((g.granted_at is None or g.granted_at <= day) and (g.expires_at is None or day < g.expires_at)
            and (g.revoked_at is None or day < g.revoked_at))


def grants_on(grants: tuple[Grant, ...], day: dt.date) -> frozenset[GrantFact]:
    """One fact per scope of each valid grant; a grant of one scope alone is *separate*."""
    return frozenset(GrantFact(scope, g.by, LEVELS.index(g.assurance), len(set(g.scopes)) == 1)
                     for g in grants if valid_on(g, day) for scope in g.scopes)


def derive(book: Rulebook, tax: Taxonomy, req: DecisionRequest, today: dt.date) -> Facts:
    s, a = req.subject, req.act
    if s.jurisdiction not in book.jurisdictions:
        raise UnknownKeyError(f"unknown jurisdiction `{s.jurisdiction}`", where="subject.jurisdiction",
                              hint=jurisdiction_hint(s.jurisdiction, book.jurisdictions))
    tax.categories.check(a.category, "act.category")
    tax.uses.check(a.use, "act.use")
    for i, g in enumerate(s.grants):
        for scope in g.scopes:
            if scope not in book.scopes:
                raise UnknownKeyError(f"unknown consent scope `{scope}`", where=f"subject.grants[{i}].scopes",
                                      hint=f"known scopes: {sorted(book.scopes)}")
    day = a.at or today
    if s.birth_date is not None:
        if s.birth_date > day:
            raise InvalidRequestError(f"birth date `{s.birth_date}` is after the act's date `{day}`",
                                      where="subject.birth_date")
        age = age_on(s.birth_date, day)
        if age > 130:
            raise InvalidRequestError(f"impossible age {age}", where="subject.birth_date")
    elif s.age_range is not None:
        age = s.age_range[0]
    elif s.age is not None:
        age = s.age
    else:  # the Subject model requires exactly one of the three
        raise InvalidRequestError("give exactly one of `birth_date`, `age` or `age_range`", where="subject")
    return Facts(
        jurisdiction=s.jurisdiction, age=age, day=day, category=a.category, use=a.use, recipient=a.recipient,
        dest_class=destination_class(book, s.jurisdiction, a.destination, day, a.recipient_certified),
        grants=grants_on(s.grants, day), safeguards=frozenset(a.safeguards),
    )
