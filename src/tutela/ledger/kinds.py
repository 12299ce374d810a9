"""What each kind of ledger entry holds: one table of fields per kind, from which both the
Pydantic model (the reference validator) and the columnar validator (`chain.encode_table`) are
made, so the two cannot drift apart.

No field holds free text. Strings are references (`REF`: letters, digits and `_ . : + -`, up to
128 characters), dates, SHA-256 hex digests or words (space-separated references): a name, an e-mail
address or a street cannot be written into the ledger by mistake. A subject is a keyed
pseudonym (`Ledger.pseudonym(id)`: `ps:` and 32 hex digits of HMAC-SHA-256) or the caller's
own opaque id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from tutela.ledger.canonical import MAX_INT

REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:+\-]{0,127}$"  # `+`: versions like 0.1.0+3f2a
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
HEX_PATTERN = r"^[0-9a-f]{64}$"
WORDS_PATTERN = r"^[A-Za-z0-9_.: \-]{0,1000}$"
PATTERNS = {"ref": REF_PATTERN, "date": DATE_PATTERN, "hex": HEX_PATTERN, "words": WORDS_PATTERN}


@dataclass(frozen=True)
class FieldSpec:
    """`type`: ref | date | hex | words | count | bool, or a tuple of allowed strings."""

    name: str
    type: str | tuple[str, ...]
    optional: bool = False


def _f(name: str, type_: str | tuple[str, ...], optional: bool = False) -> FieldSpec:
    return FieldSpec(name, type_, optional)


CONSENT_ASSURANCE = ("declared", "confirmed", "verified")  # a consent grant's (policy.model.Assurance)
ASSURANCE = ("none", "self_declared", "inferred", "parent_declared", "estimated", "verified", "verified_strong")
SPECS: dict[str, tuple[FieldSpec, ...]] = {
    "consent_event": (_f("subject", "ref"), _f("scope", "ref"), _f("action", ("grant", "revoke", "expire")),
                      _f("granted_by", ("parent", "guardian", "self")), _f("method", "ref"),
                      _f("assurance", CONSENT_ASSURANCE), _f("grant_id", "ref", True),
                      _f("notice_version", "ref", True), _f("expires", "date", True)),
    "age_assurance": (_f("subject", "ref"), _f("method", "ref"), _f("result", ("pass", "fail", "inconclusive")),
                      _f("age_band", "ref", True), _f("assurance", ASSURANCE), _f("jurisdiction", "ref", True)),
    "erasure_receipt": (_f("job_id", "ref"), _f("subject", "ref", True), _f("store", "ref"),
                        _f("collection", "ref"), _f("rows", "count"), _f("fields", "words", True),
                        _f("receipt", "hex", True)),
    "remediation_receipt": (_f("job_id", "ref"), _f("rule_id", "ref"), _f("store", "ref"), _f("collection", "ref"),
                            _f("action", "ref"), _f("rows", "count"), _f("dry_run", "bool"),
                            _f("receipt", "hex", True)),
    "rights_request": (_f("request_id", "ref"), _f("subject", "ref"),
                       _f("type", ("access", "erasure", "rectification", "objection", "portability")),
                       _f("jurisdiction", "ref"), _f("deadline", "date"), _f("created_by", "ref")),
    "rights_approval": (_f("request_id", "ref"), _f("decision", ("approved", "rejected", "extended")),
                        _f("by", "ref"), _f("reason", "ref", True), _f("deadline", "date", True)),
    # a request answered: access (rows read) or erasure (rows changed), whether every store was searched
    "rights_fulfilment": (_f("request_id", "ref"), _f("type", ("access", "erasure")), _f("rows", "count"),
                          _f("complete", "bool"), _f("not_searched", "words", True), _f("receipt", "hex", True)),
    "rulebook_version": (_f("version", "ref"), _f("previous", "ref", True), _f("digest", "hex"),
                         _f("rules", "count")),
    # source `api`: one decision (effect, subject, act); source `stream`: one batch's aggregate
    # (batch_id, total, allow, deny, obligations), never one entry per event
    "decision": (_f("source", ("api", "stream")), _f("rulebook_version", "ref"),
                 _f("effect", ("allow", "deny", "allow_with_obligations"), True), _f("subject", "ref", True),
                 _f("jurisdiction", "ref", True), _f("category", "ref", True), _f("use", "ref", True),
                 _f("basis", "ref", True), _f("rules", "words", True), _f("batch_id", "ref", True),
                 _f("total", "count", True), _f("allow", "count", True), _f("deny", "count", True),
                 _f("obligations", "count", True)),
}
KINDS = tuple(sorted(SPECS))
Kind = Literal["age_assurance", "consent_event", "decision", "erasure_receipt", "rights_approval",
               "rights_fulfilment", "rights_request", "remediation_receipt", "rulebook_version"]


def _annotation(spec: FieldSpec) -> Any:
    if isinstance(spec.type, tuple):
        base: Any = Literal[spec.type]
    elif spec.type == "count":
        base = Annotated[int, Field(strict=True, ge=0, le=MAX_INT)]
    elif spec.type == "bool":
        base = Annotated[bool, Field(strict=True)]
    else:
        base = Annotated[str, StringConstraints(strict=True, pattern=PATTERNS[spec.type])]
    return base | None if spec.optional else base


def _model(kind: str, specs: tuple[FieldSpec, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {s.name: (_annotation(s), None if s.optional else ...) for s in specs}
    name = "".join(part.title() for part in kind.split("_"))
    return create_model(name, __config__=ConfigDict(extra="forbid", frozen=True), **fields)


MODELS: dict[str, type[BaseModel]] = {kind: _model(kind, specs) for kind, specs in SPECS.items()}
