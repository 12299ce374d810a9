"""The stream guard's configuration (`tutela/data/stream_guard.yaml`) and pseudonym keys.

The YAML says what act each event is (kind -> data category and use; field -> data category and
the lesser form tried when the field is denied); the rulebook decides. Keys come from the
environment only: `TUTELA_STREAM_KEYS` = `kid:hexkey[,kid:hexkey...]`, the first one current, the
others kept so pseudonyms made under them can still be verified (key rotation).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutela import settings
from tutela.errors import InputError, RulebookError, validation_message
from tutela.rulebook import Rulebook
from tutela.taxonomy import Taxonomy

FIELDS = ("lat_lon", "ip", "device_id", "subject_id")
KINDS = ("watch", "location_ping", "ad_impression", "upload", "message")
RECIPIENTS = ("first_party", "processor", "third_party")
UNKNOWN_SUBJECT = "TUTELA-STREAM.unknown-subject"  # the reason given when a subject has no state
NO_BASIS = "no-lawful-basis"  # a deny that names no rule: nothing permits the act
KEYS_ENV = "TUTELA_STREAM_KEYS"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Basis(_Strict):
    instrument: str
    section: str
    url: str = Field(pattern=r"^https?://\S+$")
    effective_from: dt.date
    primary_checked: bool = False
    note: str | None = None


class FieldSpec(_Strict):
    category: str
    fallback: Literal["coarsen", "truncate", "pseudonymise"]
    fallback_category: str


class KindSpec(_Strict):
    category: str
    use: str
    retain_days: int = Field(ge=1, le=36500)


class StreamConfig(_Strict):
    version: int
    grant_bits: tuple[str, ...] = Field(min_length=1, max_length=63)
    grid_degrees: float = Field(gt=0, le=10)
    grid_basis: Basis
    ipv4_keep_bits: int = Field(ge=0, le=32)
    ipv6_keep_bits: int = Field(ge=0, le=128)
    fields: dict[str, FieldSpec]
    kinds: dict[str, KindSpec]

    def check(self, book: Rulebook, tax: Taxonomy, where: str) -> StreamConfig:
        """Every scope, category and use must be the rulebook's and the taxonomy's."""
        for i, scope in enumerate(self.grant_bits):
            if scope not in book.scopes:
                raise RulebookError(f"unknown consent scope `{scope}`", where=f"{where}: grant_bits.{i}")
        if len(set(self.grant_bits)) != len(self.grant_bits):
            raise RulebookError("a scope is listed twice", where=f"{where}: grant_bits")
        if tuple(self.fields) != FIELDS or tuple(self.kinds) != KINDS:
            raise RulebookError(f"fields must be {list(FIELDS)} and kinds {list(KINDS)}", where=where)
        for name, f in self.fields.items():
            tax.categories.check(f.category, f"{where}: fields.{name}.category")
            tax.categories.check(f.fallback_category, f"{where}: fields.{name}.fallback_category")
        for name, k in self.kinds.items():
            tax.categories.check(k.category, f"{where}: kinds.{name}.category")
            tax.uses.check(k.use, f"{where}: kinds.{name}.use")
        return self


def load_config(book: Rulebook, tax: Taxonomy, path: Path | None = None) -> StreamConfig:
    where = str(path) if path else "stream_guard.yaml"
    try:
        text = path.read_text("utf-8") if path else (
            resources.files("tutela.data").joinpath("stream_guard.yaml").read_text("utf-8"))
        cfg = StreamConfig.model_validate(yaml.safe_load(text))
    except OSError as exc:
        raise InputError(f"cannot read the stream guard configuration: {exc.strerror}", where=where) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise RulebookError(validation_message(err), where=f"{where}: {loc}") from None
    return cfg.check(book, tax, where)


class Keyring:
    """HMAC-SHA256 pseudonym keys by id; `current` makes new pseudonyms, every key verifies."""

    def __init__(self, keys: list[tuple[str, bytes]]):
        if not keys:
            raise InputError("no pseudonym key", where=KEYS_ENV, hint="set kid:hexkey (32+ hex digits)")
        self.keys = dict(keys)
        self.current = keys[0][0]
        self.secret = keys[0][1]

    @classmethod
    def parse(cls, text: str, where: str = KEYS_ENV) -> Keyring:
        out: list[tuple[str, bytes]] = []
        for i, item in enumerate(filter(None, (t.strip() for t in text.split(",")))):
            kid, _, hexkey = item.partition(":")
            try:
                key = bytes.fromhex(hexkey)
            except ValueError:
                key = b""
            if not kid.isalnum() or len(key) < 16:
                raise InputError(f"bad key entry number {i + 1}", where=where,
                                 hint="use kid:hexkey with an alphanumeric kid and at least 32 hex digits")
            out.append((kid, key))
        return cls(out)

    def verify(self, field: str, value: str, pseudonym: str, key_id: str) -> bool:
        """Was `pseudonym` made from `value` (in `field`) under key `key_id`? Constant-time compare."""
        key = self.keys.get(key_id)
        if key is None:
            return False
        mac = hmac.new(key, f"{field}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]
        return hmac.compare_digest(mac, pseudonym)


def keys_from_env() -> Keyring:
    """The one place the stream guard reads the environment."""
    return Keyring.parse(settings.text(KEYS_ENV))
