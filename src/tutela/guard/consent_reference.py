"""Consent strings decoded the slow, obvious way for the reference guard: the whole string as
a text of 0s and 1s, fields cut off it left to right. Written apart from `bits.py`, `tcf.py`,
`gpp.py` and `usp.py` (same results, same errors), so the reference shares no decoding code
with the fast path; the Hypothesis test of the two guards is then also a test of the decoders."""

from __future__ import annotations

import datetime as dt

from tutela.errors import InputError
from tutela.guard.gpp import SECTION_NAMES, GPPString, UsNat
from tutela.guard.tcf import SEGMENT_TYPES, PublisherRestriction, TCString
from tutela.guard.usp import USPrivacy

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
NOTICES = [
    "SharingNotice",
    "SaleOptOutNotice",
    "SharingOptOutNotice",
    "TargetedAdvertisingOptOutNotice",
    "SensitiveDataProcessingOptOutNotice",
    "SensitiveDataLimitUseNotice",
    "SaleOptOut",
    "SharingOptOut",
    "TargetedAdvertisingOptOut",
]
TAIL = ["PersonalDataConsents", "MspaCoveredTransaction", "MspaOptOutOptionMode", "MspaServiceProviderMode"]


class Reader:
    def __init__(self, text: str, where: str):
        if text == "":
            raise InputError("empty consent segment", where=where, hint="send the string the CMP produced")
        bits = []
        for i, ch in enumerate(text):
            if ch not in B64:
                raise InputError(
                    f"character `{ch}` at offset {i} is not base64url",
                    where=where,
                    hint="consent strings use A-Z a-z 0-9 - _ only",
                )
            bits.append(format(B64.index(ch), "06b"))
        self.bits = "".join(bits)
        self.pos = 0
        self.where = where

    def take(self, n: int, field: str) -> int:
        if self.pos + n > len(self.bits):
            raise InputError(
                f"truncated: field `{field}` needs {n} bit(s) at bit offset {self.pos}, "
                f"only {len(self.bits) - self.pos} left",
                where=self.where,
                hint="the string is cut short; it is not read as consent",
            )
        chunk = self.bits[self.pos : self.pos + n]
        self.pos += n
        return int(chunk, 2) if chunk else 0

    def ids(self, n: int, field: str) -> tuple[int, ...]:
        start = self.pos
        self.take(n, field)
        return tuple(i + 1 for i, b in enumerate(self.bits[start : start + n]) if b == "1")

    def letters(self, field: str) -> str:
        out = ""
        for _ in range(2):
            v = self.take(6, field)
            if v > 25:
                raise InputError(
                    f"field `{field}` has letter code {v} at bit offset {self.pos - 6}, outside a-z", where=self.where
                )
            out += chr(65 + v)
        return out

    def fib(self, field: str) -> int:
        start = self.pos
        fibs = [1, 2]
        while len(fibs) < 64:
            fibs.append(fibs[-1] + fibs[-2])
        total, prev = 0, 0
        for i in range(len(fibs) + 1):
            if i == len(fibs):
                break
            bit = self.take(1, field)
            if bit == 1 and prev == 1:
                return total
            if bit == 1:
                total += fibs[i]
            prev = bit
        raise InputError(f"field `{field}` at bit offset {start}: Fibonacci code too long", where=self.where)


def _when(r: Reader, field: str) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=100 * r.take(36, field))


def _range(r: Reader, field: str, top: int | None) -> tuple[int, ...]:
    found: set[int] = set()
    for _ in range(r.take(12, f"{field}.NumEntries")):
        is_range = r.take(1, f"{field}.IsARange") == 1
        first = r.take(16, f"{field}.StartOrOnlyVendorId")
        last = r.take(16, f"{field}.EndVendorId") if is_range else first
        if first < 1 or last < first or (top is not None and last > top):
            raise InputError(
                f"field `{field}` has an invalid vendor range {first}-{last} before bit offset {r.pos}",
                where=r.where,
                hint="a range is 1 <= start <= end <= MaxVendorId",
            )
        if last - first > 65535:
            raise InputError(f"field `{field}` range too wide", where=r.where)
        found |= set(range(first, last + 1))
    return tuple(sorted(found))


def _vendor_section(r: Reader, field: str) -> tuple[int, ...]:
    top = r.take(16, f"{field}.MaxVendorId")
    if r.take(1, f"{field}.IsRangeEncoding") == 1:
        return _range(r, field, top)
    return r.ids(top, f"{field}.BitField")


