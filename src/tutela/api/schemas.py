"""The API's typed boundary: request bodies and responses as Pydantic models, each with an
example that works when sent as-is from /docs against `make demo`'s estate.

Bodies are read by the routes themselves (so a bad one gets Tutela's 422 naming the field, not
FastAPI's list of errors); `body()` is how a route validates one, `request_body()` is what the
OpenAPI document says about it. Models nested in a body are added to the document's
components by `components()`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutela.errors import InputError, validation_message

DECISION_EXAMPLE = {"subject": {"jurisdiction": "NL", "age": 12},
                    "act": {"category": "user.location.precise", "use": "marketing.advertising"}}
NEW_REQUEST_EXAMPLE = {"kind": "access", "subject": "1", "requester": {"kind": "parent", "ref": "ticket-4711"}}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # "yes" is not true: no coercion


class NoteBody(_Body):
    note: str | None = Field(default=None, min_length=1, max_length=500, examples=["checked the parent's ID"])


class ReasonBody(_Body):
    reason: str = Field(min_length=1, max_length=500, examples=["the subject could not be identified"])


class RunBody(_Body):
    allow_partial: bool = Field(default=False, description="run even if a declared store cannot be searched; "
                                                           "the result names every store not searched")
    allow_unreachable: bool = Field(default=False, description="proceed past collections no reference reaches")


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    rulebook_version: str


class JurisdictionSummary(BaseModel):
    code: str = Field(examples=["NL"])
    name: str
    regimes: list[str]
    rules: int


class JurisdictionDetail(BaseModel):
    code: str
    name: str
    regimes: list[str]
    digital_consent: list[dict[str, Any]]
    rules: list[dict[str, Any]]


class Requester(BaseModel):
    kind: str
    ref: str | None


class RightsRequest(BaseModel):
    """A rights request as staff see it: its deadline, its state, and what a run found."""

    id: str
    kind: str
    scope: str
    subject: str
    jurisdiction: str
    estate: str
    status: str
    requester: Requester
    approval: str
    created_by: str
    created_at: str | None
    received: str
    decided_by: str | None
    decided_at: str | None
    note: str | None
    due: str | None
    extended: bool
    overdue: bool
    no_fixed_period: bool
    extendable_until: str | None
    deadline: Any
    unverified_deadlines: Any
    running: bool
    completed_at: str | None
    answered_late: bool
    result: dict[str, Any] | None
    error: str | None
    stores: Any
    partial: bool
    model_config = ConfigDict(extra="allow")  # a run's further facts (options, undecided) pass through


class Error(BaseModel):
    error: str = Field(examples=["InputError"])
    message: str
    where: str | None = None
    hint: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": Error, "description": "bad input: `where` names the field"},
    503: {"model": Error, "description": "a store does not answer; nothing was committed, run it again"},
}
STAFF_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    401: {"model": Error, "description": "no or malformed `Authorization: Bearer <token>`"},
    403: {"model": Error, "description": "not a staff token"},
}


def body(model: type[_Body], data: dict[str, Any]) -> Any:
    """`data` validated as `model`, or an InputError naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(validation_message(err), where=f"body.{loc}" if loc else "body") from None


def request_body(model: type[BaseModel], example: dict[str, Any] | None = None,
                 required: bool = True) -> dict[str, Any]:
    """The `openapi_extra` of a route whose body is `model` (with a working example)."""
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    if example is not None:
        media["example"] = example
    return {"requestBody": {"required": required, "content": {"application/json": media}}}


def components(*models: type[BaseModel]) -> dict[str, Any]:
    """JSON schemas of `models` and everything they nest, for the document's components."""
    out: dict[str, Any] = {}
    for m in models:
        schema = m.model_json_schema(ref_template="#/components/schemas/{model}")
        out.update(schema.pop("$defs", {}))
        out[m.__name__] = schema
    return out
