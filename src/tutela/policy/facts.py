"""From a validated request to the plain facts both evaluators read.

Also the vocabulary of requirements: a requirement resolves, for one subject, into a set of
atomic `Token`s (a consent of one scope by self or parent at an assurance level, possibly
separate; or a transfer safeguard). A requirement is met when every token is satisfied.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, NamedTuple

from tutela.errors import InvalidRequestError, UnknownKeyError
from tutela.policy.model import DecisionRequest, Grant, age_on
from tutela.policy.model import DestClass as DestClass
from tutela.policy.model import Facts as Facts
from tutela.policy.model import GrantFact as GrantFact
from tutela.rulebook import Rulebook
from tutela.rulebook.models import ASSURANCE_ORDER, DigitalConsent, Requirement
from tutela.taxonomy import Taxonomy


class Token(NamedTuple):
    kind: Literal["consent", "safeguard"]
    name: str  # consent scope or safeguard name
    by: str  # "self" | "parent" | "any" ("" for safeguards)
    level: int  # minimum assurance (ASSURANCE_ORDER)
    separate: bool


def grant_facts(grants: tuple[Grant, ...], day: dt.date) -> frozenset[GrantFact]:
    out: set[GrantFact] = set()
    for g in grants:
        if g.valid_on(day):
            alone = len(set(g.scopes)) == 1
            out.update(GrantFact(s, g.by, ASSURANCE_ORDER[g.assurance], alone) for s in g.scopes)
    return frozenset(out)


def satisfied(token: Token, grants: frozenset[GrantFact], safeguards: frozenset[str]) -> bool:
    if token.kind == "safeguard":
        return token.name in safeguards
    return any(
        f.scope == token.name
        and (token.by == "any" or f.by == token.by)
        and f.level >= token.level
        and (f.separate or not token.separate)
        for f in grants
    )


def resolve(req: Requirement, age: int, dc: DigitalConsent | None) -> tuple[frozenset[Token], bool]:
    """The tokens a requirement asks of this subject, and whether the holder rule was used."""
    tokens: set[Token] = {Token("safeguard", s, "", 0, False) for s in req.safeguards}
    used_holder = False
    c = req.consent
    if c is not None:
        level = ASSURANCE_ORDER[c.assurance]
        if c.by == "holder":
            used_holder = dc is not None
            if dc is not None and age < dc.age:
                tokens.add(Token("consent", c.scope, "parent", level, c.separate))
                if dc.below == "parent_and_child":
                    tokens.add(Token("consent", c.scope, "self", 0, c.separate))
            else:
                tokens.add(Token("consent", c.scope, "self", 0, c.separate))
        else:
            tokens.add(Token("consent", c.scope, c.by, level, c.separate))
    return frozenset(tokens), used_holder


def destination_class(book: Rulebook, jur: str, dest: str | None, day: dt.date, certified: bool) -> DestClass:
    regime = book.transfer_regime(jur)
    if dest is None or regime is None or regime.transfers is None or dest in regime.transfers.area:
        return "none"
    return "adequate" if book.adequacy(regime, dest, day, certified) else "non_adequate"


def derive(book: Rulebook, tax: Taxonomy, req: DecisionRequest, today: dt.date) -> Facts:
    """Validate keys and dates against the rulebook and taxonomy, and derive the facts."""
    s, a = req.subject, req.act
    book.jurisdiction(s.jurisdiction, where="subject.jurisdiction")
    tax.categories.check(a.category, "act.category")
    tax.uses.check(a.use, "act.use")
    for i, g in enumerate(s.grants):
        for scope in g.scopes:
            if scope not in book.scopes:
                raise UnknownKeyError(
                    f"unknown consent scope `{scope}`",
                    where=f"subject.grants[{i}].scopes",
                    hint=f"known scopes: {sorted(book.scopes)}",
                )
    day = a.at or today
    if s.birth_date is not None:
        if s.birth_date > day:
            raise InvalidRequestError(
                f"birth date `{s.birth_date}` is after the act's date `{day}`",
                where="subject.birth_date",
            )
        age = age_on(s.birth_date, day)
        if age > 130:
            raise InvalidRequestError(f"impossible age {age}", where="subject.birth_date")
    elif s.age_range is not None:
        age = s.age_range[0]  # the lower bound: the most protective reading
    else:
        assert s.age is not None
        age = s.age
    return Facts(
        jurisdiction=s.jurisdiction,
        age=age,
        day=day,
        category=a.category,
        use=a.use,
        recipient=a.recipient,
        dest_class=destination_class(book, s.jurisdiction, a.destination, day, a.recipient_certified),
        grants=grant_facts(s.grants, day),
        safeguards=frozenset(a.safeguards),
    )
