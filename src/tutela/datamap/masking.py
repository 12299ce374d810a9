"""Masking strategy names and their configuration models, shared by `datamap check` and the
connectors (tutela.connectors.strategies), so that what the check accepts is what runs.

Fides' strategies and configuration keys (fides `schemas/masking/masking_configuration.py`):

    null_rewrite            -
    string_rewrite          rewrite_value, format_preservation{suffix}
    hash, hmac              algorithm (SHA-256 | SHA-512), format_preservation{suffix}
    random_string_rewrite   length (default 30), format_preservation{suffix}
    aes_encrypt             mode (GCM), format_preservation{suffix}
    preserve                -

Tutela's own: coarsen_location, truncate_ip, strip_location (media files) and `delete`
(a collection-level override). Fides draws salts and keys per request; Tutela derives them
from `TUTELA_MASKING_KEY`, so configuration carries no secrets and unknown keys are refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutela.errors import validation_message

STRATEGIES = ("null_rewrite", "string_rewrite", "hash", "hmac", "random_string_rewrite", "aes_encrypt",
              "coarsen_location", "truncate_ip", "strip_location", "preserve", "delete")
TEXT_ONLY = ("hash", "hmac", "random_string_rewrite", "aes_encrypt", "truncate_ip")  # write text


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(_Config):
    """A strategy that takes no configuration (unknown keys are refused)."""


class FormatPreservation(_Config):
    suffix: str = Field(default="", max_length=200)


class StringRewrite(_Config):
    rewrite_value: str | int | float | bool
    format_preservation: FormatPreservation | None = None


class Hash(_Config):
    algorithm: Literal["SHA-256", "SHA-512"] = "SHA-256"
    format_preservation: FormatPreservation | None = None


class RandomString(_Config):
    length: int = Field(default=30, ge=1, le=1000)
    format_preservation: FormatPreservation | None = None


class AesEncrypt(_Config):
    mode: Literal["GCM"] = "GCM"
    format_preservation: FormatPreservation | None = None


class Coarsen(_Config):
    decimals: int = Field(default=1, ge=0, le=6)


class TruncateIp(_Config):
    ipv4_bits: int = Field(default=24, ge=0, le=32)
    ipv6_bits: int = Field(default=48, ge=0, le=128)


CONFIGS: dict[str, type[_Config]] = {
    "null_rewrite": Empty, "string_rewrite": StringRewrite, "hash": Hash, "hmac": Hash,
    "random_string_rewrite": RandomString, "aes_encrypt": AesEncrypt, "coarsen_location": Coarsen,
    "truncate_ip": TruncateIp, "strip_location": Empty, "preserve": Empty, "delete": Empty,
}


def suffix(config: Any) -> str:
    fp = getattr(config, "format_preservation", None)
    return fp.suffix if fp is not None else ""


def config_problem(strategy: str, configuration: dict[str, Any]) -> str | None:
    """Why `{strategy, configuration}` cannot run, or None: the one test both check and run use."""
    if strategy not in CONFIGS:
        return f"unknown masking strategy `{strategy}` (known: {', '.join(STRATEGIES)})"
    try:
        CONFIGS[strategy].model_validate(configuration)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        return f"configuration{'.' + loc if loc else ''}: {validation_message(err)}"
    return None


def max_text(strategy: str, configuration: dict[str, Any]) -> int | None:
    """The longest text a (valid) strategy writes; None when it depends on the value or is not text."""
    cfg: Any = CONFIGS[strategy].model_validate(configuration)
    if strategy in ("hash", "hmac"):
        return 2 + (64 if cfg.algorithm == "SHA-256" else 128) + len(suffix(cfg))
    if strategy == "string_rewrite":
        return len(str(cfg.rewrite_value)) + len(suffix(cfg))
    if strategy == "random_string_rewrite":
        return int(cfg.length) + len(suffix(cfg))
    if strategy == "truncate_ip":
        return 39
    return None
