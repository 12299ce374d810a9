"""Hypothesis strategies for whole random rulebooks and random requests against them.

A rulebook here is small but uses every field the models allow: regimes with rules and
transfer regimes (an area, adequacy decisions with dates and `certified_only`), jurisdictions
inheriting them (at most one with transfers, as the loader requires), one or two ages of
digital consent (`parent` or `parent_and_child`, possibly with a gap), and rules of every
effect with age bands, categories and `except_categories`, uses and `except_uses`,
recipients, every destination class, effective dates, statuses, `requires`/`unless` with
consents (self, parent, holder, any; assurance; separate) and safeguards, and obligations.
Keys come from a small subset of the real taxonomy, so parents cover children.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from tutela.policy.model import Act, DecisionRequest, Grant, Subject
from tutela.rulebook import Rulebook
from tutela.rulebook.loader import _validate
from tutela.rulebook.models import (
    Adequacy,
    AgeBand,
    Citation,
    Condition,
    ConsentRequirement,
    DigitalConsent,
    Jurisdiction,
    Obligation,
    Regime,
    Requirement,
    Rule,
    Transfers,
)
from tutela.taxonomy import load_taxonomy

TAX = load_taxonomy()
CATS = ("user", "user.location", "user.location.precise", "user.location.imprecise", "user.behavior",
        "user.behavior.media_consumption", "user.contact.email", "user.biometric")
REQUEST_CATS = (*CATS, "user.contact", "user.biometric.face_geometry", "system")
USES = ("essential", "essential.service", "personalize", "personalize.content.profiled", "marketing",
        "marketing.advertising", "marketing.advertising.third_party.targeted", "analytics")
REQUEST_USES = (*USES, "personalize.content", "third_party_sharing")
SCOPES = {"ads": "advertising", "feed": "a profiled feed", "location": "precise location"}
COUNTRIES = ("DE", "FR", "CH", "JP", "US", "CN")
REQUEST_COUNTRIES = (*COUNTRIES, "BR")  # BR: named by no regime
RECIPIENTS = ("first_party", "processor", "third_party")
DAYS = (dt.date(2018, 5, 25), dt.date(2020, 7, 16), dt.date(2022, 1, 1), dt.date(2023, 7, 10), dt.date(2025, 3, 1))
JURS = ("AA", "BB", "CC-X1")
REGIMES = ("RG-ONE", "RG-TWO")
CITE = Citation(instrument="Test Act", section="s.1", url="https://example.org/test")
TODAY = dt.date(2024, 2, 29)  # the day of a request without `at`
OBLIGATIONS = (Obligation(kind="coarsen_location"), Obligation(kind="truncate_ip"),
               Obligation(kind="retain_max_days", value=30), Obligation(kind="retain_max_days", value=7),
               Obligation(kind="notify_parent"))

for _key in REQUEST_CATS:
    TAX.categories.check(_key, "rulebook_strategies.REQUEST_CATS")
for _key in REQUEST_USES:
    TAX.uses.check(_key, "rulebook_strategies.REQUEST_USES")


def _tuple(xs: st.SearchStrategy[Any], max_size: int, min_size: int = 0) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(xs, min_size=min_size, max_size=max_size, unique=True).map(tuple)


def _often_empty(xs: st.SearchStrategy[Any], max_size: int, empty: int) -> st.SearchStrategy[tuple[Any, ...]]:
    """Empty (no restriction) with weight `empty` against 1 for a non-empty tuple."""
    return st.one_of(*[st.just(())] * empty, _tuple(xs, max_size, min_size=1))


age_bands = st.one_of(
    st.none(), st.none(), st.none(),
    st.builds(AgeBand, below=st.integers(1, 18)),
    st.builds(AgeBand, min=st.integers(0, 18)),
    st.tuples(st.integers(0, 17), st.integers(1, 6)).map(lambda t: AgeBand(min=t[0], below=t[0] + t[1])),
)
conditions = st.builds(
    Condition,
    age=age_bands,
    categories=_often_empty(st.sampled_from(CATS), 2, 1),
    except_categories=_often_empty(st.sampled_from(CATS), 2, 1),
    uses=_often_empty(st.sampled_from(USES), 2, 1),
    except_uses=_often_empty(st.sampled_from(USES), 1, 2),
    recipients=_often_empty(st.sampled_from(RECIPIENTS), 2, 2),
    destination=st.sampled_from(("any", "any", "any", "third_country", "third_country", "non_adequate")),
)
consents = st.builds(
    ConsentRequirement,
    scope=st.sampled_from(sorted(SCOPES)),
    by=st.sampled_from(("self", "parent", "holder", "holder", "any")),
    assurance=st.sampled_from(("declared", "confirmed", "verified")),
    separate=st.booleans(),
)
requirements = st.one_of(
    st.builds(Requirement, consent=consents),
    st.builds(Requirement, consent=st.none() | consents,
              safeguards=_tuple(st.sampled_from(("scc", "tia")), 2, min_size=1)),
)


def _window(draw: st.DrawFn) -> tuple[dt.date, dt.date | None]:
    """A start and, one time in four, an end."""
    start = draw(st.sampled_from(DAYS[:-1]))
    end = draw(st.sampled_from(tuple(d for d in DAYS if d > start))) if draw(st.integers(0, 3)) == 0 else None
    return start, end


@st.composite
def rules(draw: st.DrawFn, rid: str) -> Rule:
    effect = draw(st.sampled_from(("permit", "permit", "forbid", "obligate")))
    start, end = _window(draw)
    kw: dict[str, Any] = {
        "id": rid, "title": f"rule {rid}", "effect": effect, "citation": CITE, "effective_from": start,
        "effective_to": end, "when": draw(conditions),
        "status": draw(st.sampled_from(("enforced",) * 15 + ("unverified", "enjoined", "not_modelled"))),
    }
    if effect == "permit":
        kw["requires"] = draw(st.none() | requirements)
        kw["obligations"] = draw(_tuple(st.sampled_from(OBLIGATIONS), 2))
    elif effect == "forbid":
        kw["unless"] = draw(st.none() | requirements)
    else:
        kw["obligations"] = draw(_tuple(st.sampled_from(OBLIGATIONS), 2, min_size=1))
    return Rule(**kw)


@st.composite
def digital_consents(draw: st.DrawFn, code: str) -> tuple[DigitalConsent, ...]:
    """One or two ages of digital consent that do not overlap (a gap between them is allowed)."""
    starts = sorted(draw(st.lists(st.sampled_from(DAYS[:-1]), min_size=1, max_size=2, unique=True)))
    out = []
    for k, start in enumerate(starts):
        later = [d for d in DAYS if d > start and (k + 1 == len(starts) or d <= starts[k + 1])]
        end = draw(st.sampled_from(later)) if k + 1 < len(starts) else draw(st.none() | st.sampled_from(later))
        out.append(DigitalConsent(id=f"{code}-DC.art8-{k}", age=draw(st.integers(13, 16)),
                                  below=draw(st.sampled_from(("parent", "parent_and_child"))),
                                  effective_from=start, effective_to=end, citation=CITE))
    return tuple(out)


@st.composite
def transfers(draw: st.DrawFn) -> Transfers:
    area = draw(_tuple(st.sampled_from(COUNTRIES), 3))
    adequacy = []
    for _ in range(draw(st.integers(0, 4))):  # a country may repeat, or be in the area too
        start, end = _window(draw)
        adequacy.append(Adequacy(country=draw(st.sampled_from(COUNTRIES)), effective_from=start, effective_to=end,
                                 certified_only=draw(st.integers(0, 3)) == 0, citation=CITE))
    return Transfers(area=area, adequacy=tuple(adequacy))


@st.composite
def rulebooks(draw: st.DrawFn) -> Rulebook:
    n = iter(range(1000))
    regimes = {}
    for code in REGIMES:
        rs = tuple(draw(rules(f"{code}.r{next(n)}")) for _ in range(draw(st.integers(0, 4))))
        regimes[code] = Regime(code=code, name=code, rules=rs, transfers=draw(st.one_of(transfers(), transfers(),
                                                                                         st.none())))
    jurisdictions = {}
    for code in JURS[: draw(st.integers(1, len(JURS)))]:
        inherits = draw(st.permutations([r for r in REGIMES if draw(st.integers(0, 3)) > 0]))
        with_transfers = [r for r in inherits if regimes[r].transfers is not None]
        inherits = [r for r in inherits if r not in with_transfers[1:]]  # the loader allows one
        own = tuple(draw(rules(f"{code}.r{next(n)}")) for _ in range(draw(st.integers(0, 4))))
        jurisdictions[code] = Jurisdiction(code=code, name=code, inherits=tuple(inherits),
                                           digital_consent=draw(digital_consents(code)), rules=own)
    _validate(regimes, jurisdictions, TAX, SCOPES)  # what the loader checks of a rulebook on disk
    return Rulebook(regimes=regimes, jurisdictions=jurisdictions, scopes=SCOPES, version="random")


def _near(draw: st.DrawFn) -> dt.date:
    """A day on, just before or just after a boundary, or any day in the rulebook's span."""
    if draw(st.booleans()):
        return draw(st.sampled_from(DAYS)) + dt.timedelta(days=draw(st.sampled_from((-1, 0, 1))))
    return draw(st.dates(dt.date(2017, 1, 1), dt.date(2027, 12, 31)))


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    scopes = draw(st.lists(st.sampled_from((*sorted(SCOPES),) * 10 + ("nope",)), min_size=1, max_size=3))
    kw: dict[str, Any] = {"scopes": tuple(scopes), "by": draw(st.sampled_from(("self", "parent"))),
                          "assurance": draw(st.sampled_from(("declared", "confirmed", "verified")))}
    for name in ("granted_at", "expires_at", "revoked_at"):
        if draw(st.integers(0, 3)) == 0:
            kw[name] = _near(draw)
    return Grant(**kw)