def tcf(text: object, where: str) -> TCString:
    if not isinstance(text, str):
        raise InputError("the TC string must be a string", where=where)
    core, *rest = text.split(".")
    r = Reader(core, where)
    version = r.take(6, "Version")
    if version != 2:
        raise InputError(
            f"TC string version {version} is not supported", where=where, hint="TCF v2.x strings start with C"
        )
    created, updated = _when(r, "Created"), _when(r, "LastUpdated")
    cmp_id, cmp_version, screen = r.take(12, "CmpId"), r.take(12, "CmpVersion"), r.take(6, "ConsentScreen")
    language = r.letters("ConsentLanguage")
    vlv, policy = r.take(12, "VendorListVersion"), r.take(6, "TcfPolicyVersion")
    specific, non_standard = r.take(1, "IsServiceSpecific") == 1, r.take(1, "UseNonStandardTexts") == 1
    special, consents, li = (
        r.ids(12, "SpecialFeatureOptIns"),
        r.ids(24, "PurposesConsent"),
        r.ids(24, "PurposesLITransparency"),
    )
    p1 = r.take(1, "PurposeOneTreatment") == 1
    cc = r.letters("PublisherCC")
    vc = _vendor_section(r, "VendorConsents")
    vli = _vendor_section(r, "VendorLegitimateInterests")
    restrictions = []
    for _ in range(r.take(12, "NumPubRestrictions")):
        purpose, kind = r.take(6, "PubRestrictions.PurposeId"), r.take(2, "PubRestrictions.RestrictionType")
        if kind == 3:
            raise InputError(f"publisher restriction type 3 (undefined) before bit offset {r.pos}", where=where)
        restrictions.append(PublisherRestriction(purpose, kind, _range(r, "PubRestrictions", None)))
    kinds = []
    for n, seg in enumerate(rest, start=1):
        kind = Reader(seg, f"{where}[segment {n}]").take(3, "SegmentType")
        if kind not in SEGMENT_TYPES:
            raise InputError(f"segment {n} has unknown type {kind}", where=where, hint="types are 1, 2 and 3")
        kinds.append(SEGMENT_TYPES[kind])
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
        specific,
        non_standard,
        special,
        consents,
        li,
        p1,
        cc,
        vc,
        vli,
        tuple(restrictions),
        tuple(kinds),
    )


def usp(text: object, where: str) -> USPrivacy:
    if not isinstance(text, str):
        raise InputError("the US Privacy string must be a string", where=where)
    if len(text) != 4:
        raise InputError(f"the US Privacy string has {len(text)} characters, not 4", where=where, hint="e.g. `1YNN`")
    if text[0] != "1":
        raise InputError(f"US Privacy version `{text[0]}` is not supported", where=where, hint="version 1 only")
    for i in (1, 2, 3):
        if text[i] not in ("Y", "N", "-"):
            raise InputError(f"character `{text[i]}` at offset {i} is not Y, N or -", where=where)
    return USPrivacy(1, text[1], text[2], text[3])


def _two(r: Reader, field: str) -> int:
    v = r.take(2, field)
    if v == 3:
        raise InputError(
            f"field `{field}` has value 3 at bit offset {r.pos - 2}; only 0, 1, 2 are defined",
            where=r.where,
            hint="an undefined value is never read as consent",
        )
    return v


def usnat(text: str, where: str) -> UsNat:
    core, *subs = text.split(".")
    r = Reader(core, where)
    version = r.take(6, "Version")
    if version == 1 and len(core) in (10, 11):
        n_sens, n_child = 12, 2
    elif version in (1, 2) and len(core) == 12:
        n_sens, n_child = 16, 3
    else:
        raise InputError(
            f"usnat core segment of version {version} and {len(core)} characters is not a known layout",
            where=where,
            hint="version 1 has 10-11 (legacy) or 12 characters, version 2 has 12",
        )
    fields = {name: _two(r, name) for name in NOTICES}
    sens = tuple(_two(r, "SensitiveDataProcessing") for _ in range(n_sens))
    child = tuple(_two(r, "KnownChildSensitiveDataConsents") for _ in range(n_child))
    for name in TAIL:
        fields[name] = _two(r, name)
    if "1" in r.bits[r.pos :]:
        raise InputError(
            f"usnat core segment has non-zero bits after the last field (bit offset {r.pos})",
            where=where,
            hint="a third child-consent entry in an 11-character string is ambiguous",
        )
    gpc = None
    for n, sub in enumerate(subs, start=1):
        sr = Reader(sub, f"{where}[sub-section {n}]")
        kind = sr.take(2, "SubsectionType")
        if kind != 1:
            raise InputError(f"usnat sub-section {n} has type {kind}; only 1 (GPC) is defined", where=where)
        gpc = sr.take(1, "Gpc") == 1
    return UsNat(version, fields, sens, child, gpc)


def gpp(text: object, where: str) -> GPPString:
    if not isinstance(text, str):
        raise InputError("the GPP string must be a string", where=where)
    header, *sections = text.split("~")
    hw = f"{where}[header]"
    r = Reader(header, hw)
    kind = r.take(6, "Type")
    if kind != 3:
        raise InputError(f"GPP header type is {kind}, not 3", where=hw, hint="a GPP string starts with D")
    version = r.take(6, "Version")
    if version != 1:
        raise InputError(f"GPP version {version} is not supported", where=hw)
    ids: list[int] = []
    last = 0
    for _ in range(r.take(12, "Sections.NumEntries")):
        grouped = r.take(1, "Sections.IsRange") == 1
        first = last + r.fib("Sections.Offset")
        if grouped:
            end = first + r.fib("Sections.Length")
            if end - first > 64:
                raise InputError("a GPP section range is implausibly long", where=hw)
            ids += list(range(first, end + 1))
            last = end
        else:
            ids.append(first)
            last = first
    if len(ids) != len(sections):
        raise InputError(
            f"the header lists {len(ids)} section(s) but the string has {len(sections)}",
            where=where,
            hint="sections are joined by `~` in the header's order",
        )
    t = u = n = None
    for sid, section in zip(ids, sections, strict=True):
        here = f"{where}[{SECTION_NAMES.get(sid, f'section {sid}')}]"
        if section == "":
            raise InputError(f"section {sid} is empty", where=here)
        if sid == 2:
            t = tcf(section, here)
        elif sid == 6:
            u = usp(section, here)
        elif sid == 7:
            n = usnat(section, here)
    return GPPString(version, tuple(ids), t, u, n)
