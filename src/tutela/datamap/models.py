"""Data map models: Fides datasets (as fideslang writes them) and Tutela's declarations.

Fides models ignore keys Tutela does not use, so a plain Fides dataset loads unchanged
(`fidesops_meta` is read as `fides_meta`). Tutela's own declarations forbid unknown keys.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

Recipient = Literal["first_party", "processor", "third_party"]


class _Fides(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class FidesReference(_Fides):
    dataset: str
    field: str
    direction: Literal["from", "to"] | None = None


class FieldMeta(_Fides):
    identity: str | None = None
    primary_key: bool = False
    references: tuple[FidesReference, ...] = ()
    data_type: str | None = None


class FidesField(_Fides):
    name: str
    description: str | None = None
    data_categories: tuple[str, ...] = ()
    fides_meta: FieldMeta | None = Field(default=None, validation_alias=AliasChoices("fides_meta", "fidesops_meta"))
    fields: tuple[FidesField, ...] = ()


class FidesCollection(_Fides):
    name: str
    description: str | None = None
    data_categories: tuple[str, ...] = ()
    fields: tuple[FidesField, ...] = ()


class FidesDataset(_Fides):
    fides_key: str
    name: str | None = None
    description: str | None = None
    collections: tuple[FidesCollection, ...] = ()


class FidesFile(_Fides):
    dataset: tuple[FidesDataset, ...] = Field(min_length=1)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Where(_Strict):
    field: str
    equals: str


class ActSpec(_Strict):
    use: str
    recipient: Recipient = "first_party"
    where: Where | None = None


class CollectionDecl(_Strict):
    subject: str
    time: str | None = None
    storage_region: str | None = None
    retention_days: int | None = Field(default=None, ge=1)
    acts: tuple[ActSpec, ...] = Field(min_length=1)


class SubjectsDecl(_Strict):
    collection: str
    key: str
    jurisdiction: str
    birth_date: str


class ConsentsDecl(_Strict):
    collection: str
    subject: str
    scopes: str
    by: str
    assurance: str
    granted_at: str
    expires_at: str | None = None
    revoked_at: str | None = None


class SignalDecl(_Strict):
    collection: str
    subject: str
    field: str


class ProcessorsDecl(_Strict):
    collection: str
    key: str
    kind: str
    country: str
    certified: str
    scc: str
    tia: str


class TransfersDecl(_Strict):
    collection: str
    subject: str
    processor: str
    source_collection: str
    time: str
    processors: ProcessorsDecl


class TutelaDecl(_Strict):
    dataset: str
    subjects: SubjectsDecl
    consents: ConsentsDecl | None = None
    age_signals: tuple[SignalDecl, ...] = ()
    transfers: TransfersDecl | None = None
    collections: dict[str, CollectionDecl]


class TutelaFile(_Strict):
    tutela: TutelaDecl