def _pick(draw: st.DrawFn, wanted: tuple[str, ...], anything: tuple[str, ...], unknown: str) -> str:
    """A key the target rule names (or a child of it), any key, or now and then an unknown one."""
    if wanted and draw(st.integers(0, 4)):
        key = draw(st.sampled_from(wanted))
        return draw(st.sampled_from(tuple(k for k in anything if k == key or k.startswith(key + "."))))
    return draw(st.sampled_from((*anything,) * 20 + (unknown,)))


def _destination(draw: st.DrawFn, book: Rulebook, jur: Jurisdiction | None, when: Condition) -> str | None:
    """No transfer, a country of the area, one with an adequacy entry (more often when the
    target rule names a destination class), or any country."""
    regimes = [book.regimes[n].transfers for n in jur.inherits] if jur else []
    tr = next((t for t in regimes if t is not None), None)
    options: list[tuple[str, ...]] = [REQUEST_COUNTRIES]
    if tr is not None:
        adequate = tuple(a.country for a in tr.adequacy)
        options += [tr.area, adequate] + [adequate] * (2 if when.destination != "any" else 0)
    countries = draw(st.sampled_from(tuple(o for o in options if o)))
    return None if draw(st.integers(0, 3)) == 0 else draw(st.sampled_from(countries))


