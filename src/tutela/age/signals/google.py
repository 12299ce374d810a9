"""Google Play Age Signals (AgeSignalsResult) as forwarded by the app.

    {"userStatus": "SUPERVISED", "ageLower": 13, "ageUpper": 15, "installId": "...",
     "mostRecentApprovalDate": "2026-10-01", "observedAt": "2026-11-02T09:00:00Z", "act": "US-UT"}

`userStatus`: VERIFIED (an adult Google verified), DECLARED (the user declared the age),
SUPERVISED (a supervised account: a parent set the age; the parent approved), SUPERVISED_
APPROVAL_PENDING / _DENIED (the parent has not approved / refused the latest significant
change), UNKNOWN or empty (no signal; refused). Play refreshes the band 2 to 8 weeks after
the birthday, so the band describes the user up to 56 days before it was observed
(developer.android.com/google/play/age-signals). Optional `act` names the law the signal
was sent under (US-UT, US-LA, US-TX), which adds that law's basis on the day.
"""

from __future__ import annotations

import datetime as dt

from tutela.age.levels import Level
from tutela.age.record import AgeRecord
from tutela.age.signals._common import Context, age, band, choice, mapping, text, when
from tutela.errors import InputError

STATUSES: dict[str, tuple[Level, str | None]] = {
    "VERIFIED": ("verified", None),
    "DECLARED": ("self_declared", None),
    "SUPERVISED": ("parent_declared", "approved"),
    "SUPERVISED_APPROVAL_PENDING": ("parent_declared", "pending"),
    "SUPERVISED_APPROVAL_DENIED": ("parent_declared", "denied"),
}
VALIDITY = dt.timedelta(days=365)


def read(payload: object, ctx: Context) -> AgeRecord:
    p = mapping(payload)
    if p.get("userStatus") in (None, "", "UNKNOWN"):
        raise InputError(f"the signal carries no age (userStatus `{p.get('userStatus')}`)", where="signal.userStatus",
                         hint="Play returns signals only where a law requires them; ask for the age another way")
    status = choice(p, "userStatus", STATUSES)
    level, approval = STATUSES[status]
    lower = age(p, "ageLower", required=status != "VERIFIED")
    upper = age(p, "ageUpper", required=False)
    if status == "VERIFIED":
        lower = max(lower or 18, 18)
    assert lower is not None
    lo, hi = band(lower, upper, "signal.ageUpper")
    observed = when(p, "observedAt", ctx.now)
    src = ctx.book.source("google.play-age-signals")
    basis = ctx.book.basis(src.id, ctx.today)
    act = text(p, "act", required=False)
    if act is not None:
        basis += ctx.book.basis(ctx.book.appstore(act).id, ctx.today)
    return AgeRecord(subject=text(p, "installId", required=False), lower=lo, upper=hi,
                     as_of=observed.date() - dt.timedelta(days=src.lag_days), method=f"google.{status.lower()}",
                     level=level, issuer="play.google.com", source="google", observed_at=observed,
                     expires_at=observed + VALIDITY, basis=basis,
                     guardian_approval=approval)  # type: ignore[arg-type]  # one of the Literal values above
