"""App-store accountability signals: the age category an app store shares with developers
under the Utah (Utah Code §13-76-202), Louisiana (La. R.S. 51:1771-1775) and Texas (SB 2420)
acts.

    {"act": "US-UT", "ageCategory": "younger_teenager", "parentalConsent": "granted",
     "store": "example-store", "method": "estimated", "observedAt": "2027-06-01T12:00:00Z"}

The acts define the categories (child <13, younger teenager 13-15, older teenager 16-17,
adult 18+), not a wire format; this is Tutela's JSON for them. The store's verification
method is not part of the signal unless it says so (`method`: verified | estimated |
parent_attested); without it the level is `inferred`. Each act's status on the day is in
the record's basis: the Texas signal is still read as a fact about age, but while the Act
is enjoined its duties are not applied (`enforced: false`).
"""

from __future__ import annotations

import datetime as dt

from tutela.age.levels import Level
from tutela.age.record import CATEGORY_BAND, AgeRecord, Category
from tutela.age.signals._common import Context, choice, mapping, text, when

CATEGORIES: dict[str, Category] = {c: c for c in ("child", "younger_teenager", "older_teenager", "adult")}
METHODS: dict[str, Level] = {"verified": "verified", "estimated": "estimated", "parent_attested": "parent_declared",
                             "unspecified": "inferred"}
CONSENT = {"granted": "approved", "pending": "pending", "denied": "denied", "revoked": "denied", "not_required": None}
VALIDITY = dt.timedelta(days=365)  # Utah §13-76-202(2)(a): a developer may re-ask once in 12 months


def read(payload: object, ctx: Context) -> AgeRecord:
    p = mapping(payload)
    act = text(p, "act")
    assert act is not None
    src = ctx.book.appstore(act)
    cat = CATEGORIES[choice(p, "ageCategory", CATEGORIES)]
    method = choice(p, "method", METHODS) if p.get("method") is not None else "unspecified"
    consent = CONSENT[choice(p, "parentalConsent", CONSENT)] if p.get("parentalConsent") is not None else None
    lower, upper = CATEGORY_BAND[cat]
    observed = when(p, "observedAt", ctx.now)
    return AgeRecord(subject=text(p, "subject", required=False), lower=lower, upper=upper,
                     as_of=observed.date() - dt.timedelta(days=src.lag_days), method=f"appstore.{method}",
                     level=METHODS[method], issuer=text(p, "store", required=False) or "app-store",
                     source="appstore", observed_at=observed, expires_at=observed + VALIDITY,
                     basis=ctx.book.basis(src.id, ctx.today),
                     guardian_approval=consent)  # type: ignore[arg-type]  # one of the Literal values above