@st.composite
def requests(draw: st.DrawFn, book: Rulebook) -> DecisionRequest:
    """A request, most often aimed at one rule of its jurisdiction (its keys, ages and dates)."""
    code = "ZZ" if draw(st.integers(0, 29)) == 0 else draw(st.sampled_from(tuple(sorted(book.jurisdictions))))
    jur = book.jurisdictions.get(code)
    pool = [] if jur is None else [*(r for n in jur.inherits for r in book.regimes[n].rules), *jur.rules]
    target = draw(st.sampled_from(pool)) if pool and draw(st.integers(0, 5)) else None
    when = target.when if target else Condition()
    if target and draw(st.integers(0, 5)):
        end = target.effective_to or dt.date(2028, 1, 1)
        at: dt.date | None = target.effective_from + dt.timedelta(
            days=draw(st.integers(0, (end - target.effective_from).days - 1)))
    else:
        at = None if draw(st.integers(0, 9)) == 0 else _near(draw)
    day = at or TODAY
    if when.age is not None and draw(st.integers(0, 5)):
        low, high = when.age.min or 0, (when.age.below or 25) - 1
        age = draw(st.integers(low, high) | st.sampled_from((low, high)))
    else:
        age = draw(st.integers(0, 20)) if draw(st.integers(0, 4)) else draw(st.integers(0, 130))
    who: dict[str, Any] = {}
    how = draw(st.integers(0, 9))
    if how < 5:
        who["age"] = age
    elif how < 8:  # a birth date, now and then after the act or over 130 years before it
        years = min(age, 100) if draw(st.integers(0, 19)) else draw(st.sampled_from((-1, 131)))
        birth = day - dt.timedelta(days=int(365.25 * years) + draw(st.integers(-3, 3)))
        who["birth_date"] = dt.date(2000, 2, 29) if draw(st.integers(0, 9)) == 0 else birth
    else:
        who["age_range"] = (min(age, 125), min(age, 125) + draw(st.integers(0, 5)))
    subject = Subject(jurisdiction=code, grants=tuple(draw(st.lists(grants(), max_size=4))), **who)
    act = Act(category=_pick(draw, when.categories, REQUEST_CATS, "user.nope"),
              use=_pick(draw, when.uses, REQUEST_USES, "nope"),
              recipient=draw(st.sampled_from(when.recipients or RECIPIENTS)),
              destination=_destination(draw, book, jur, when),
              recipient_certified=draw(st.booleans()),
              safeguards=tuple(draw(st.lists(st.sampled_from(("scc", "tia")), max_size=2, unique=True))),
              at=at)
    return DecisionRequest(subject=subject, act=act)
