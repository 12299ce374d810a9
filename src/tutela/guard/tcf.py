"""TCF v2 (v2.2) TC string decoder: the core segment in full, the types of the other segments.

Field layout from the IAB Tech Lab "Consent string and vendor list formats v2" specification
(github.com/InteractiveAdvertisingBureau/GDPR-Transparency-and-Consent-Framework, TCFv2/).
A malformed or truncated string raises `InputError` naming the field and bit offset."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tutela.errors import InputError
from tutela.guard.bits import Bits

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SEGMENT_TYPES = {1: "disclosed_vendors", 2: "allowed_vendors", 3: "publisher_tc"}


@dataclass(frozen=True)
class PublisherRestriction:
    purpose: int
    restriction: int  # 0 not allowed, 1 require consent, 2 require legitimate interest
    vendors: tuple[int, ...]


@dataclass(frozen=True)
class TCString:
    version: int
    created: dt.datetime
    last_updated: dt.datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_optins: tuple[int, ...]
    purpose_consents: tuple[int, ...]
    purpose_li: tuple[int, ...]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: tuple[int, ...]
    vendor_li: tuple[int, ...]
    publisher_restrictions: tuple[PublisherRestriction, ...]
    segments: tuple[str, ...]  # the types of the segments after the core, in order

    def consent(self, purpose: int) -> bool:
        return purpose in self.purpose_consents

    def legitimate_interest(self, purpose: int) -> bool:
        return purpose in self.purpose_li

    def opted_in(self, special_feature: int) -> bool:
        return special_feature in self.special_feature_optins


def _time(b: Bits, field: str) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=100 * b.int(36, field))


def _ranges(b: Bits, field: str, max_id: int | None) -> tuple[int, ...]:
    count = b.int(12, f"{field}.NumEntries")
    ids: set[int] = set()
    for _ in range(count):
        is_range = b.bool(f"{field}.IsARange")
        start = b.int(16, f"{field}.StartOrOnlyVendorId")
        end = b.int(16, f"{field}.EndVendorId") if is_range else start
        if start < 1 or end < start or (max_id is not None and end > max_id):
            raise InputError(
                f"field `{field}` has an invalid vendor range {start}-{end} before bit offset {b.pos}",
                where=b.where,
                hint="a range is 1 <= start <= end <= MaxVendorId",
            )
        if end - start > 65535:
            raise InputError(f"field `{field}` range too wide", where=b.where)
        ids.update(range(start, end + 1))
    return tuple(sorted(ids))


def _vendors(b: Bits, field: str) -> tuple[int, ...]:
    max_id = b.int(16, f"{field}.MaxVendorId")
    if b.bool(f"{field}.IsRangeEncoding"):
        return _ranges(b, field, max_id)
    return b.bitfield(max_id, f"{field}.BitField")


def decode_tcf(text: str, where: str = "tcf") -> TCString:
    """Decode a TC string (core segment first, then optional segments joined by `.`)."""
    if not isinstance(text, str):
        raise InputError("the TC string must be a string", where=where)
    parts = text.split(".")
    b = Bits(parts[0], where)
    version = b.int(6, "Version")
    if version != 2:
        raise InputError(
            f"TC string version {version} is not supported", where=where, hint="TCF v2.x strings start with C"
        )
    created = _time(b, "Created")
    updated = _time(b, "LastUpdated")
    cmp_id = b.int(12, "CmpId")
    cmp_version = b.int(12, "CmpVersion")
    screen = b.int(6, "ConsentScreen")
    language = b.letters(2, "ConsentLanguage")
    vlv = b.int(12, "VendorListVersion")
    policy = b.int(6, "TcfPolicyVersion")
    service_specific = b.bool("IsServiceSpecific")
    non_standard = b.bool("UseNonStandardTexts")
    special = b.bitfield(12, "SpecialFeatureOptIns")
    consents = b.bitfield(24, "PurposesConsent")
    li = b.bitfield(24, "PurposesLITransparency")
    p1 = b.bool("PurposeOneTreatment")
    cc = b.letters(2, "PublisherCC")
    vendor_consents = _vendors(b, "VendorConsents")
    vendor_li = _vendors(b, "VendorLegitimateInterests")
    restrictions = []
    for _ in range(b.int(12, "NumPubRestrictions")):
        purpose = b.int(6, "PubRestrictions.PurposeId")
        kind = b.int(2, "PubRestrictions.RestrictionType")
        if kind == 3:
            raise InputError(f"publisher restriction type 3 (undefined) before bit offset {b.pos}", where=where)
        restrictions.append(PublisherRestriction(purpose, kind, _ranges(b, "PubRestrictions", None)))
    segments = []
    for i, seg in enumerate(parts[1:], start=1):
        sb = Bits(seg, f"{where}[segment {i}]")
        kind = sb.int(3, "SegmentType")
        if kind not in SEGMENT_TYPES:
            raise InputError(f"segment {i} has unknown type {kind}", where=where, hint="types are 1, 2 and 3")
        segments.append(SEGMENT_TYPES[kind])
    return TCString(
        version,
        created,
        updated,
        cmp_id,
        cmp_version,
        screen,
        language,
        vlv,
        policy,
        service_specific,
        non_standard,
        special,
        consents,
        li,
        p1,
        cc,
        vendor_consents,
        vendor_li,
        tuple(restrictions),
        tuple(segments),
    )
