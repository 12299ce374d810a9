"""Masking strategies: pure functions from an Arrow array to an Arrow array (docs/repair.md).

Every Fides strategy and configuration key runs (configurations: tutela.datamap.masking), so
a Fides `masking_strategy_override` runs unchanged. Every strategy keeps NULL as NULL and is
idempotent (masking a masked value changes nothing, so a second run changes 0 rows) except
`random_string_rewrite`, which writes new random text each time, as Fides' does. `hash`,
`hmac` and `aes_encrypt` use keys derived from `TUTELA_MASKING_KEY`; it is read when a job
starts (`require_ready`), never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tutela import settings
from tutela.datamap.masking import CONFIGS, STRATEGIES, AesEncrypt, Hash, RandomString, max_text, suffix
from tutela.errors import InputError, validation_message

KEY_ENV = "TUTELA_MASKING_KEY"
MIN_KEY_CHARS = settings.MIN_KEY_CHARS
FILE_ONLY = ("strip_location",)  # applies to media files, not to a field's values
ROW_LEVEL = ("delete",)  # a collection-level override: the rows go


class Strategy(BaseModel):
    """A masking strategy as Fides writes it: `{strategy: hash, configuration: {algorithm: SHA-512}}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str
    configuration: dict[str, Any] = Field(default_factory=dict)

    @field_validator("strategy")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in STRATEGIES:
            raise ValueError(f"unknown masking strategy `{name}` (known: {', '.join(STRATEGIES)})")
        return name

    @model_validator(mode="after")
    def _configured(self) -> Strategy:
        CONFIGS[self.strategy].model_validate(self.configuration)
        return self

    def config(self) -> Any:
        return CONFIGS[self.strategy].model_validate(self.configuration)

    def max_length(self) -> int | None:
        """The longest text this strategy writes (to refuse a too-narrow column before any write);
        None when it depends on the value (`aes_encrypt`) or nothing is written as text."""
        return max_text(self.strategy, self.configuration)

    def __str__(self) -> str:
        return self.strategy


def parse_strategy(raw: Mapping[str, Any], where: str) -> Strategy:
    """A strategy from data-map YAML, or an InputError naming `where` and the bad key."""
    try:
        return Strategy.model_validate(dict(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(validation_message(err), where=f"{where}: {loc}" if loc else where) from None


def masking_key() -> bytes:
    return settings.masking_key()


KEYED = ("hash", "hmac", "aes_encrypt")


def require_ready(strategies: Iterable[Strategy]) -> None:
    """Fail before any write when a strategy cannot run here (its key is missing)."""
    for s in strategies:
        if s.strategy in KEYED:
            masking_key()


def _derived(purpose: bytes) -> bytes:
    """A 32-byte key for one use, derived from `TUTELA_MASKING_KEY` (never the key itself)."""
    return hmac.new(masking_key(), b"tutela/" + purpose, hashlib.sha256).digest()


def require_field_strategy(strategy: Strategy, where: str) -> None:
    if strategy.strategy in FILE_ONLY:
        raise InputError(f"`{strategy}` applies to media files, not to a field's values", where=where)
    if strategy.strategy in ROW_LEVEL:
        raise InputError("`delete` is a collection-level override: use a delete target", where=where)


def mask(strategy: Strategy, values: pa.Array | pa.ChunkedArray, where: str = "") -> pa.Array:
    """The masked values (same length; NULL stays NULL). `where` names the field in errors."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    require_field_strategy(strategy, where)
    name, cfg = strategy.strategy, strategy.config()
    if name == "preserve":
        return arr
    if name == "null_rewrite":
        return pa.nulls(len(arr), type=arr.type)
    if name == "string_rewrite":
        value = cfg.rewrite_value
        if cfg.format_preservation is not None:  # Fides: the rewrite value with the suffix after it
            value = f"{value}{suffix(cfg)}"
        const = pa.array([value] * len(arr))
        try:
            const = const.cast(arr.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(f"`rewrite_value` {cfg.rewrite_value!r} does not fit a `{arr.type}` field",
                             where=where) from None
        return pc.if_else(pc.is_null(arr), pa.nulls(len(arr), type=arr.type), const)
    if name in ("hash", "hmac"):
        return _per_value(_text(arr, name, where), _hasher(cfg))
    if name == "aes_encrypt":
        return _per_value(_text(arr, name, where), _encrypter(cfg))
    if name == "random_string_rewrite":
        return _random(_text(arr, name, where), cfg)
    if name == "coarsen_location":
        if not (pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type)):
            raise InputError(f"`coarsen_location` needs a number field, not `{arr.type}`", where=where)
        return pc.round(arr, ndigits=cfg.decimals)
    if name == "truncate_ip":
        return _per_value(_text(arr, name, where), lambda v: _truncate_ip(v, cfg.ipv4_bits, cfg.ipv6_bits))
    raise InputError(f"no array function for strategy `{name}`", where=where)  # unreachable: names are checked


def changed(before: pa.Array | pa.ChunkedArray, after: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
    """True where a value differs (NULL equals NULL, NaN equals NaN)."""
    before = before.combine_chunks() if isinstance(before, pa.ChunkedArray) else before
    after = after.combine_chunks() if isinstance(after, pa.ChunkedArray) else after
    same = pc.fill_null(pc.equal(before, after), False)
    both_null = pc.and_(pc.is_null(before), pc.is_null(after))
    same = pc.or_(same, both_null)
    if pa.types.is_floating(before.type) and pa.types.is_floating(after.type):
        same = pc.or_(same, pc.fill_null(pc.and_(pc.is_nan(before), pc.is_nan(after)), False))
    return pc.invert(same)


def _text(arr: pa.Array, name: str, where: str) -> pa.Array:
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_null(arr.type):
        return arr.cast(pa.string())
    raise InputError(f"`{name}` needs a text field, not `{arr.type}`", where=where)


def _per_value(arr: pa.Array, fn: Callable[[str], str | None]) -> pa.Array:
    """Apply `fn` once per distinct value (the work is per distinct value, not per row)."""
    uniques = pc.unique(arr)
    mapped = pa.array([None if v is None else fn(v) for v in uniques.to_pylist()], type=pa.string())
    return mapped.take(pc.index_in(arr, uniques))


def _hasher(cfg: Hash) -> Callable[[str], str]:
    key = masking_key()
    digest = hashlib.sha256 if cfg.algorithm == "SHA-256" else hashlib.sha512
    tail = suffix(cfg)
    hexlen = 64 if cfg.algorithm == "SHA-256" else 128
    done = re.compile("h:[0-9a-f]{" + str(hexlen) + "}" + re.escape(tail))

    def one(value: str) -> str:
        if done.fullmatch(value):
            return value
        return "h:" + hmac.new(key, value.encode("utf-8"), digest).hexdigest() + tail

    return one


def _encrypter(cfg: AesEncrypt) -> Callable[[str], str]:
    """AES-256-GCM with a nonce derived from the value (convergent, as Fides' `aes_encrypt`):
    equal values encrypt equally. Output `a:<base64url(nonce + ciphertext + tag)><suffix>`; a
    value that already decrypts under the key (the tag checks) is left as it is."""
    aes = AESGCM(_derived(b"aes_encrypt/key"))
    nonce_key = _derived(b"aes_encrypt/nonce")
    tail = suffix(cfg)

    def encrypted(value: str) -> bool:
        body = value[2:len(value) - len(tail)] if value.startswith("a:") and value.endswith(tail) else ""
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii")) if body else b""
        except (ValueError, UnicodeEncodeError):
            return False
        if len(raw) < 12 + 16:
            return False
        try:
            aes.decrypt(raw[:12], raw[12:], None)
        except InvalidTag:
            return False
        return True

    def one(value: str) -> str:
        if encrypted(value):
            return value
        data = value.encode("utf-8")
        nonce = hmac.new(nonce_key, data, hashlib.sha256).digest()[:12]
        return "a:" + base64.urlsafe_b64encode(nonce + aes.encrypt(nonce, data, None)).decode("ascii") + tail

    return one


def decrypt(value: str, config: dict[str, Any] | None = None) -> str:
    """The plain text of an `aes_encrypt` value (for whoever holds the key; tests use it)."""
    tail = suffix(AesEncrypt.model_validate(config or {}))
    raw = base64.urlsafe_b64decode(value[2:len(value) - len(tail)])
    return AESGCM(_derived(b"aes_encrypt/key")).decrypt(raw[:12], raw[12:], None).decode("utf-8")


_ALPHABET = string.ascii_lowercase + string.digits  # Fides' alphabet


def _random(arr: pa.Array, cfg: RandomString) -> pa.Array:
    """A new random string per row (not per distinct value: equal values get different text)."""
    tail = suffix(cfg)
    out = [None if v is None else "".join(secrets.choice(_ALPHABET) for _ in range(cfg.length)) + tail
           for v in arr.to_pylist()]
    return pa.array(out, type=pa.string())


def _truncate_ip(value: str, v4: int, v6: int) -> str | None:
    """The network address of the value's /v4 or /v6 prefix; an unparseable value becomes NULL."""
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    bits = v4 if ip.version == 4 else v6
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False).network_address)
