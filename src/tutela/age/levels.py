"""Assurance levels of an age record, in order, and how they meet the rulebook's words.

    self_declared < inferred < parent_declared < estimated < verified

`inferred` is an age read from signals (a store or OS account whose method is not told);
`parent_declared` is an age a parent or guardian set; `estimated` is an age estimation or
an unspecified "checked" method; `verified` rests on a hard identifier (ID document, a
signed credential from a trusted issuer).

The rulebook (tutela.rulebook.models.Assurance, ASSURANCE_ORDER) grades consents with
three words, declared < confirmed < verified. Where the two meet (a grant that rests on an
age record), `to_rulebook` maps ours onto theirs, never upwards: every declared level is
`declared`, an estimate is `confirmed`, a verification is `verified`. The map is monotone
(a higher level never maps lower); a test holds it so.
"""

from __future__ import annotations

from typing import Literal, get_args

from tutela.errors import InputError
from tutela.rulebook.models import ASSURANCE_ORDER, Assurance

Level = Literal["self_declared", "inferred", "parent_declared", "estimated", "verified"]
LEVELS: tuple[Level, ...] = get_args(Level)
LEVEL_ORDER: dict[str, int] = {name: i for i, name in enumerate(LEVELS)}

TO_RULEBOOK: dict[Level, Assurance] = {
    "self_declared": "declared",
    "inferred": "declared",
    "parent_declared": "declared",
    "estimated": "confirmed",
    "verified": "verified",
}
assert set(TO_RULEBOOK.values()) <= set(ASSURANCE_ORDER)


def level(name: str, where: str = "level") -> Level:
    """`name` as a Level, or an input error naming the known ones."""
    for known in LEVELS:
        if name == known:
            return known
    raise InputError(f"unknown assurance level `{name}`", where=where, hint=" < ".join(LEVELS))


def at_least(have: str, need: str) -> bool:
    """True when level `have` meets level `need`."""
    return LEVEL_ORDER[have] >= LEVEL_ORDER[need]


def to_rulebook(have: Level) -> Assurance:
    """The rulebook's assurance word for an age record's level (see the module docstring)."""
    return TO_RULEBOOK[have]
