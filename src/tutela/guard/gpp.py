"""GPP string decoder (IAB Tech Lab Global Privacy Platform v1): the header and its section
ids, the US national section (`usnat`, id 7), the TCF EU section (id 2) and US Privacy (id 6).

usnat core layouts, told apart by length since the field sizes changed without a bump of the
section's own version 1 (github.com/InteractiveAdvertisingBureau/Global-Privacy-Platform,
Sections/US-National; the same rule as the IAB Tech Lab reference library iabgpp-java):
  * version 1, 10 or 11 characters (60 bits, padded to 6 or to 8): 12 SensitiveDataProcessing
    entries, 2 KnownChildSensitiveDataConsents;
  * version 1 or 2, 12 characters: 16 entries and 3 KnownChildSensitiveDataConsents.
Anything else is an `InputError`; so are values outside 0-2 and padding bits that are not zero."""

from __future__ import annotations

from dataclasses import dataclass

from tutela.errors import InputError
from tutela.guard.bits import Bits
from tutela.guard.tcf import TCString, decode_tcf
from tutela.guard.usp import USPrivacy, decode_usp

SECTION_NAMES = {
    1: "tcfeuv1",
    2: "tcfeuv2",
    3: "gpp_header",
    4: "gpp_signal_integrity",
    5: "tcfcav1",
    6: "uspv1",
    7: "usnat",
    8: "usca",
    9: "usva",
    10: "usco",
    11: "usut",
    12: "usct",
}
_NOTICE_FIELDS = (
    "SharingNotice",
    "SaleOptOutNotice",
    "SharingOptOutNotice",
    "TargetedAdvertisingOptOutNotice",
    "SensitiveDataProcessingOptOutNotice",
    "SensitiveDataLimitUseNotice",
    "SaleOptOut",
    "SharingOptOut",
    "TargetedAdvertisingOptOut",
)
_TAIL_FIELDS = ("PersonalDataConsents", "MspaCoveredTransaction", "MspaOptOutOptionMode", "MspaServiceProviderMode")


@dataclass(frozen=True)
class UsNat:
    version: int
    fields: dict[str, int]  # the Int(2) fields by their spec names
    sensitive_data_processing: tuple[int, ...]
    known_child_sensitive_data_consents: tuple[int, ...]  # 2 or 3 entries, see the module docstring
    gpc: bool | None  # None when the GPC sub-section is absent

    def opted_out(self) -> bool:
        """Opted out of sale, sharing or targeted advertising (value 1 = Opted Out)."""
        return 1 in (self.fields["SaleOptOut"], self.fields["SharingOptOut"], self.fields["TargetedAdvertisingOptOut"])

    def known_child_without_consent(self) -> bool:
        """A known child (under 13) or 13-16 year old whose consent entry is 1 = No Consent."""
        return 1 in self.known_child_sensitive_data_consents


@dataclass(frozen=True)
class GPPString:
    version: int
    section_ids: tuple[int, ...]
    tcfeuv2: TCString | None
    uspv1: USPrivacy | None
    usnat: UsNat | None


def _two_bit(b: Bits, field: str) -> int:
    v = b.int(2, field)
    if v == 3:
        raise InputError(
            f"field `{field}` has value 3 at bit offset {b.pos - 2}; only 0, 1, 2 are defined",
            where=b.where,
            hint="an undefined value is never read as consent",
        )
    return v


def decode_usnat(text: str, where: str = "usnat") -> UsNat:
    parts = text.split(".")
    core = parts[0]
    b = Bits(core, where)
    version = b.int(6, "Version")
    if version == 1 and len(core) in (10, 11):
        n_sensitive, n_child = 12, 2
    elif version in (1, 2) and len(core) == 12:
        n_sensitive, n_child = 16, 3
    else:
        raise InputError(
            f"usnat core segment of version {version} and {len(core)} characters is not a known layout",
            where=where,
            hint="version 1 has 10-11 (legacy) or 12 characters, version 2 has 12",
        )
    fields = {name: _two_bit(b, name) for name in _NOTICE_FIELDS}
    sensitive = tuple(_two_bit(b, "SensitiveDataProcessing") for _ in range(n_sensitive))
    child = tuple(_two_bit(b, "KnownChildSensitiveDataConsents") for _ in range(n_child))
    fields.update({name: _two_bit(b, name) for name in _TAIL_FIELDS})
    if not b.rest_is_zero():
        raise InputError(
            f"usnat core segment has non-zero bits after the last field (bit offset {b.pos})",
            where=where,
            hint="a third child-consent entry in an 11-character string is ambiguous",
        )
    gpc: bool | None = None
    for i, sub in enumerate(parts[1:], start=1):
        sb = Bits(sub, f"{where}[sub-section {i}]")
        kind = sb.int(2, "SubsectionType")
        if kind != 1:
            raise InputError(f"usnat sub-section {i} has type {kind}; only 1 (GPC) is defined", where=where)
        gpc = sb.bool("Gpc")
    return UsNat(version, fields, sensitive, child, gpc)


def _section_ids(b: Bits) -> tuple[int, ...]:
    ids: list[int] = []
    last = 0
    for _ in range(b.int(12, "Sections.NumEntries")):
        is_range = b.bool("Sections.IsRange")
        start = last + b.fibonacci("Sections.Offset")
        if is_range:
            end = start + b.fibonacci("Sections.Length")
            if end - start > 64:
                raise InputError("a GPP section range is implausibly long", where=b.where)
            ids.extend(range(start, end + 1))
            last = end
        else:
            ids.append(start)
            last = start
    return tuple(ids)


def decode_gpp(text: str, where: str = "regs.gpp") -> GPPString:
    """Decode a GPP string `header~section~section...`; sections Tutela reads are decoded, the
    others are checked only for presence (their ids stay in `section_ids`)."""
    if not isinstance(text, str):
        raise InputError("the GPP string must be a string", where=where)
    parts = text.split("~")
    b = Bits(parts[0], f"{where}[header]")
    kind = b.int(6, "Type")
    if kind != 3:
        raise InputError(
            f"GPP header type is {kind}, not 3", where=f"{where}[header]", hint="a GPP string starts with D"
        )
    version = b.int(6, "Version")
    if version != 1:
        raise InputError(f"GPP version {version} is not supported", where=f"{where}[header]")
    ids = _section_ids(b)
    if len(ids) != len(parts) - 1:
        raise InputError(
            f"the header lists {len(ids)} section(s) but the string has {len(parts) - 1}",
            where=where,
            hint="sections are joined by `~` in the header's order",
        )
    tcf = usp = nat = None
    for sid, section in zip(ids, parts[1:], strict=True):
        name = SECTION_NAMES.get(sid, f"section {sid}")
        here = f"{where}[{name}]"
        if not section:
            raise InputError(f"section {sid} is empty", where=here)
        if sid == 2:
            tcf = decode_tcf(section, here)
        elif sid == 6:
            usp = decode_usp(section, here)
        elif sid == 7:
            nat = decode_usnat(section, here)
    return GPPString(version, ids, tcf, usp, nat)
