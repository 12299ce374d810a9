"""The IAB CCPA US Privacy string (`1YNN`): version, notice given, opted out of sale, LSPA
covered. `-` means not applicable. Anything else is an `InputError`."""

from __future__ import annotations

from dataclasses import dataclass

from tutela.errors import InputError


@dataclass(frozen=True)
class USPrivacy:
    version: int
    notice: str  # Y, N or -
    opt_out_sale: str
    lspa_covered: str

    def opted_out(self) -> bool:
        return self.opt_out_sale == "Y"


def decode_usp(text: str, where: str = "regs.us_privacy") -> USPrivacy:
    if not isinstance(text, str):
        raise InputError("the US Privacy string must be a string", where=where)
    if len(text) != 4:
        raise InputError(f"the US Privacy string has {len(text)} characters, not 4", where=where, hint="e.g. `1YNN`")
    if text[0] != "1":
        raise InputError(f"US Privacy version `{text[0]}` is not supported", where=where, hint="version 1 only")
    for offset in (1, 2, 3):
        if text[offset] not in "YN-":
            raise InputError(f"character `{text[offset]}` at offset {offset} is not Y, N or -", where=where)
    return USPrivacy(1, text[1], text[2], text[3])
