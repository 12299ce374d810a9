"""The typed boundary of /v1/consent (tutela.api.consent): request bodies (strict: no coercion,
unknown fields refused) and the responses a parent portal reads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SignUpBody(StrictBody):
    subject: str = Field(min_length=1, max_length=64, examples=["child-1"])
    jurisdiction: str = Field(min_length=2, max_length=6, examples=["NL"])
    age: int = Field(ge=0, le=130, examples=[12])
    parent_email: str | None = Field(default=None, max_length=254, examples=["parent@example.org"])
    scopes: list[str] = Field(default_factory=list, examples=[["precise_location"]])


class TokenBody(StrictBody):
    token: str = Field(min_length=1, max_length=200)


class ConfirmBody(StrictBody):
    token: str = Field(min_length=1, max_length=200)
    method: str = Field(default="email_plus", max_length=32)
    scopes: list[str] | None = None


class SignedFormBody(StrictBody):
    reference: str = Field(min_length=1, max_length=128, examples=["form-2026-118"])
    outcome: str = Field(default="passed", pattern="^(passed|failed)$")
    scopes: list[str] | None = None


class RevokeBody(StrictBody):
    grant_id: str | None = Field(default=None, max_length=32)
    scope: str | None = Field(default=None, max_length=32)
    on_behalf_of: str | None = Field(default=None, max_length=64, description="`guardian:<id>` when a parent asked")


class SettingBody(StrictBody):
    setting: str = Field(max_length=32, examples=["location"])
    value: str = Field(max_length=32, examples=["precise"])
    actor: str = Field(max_length=64, examples=["guardian:3f1c..."], description="`self` or `guardian:<id>`")


class ScopesBody(StrictBody):
    scopes: list[str] = Field(min_length=1, examples=[["third_party_disclosure"]])


class NoticeBody(StrictBody):
    version: str = Field(min_length=1, max_length=32, examples=["2"])
    scopes: list[str] = Field(default_factory=list, description="scopes whose practices changed materially")


class LinkBody(StrictBody):
    email: str = Field(min_length=3, max_length=254)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")  # a later field passes through rather than breaking the portal


class Citation(_Out):
    id: str | None = None
    instrument: str
    section: str
    url: str
    primary_checked: bool = False
    source_followed: str | None = None
    note: str | None = None


class DataLite(_Out):
    collect: list[str]
    allowed_uses: list[str]
    scopes_on: list[str]
    delete_contact_after_days: int
    citations: list[Citation]


class DefaultsOut(_Out):
    jurisdiction: str
    age: int
    settings: dict[str, str]
    consent_age: int | None
    guardian_link_required: bool
    citations: list[Citation]


class RequestSent(_Out):
    request_id: str
    status: Literal["pending"]
    expires_at: str
    scopes: list[str]
    guardian_id: str
    methods: list[str]


class SignUpOut(_Out):
    subject: str
    jurisdiction: str
    consent_age: int | None
    mode: Literal["data_lite", "full"]
    settings: dict[str, str]
    data_lite: DataLite | None
    guardian_link_required: bool
    request: RequestSent | None


class PeekScope(_Out):
    scope: str
    title: str


class PeekMethod(_Out):
    method: str
    name: str
    assurance: str
    channel: str
    cannot_grant: list[str]


class PeekOut(_Out):
    request_id: str
    expires_at: str
    notice_version: str
    scopes: list[PeekScope]
    methods: list[PeekMethod]


class RefusedScope(_Out):
    scope: str
    limit: str
    citation: dict[str, Any]


class ResultOut(_Out):
    request_id: str
    status: Literal["granted", "refused", "link_confirmed"]
    method: str
    assurance: str | None = None
    basis: str | None = None
    granted: list[str] = []
    refused: list[RefusedScope] = []
    next: str | None = None


class GrantOut(_Out):
    grant_id: str
    subject: str
    scope: str
    by: Literal["parent", "self"]
    guardian_id: str | None
    method: str
    assurance: str
    notice_version: str
    request_id: str | None
    granted_at: str
    expires_at: str | None
    revoked_at: str | None
    revoked_by: str | None
    renewal_needed_at: str | None
    state: Literal["active", "revoked", "expired", "needs_renewal"]


class GuardianLinkOut(_Out):
    guardian_id: str
    verified: bool


class AccountOut(_Out):
    subject: str
    jurisdiction: str
    mode: Literal["data_lite", "full"]
    data_lite: DataLite | None
    settings: dict[str, str]
    guardians: list[GuardianLinkOut]


class ChildOut(_Out):
    subject: str
    verified: bool
    jurisdiction: str
    mode: Literal["data_lite", "full"]


class GrantIds(_Out):
    granted: list[str]


class RevokedOut(_Out):
    revoked: list[str]


class NoticeOut(_Out):
    version: str
    needs_renewal: int
