"""Verification methods as plug-ins: one small class per way a result reaches Tutela, registered by
the method ids of consent.yaml (assurance, limits and citations live there, not here).

    plugin = REGISTRY["signed_form"]
    plugin.check_report(reported_by="alice", reference="form-2026-118")   # InputError when incomplete

`link` methods complete when the parent opens the emailed link (email plus, whose confirmation
email is the "plus"); `staff` methods need a staff member's name and the form's reference;
`provider` methods arrive only through the signed webhook (tutela.consent.webhook).
"""

from __future__ import annotations

from dataclasses import dataclass

from tutela.consent.config import Channel
from tutela.errors import InputError


@dataclass(frozen=True)
class MethodPlugin:
    id: str
    channel: Channel
    confirmation_email: bool = False  # send the "plus" confirmation (with how to revoke) after consent

    def check_report(self, channel: str, reported_by: str, reference: str | None) -> None:
        if channel != self.channel:
            raise InputError(f"method `{self.id}` is reported through the {self.channel} channel, not {channel}",
                             where="method", hint={"link": "the parent opens the emailed link",
                                                   "staff": "a staff member approves the form",
                                                   "provider": "the provider calls the signed webhook"}[self.channel])
        if not reported_by:
            raise InputError("who reported the result is required", where="reported_by")
        if self.channel == "staff" and not reference:
            raise InputError("a signed form is approved with its reference (no image of it)", where="reference")


REGISTRY: dict[str, MethodPlugin] = {p.id: p for p in (
    MethodPlugin("email_plus", "link", confirmation_email=True),
    MethodPlugin("text_plus", "provider"),
    MethodPlugin("signed_form", "staff"),
    MethodPlugin("card", "provider"),
    MethodPlugin("government_id", "provider"),
    MethodPlugin("face_match", "provider"),
)}
