"""Apple Declared Age Range (DeclaredAgeRange framework, OS 26+) as forwarded by the app.

    {"lowerBound": 13, "upperBound": 15, "ageRangeDeclaration": "guardianDeclared",
     "observedAt": "2026-11-02T09:00:00Z", "subject": "<opaque id>"}

`lowerBound`/`upperBound` are inclusive; `null` means no bound below the lowest or above the
highest age gate the app asked for. `ageRangeDeclaration` says how the range was set
(developer.apple.com/documentation/declaredagerange/agerangeservice/agerangedeclaration).
A range set by a guardian is `parent_declared` whatever checked the guardian: the check
was of the adult, not of the child's age. `confirmed` and `checkedByOtherMethod` name no
method, so they count as `estimated`, never `verified`. Cases this reader does not know are
refused (naming the known ones), not guessed.
"""

from __future__ import annotations

import datetime as dt

from tutela.age.levels import Level
from tutela.age.record import AgeRecord
from tutela.age.signals._common import Context, age, band, choice, mapping, text, when
from tutela.errors import InputError

DECLARATIONS: dict[str, Level] = {
    "selfDeclared": "self_declared",
    "guardianDeclared": "parent_declared",
    "governmentIDChecked": "verified",
    "checkedByOtherMethod": "estimated",
    "confirmed": "estimated",
    "guardianPaymentChecked": "parent_declared",
    "guardianCheckedByOtherMethod": "parent_declared",
}
VALIDITY = dt.timedelta(days=365)


def read(payload: object, ctx: Context) -> AgeRecord:
    p = mapping(payload)
    if p.get("response", "sharing") != "sharing":
        raise InputError(f"no age range was shared (response `{p.get('response')}`)", where="signal.response",
                         hint="ask for the age another way; a declined request is not an age")
    declared = choice(p, "ageRangeDeclaration", DECLARATIONS)
    lower = age(p, "lowerBound", required=False)
    upper = age(p, "upperBound", required=False)
    if lower is None and upper is None:
        raise InputError("neither `lowerBound` nor `upperBound` is set", where="signal",
                         hint="a shared range has at least one bound")
    lo, hi = band(lower or 0, upper, "signal.upperBound")
    observed = when(p, "observedAt", ctx.now)
    return AgeRecord(subject=text(p, "subject", required=False), lower=lo, upper=hi, as_of=observed.date(),
                     method=f"apple.{declared}", level=DECLARATIONS[declared], issuer="apple.com",
                     source="apple", observed_at=observed, expires_at=observed + VALIDITY,
                     basis=ctx.book.basis("apple.declared-age-range", ctx.today))
