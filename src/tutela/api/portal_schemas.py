"""Bodies and answers of the parent portal's API (`/v1/portal`, docs/portal.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tutela.api.consent_schemas import StrictBody


class EmailBody(StrictBody):
    email: str = Field(min_length=3, max_length=254, examples=["parent@example.org"])


class LinkBody(StrictBody):
    token: str = Field(min_length=20, max_length=128)


class ScopeBody(StrictBody):
    scope: str = Field(min_length=1, max_length=32, examples=["precise_location"])


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class SentOut(_Out):
    sent: str = Field(description="always `if_known`: the answer never says whether the address is a parent's")


class SessionOut(_Out):
    session: str = Field(description="the parent's session: send it as `Authorization: Bearer <session>`")
    expires_in: int


class ChildOut(_Out):
    subject: str
    verified: bool
    jurisdiction: str
    mode: str


class ChildView(ChildOut):
    settings: dict[str, str]
    grants: list[dict[str, Any]]
    scopes: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    recipients: list[dict[str, Any]] | None


class GrantOut(_Out):
    grant_id: str


class RevokedOut(_Out):
    revoked: list[str]


class ErasureOut(_Out):
    id: str
    status: str
    result: dict[str, Any] | None
