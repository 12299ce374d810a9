"""The California Digital Age Assurance Act (AB 1043) operating-system age-bracket signal.

    {"ageBracket": "13-15", "observedAt": "2027-02-01T10:00:00Z", "os": "example-os"}

The Act fixes the brackets (Cal. Civ. Code §1798.500(b): under 13, 13-15, 16-17, 18+), not a
wire format: this is Tutela's JSON for them (`under_13`/`<13`, `13_15`/`13-15`, `16_17`/`16-17`,
`18_plus`/`18+`). The account holder indicates the age at device setup: for a minor that is
the parent (`parent_declared`), for an adult the adult (`self_declared`). From 2027-01-01 a
developer receiving it has actual knowledge of the age range (the record's basis says so).
"""

from __future__ import annotations

import datetime as dt

from tutela.age.record import CATEGORY_BAND, AgeRecord, Category
from tutela.age.signals._common import Context, choice, mapping, text, when

BRACKETS: dict[str, Category] = {
    "under_13": "child", "<13": "child", "13_15": "younger_teenager", "13-15": "younger_teenager",
    "16_17": "older_teenager", "16-17": "older_teenager", "18_plus": "adult", "18+": "adult",
}
VALIDITY = dt.timedelta(days=365)


def read(payload: object, ctx: Context) -> AgeRecord:
    p = mapping(payload)
    bracket = choice(p, "ageBracket", BRACKETS)
    cat = BRACKETS[bracket]
    lower, upper = CATEGORY_BAND[cat]
    observed = when(p, "observedAt", ctx.now)
    return AgeRecord(lower=lower, upper=upper, as_of=observed.date(), method="ca-daaa.os_signal",
                     level="self_declared" if cat == "adult" else "parent_declared",
                     issuer=text(p, "os", required=False) or "os", source="ca-daaa", observed_at=observed,
                     expires_at=observed + VALIDITY, basis=ctx.book.basis("US-CA.digital-age-assurance-act", ctx.today))
