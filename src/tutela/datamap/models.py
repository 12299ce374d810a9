"""Data map models: Fides datasets (as fideslang writes them) and Tutela's declarations.

Fides models ignore keys Tutela does not use, so a plain Fides dataset loads unchanged
(`fidesops_meta` is read as `fides_meta`). Tutela's own declarations forbid unknown keys.
A `masking_strategy_override` keeps any strategy name here; `tutela.datamap.check` reports
names and configurations that `tutela.datamap.masking` refuses, and the planner refuses the
same ones before any write.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field

from tutela.datamap.masking import STRATEGIES
from tutela.errors import InputError

Recipient = Literal["first_party", "processor", "third_party"]
__all__ = ["STRATEGIES"]  # masking strategies Tutela runs (docs/repair.md, "Strategies")


class _Fides(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class FidesReference(_Fides):
    dataset: str
    field: str
    direction: Literal["from", "to"] | None = None


class MaskingOverride(_Fides):
    """Fides' `masking_strategy_override`: `{strategy, configuration}`."""

    strategy: str
    configuration: dict[str, Any] = Field(default_factory=dict)


class FieldMeta(_Fides):
    identity: str | None = None
    primary_key: bool = False
    references: tuple[FidesReference, ...] = ()
    data_type: str | None = None
    length: int | None = None  # Fides truncates masked text to it; Tutela refuses a strategy that writes more
    read_only: bool = False
    masking_strategy_override: MaskingOverride | None = None


class CollectionMeta(_Fides):
    masking_strategy_override: MaskingOverride | None = None  # Fides allows `delete` here
    skip_processing: bool = False  # Fides: never read or erased; references to it are left out


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
    fides_meta: CollectionMeta | None = Field(default=None,
                                              validation_alias=AliasChoices("fides_meta", "fidesops_meta"))
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
    stop: str | None = None  # the value that switches the act off (what remediation writes)


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
    """Who the subject is. A plain Fides dataset may have no jurisdiction or birth-date column:
    leave them out and a request gives the jurisdiction (and a declared age, if any)."""

    collection: str
    key: str
    jurisdiction: str | None = None
    birth_date: str | None = None

    def audit_columns(self, where: str) -> tuple[str, str]:
        """The jurisdiction and birth-date columns, which an audit cannot do without."""
        if self.jurisdiction is None or self.birth_date is None:
            missing = "jurisdiction" if self.jurisdiction is None else "birth_date"
            raise InputError(f"the declarations name no `{missing}` column of `{self.collection}`", where=where,
                             hint="an audit decides by each subject's jurisdiction and age: declare both columns")
        return self.jurisdiction, self.birth_date


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
    name: str | None = None  # the column naming the recipient (the transfer registry shows it)


class TransfersDecl(_Strict):
    collection: str
    subject: str
    processor: str
    source_collection: str
    time: str
    processors: ProcessorsDecl


class MaskSpec(_Strict):
    strategy: str
    configuration: dict[str, Any] = Field(default_factory=dict)


class HashFieldDecl(_Strict):
    """One field of a Redis hash: its categories and, optionally, how to mask it."""

    data_categories: tuple[str, ...] = ()
    masking_strategy_override: MaskSpec | None = None


class KeyFamilyDecl(_Strict):
    """Redis keys of one kind, one per subject: `key` is a template whose `{placeholders}` are
    fields of the subjects collection, e.g. `clipstream:session:{account_id}`."""

    key: str = Field(min_length=1)
    type: Literal["hash", "string", "list", "set", "zset"]
    data_categories: tuple[str, ...] = ()  # the value's categories (string, list, set, zset)
    fields: dict[str, HashFieldDecl] = Field(default_factory=dict)  # hash fields
    masking_strategy_override: MaskSpec | None = None  # `delete`: erase the whole key


def _no_password(v: str | None) -> str | None:
    """A store's `location` in the data map (a file in a repository) never holds a password."""
    if v is not None:
        password = urlsplit(v).password
        if password is not None and unquote(password) != "***":
            raise ValueError("a password in a data map: write `***` in its place and set "
                             "TUTELA_STORE_PASSWORD_<STORE> where Tutela runs")
    return v


class RedisStoreDecl(_Strict):
    kind: Literal["redis"]
    collections: dict[str, KeyFamilyDecl] = Field(min_length=1)
    location: Annotated[str | None, AfterValidator(_no_password)] = None  # redis://host:port/db (no password)


class FileSetDecl(_Strict):
    """Files of a dataset collection: `field` holds each file's path relative to the media root."""

    field: str


class FilesStoreDecl(_Strict):
    kind: Literal["files"]
    collections: dict[str, FileSetDecl] = Field(min_length=1)
    location: str | None = None  # the media folder: a path (relative to the data map file) or file:///dir


StoreDecl = Annotated[RedisStoreDecl | FilesStoreDecl, Field(discriminator="kind")]


class TutelaDecl(_Strict):
    dataset: str
    subjects: SubjectsDecl
    consents: ConsentsDecl | None = None
    age_signals: tuple[SignalDecl, ...] = ()
    transfers: TransfersDecl | None = None
    collections: dict[str, CollectionDecl]
    stores: dict[str, StoreDecl] = Field(default_factory=dict)  # stores beside the estate (docs/repair.md)


class TutelaFile(_Strict):
    tutela: TutelaDecl
