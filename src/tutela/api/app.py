"""Routes. Errors a user caused become 422 with {error, message, where, hint}; never a 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from tutela.api import adreq, age, consent, evidence, media, ops, portal, rights, stream, transfers
from tutela.api.schemas import (
    DECISION_EXAMPLE,
    ERRORS,
    Health,
    JurisdictionDetail,
    JurisdictionSummary,
    NoteBody,
    ReasonBody,
    RunBody,
    components,
)
from tutela.engine import Engine
from tutela.errors import InputError, NotAllowed, StoreUnavailable, TutelaError
from tutela.models import Decision, DecisionRequest, EstateConfig, NewRequest

ARROW = "application/vnd.apache.arrow.stream"
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"example": DECISION_EXAMPLE, "schema": {"oneOf": [
                {"$ref": "#/components/schemas/DecisionRequest"},
                {"type": "object", "properties": {"requests": {
                    "type": "array", "items": {"$ref": "#/components/schemas/DecisionRequest"}}},
                 "required": ["requests"]},
            ]}},
            ARROW: {"schema": {"type": "string", "format": "binary"},
                    "description": "Arrow IPC stream with the columns of tutela.policy.batch"},
        },
    }
}


def create_app(engine: Engine | None = None, report: Path | None = None,
               estate: EstateConfig | None = None) -> FastAPI:
    """The API; with `report`, also the audit report at `/report` (and `/` redirects there);
    rights requests at `/v1/requests` run against `estate`."""
    eng = engine or Engine()
    _ = eng.recorder  # a ledger misconfigured fails here, at start; a new rulebook version is recorded
    app = FastAPI(title="Tutela", version=eng.version, docs_url=None, redoc_url=None,
                  description="Children's privacy decision point with a cited rulebook.")
    app.openapi_version = "3.0.3"  # the packaged Swagger UI (4.x) renders OpenAPI 3.0 documents
    # Swagger UI served from the package, not a CDN, so /docs works on offline machines too
    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Tutela API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger/favicon-32x32.png")

    metrics = ops.install(app, eng)

    @app.exception_handler(TutelaError)
    async def _tutela_error(request: Request, exc: TutelaError) -> JSONResponse:
        # bad input 422; a store that does not answer 503 (nothing was committed: it can be run again)
        # a role or four-eyes forbids it 403 (an InputError too, so the CLI exits 3)
        status = (403 if isinstance(exc, NotAllowed) else 422 if isinstance(exc, InputError)
                  else 503 if isinstance(exc, StoreUnavailable) else 500)
        return JSONResponse(exc.to_dict(), status_code=status)

    if report is not None:
        @app.get("/report", response_class=HTMLResponse, include_in_schema=False)
        def report_page() -> HTMLResponse:
            try:
                return HTMLResponse(report.read_text("utf-8"))
            except OSError:
                return HTMLResponse("<p>The audit report has not been written yet.</p>", status_code=404)

        @app.get("/", include_in_schema=False)
        def home() -> RedirectResponse:
            return RedirectResponse("/report")

    @app.get("/v1/health", response_model=Health)
    def health() -> dict[str, str]:
        return {"status": "ok", "rulebook_version": eng.version}

    @app.get("/v1/jurisdictions", response_model=list[JurisdictionSummary])
    def jurisdictions() -> list[dict[str, Any]]:
        book = eng.rulebook
        return [{"code": c, "name": j.name, "regimes": list(j.inherits), "rules": len(book.rules_for(c))}
                for c, j in sorted(book.jurisdictions.items())]

    @app.get("/v1/jurisdictions/{code}", response_model=JurisdictionDetail, responses=ERRORS)
    def jurisdiction(code: str) -> dict[str, Any]:
        book = eng.rulebook
        j = book.jurisdiction(code, where="path.code")
        return {"code": j.code, "name": j.name, "regimes": list(j.inherits),
                "digital_consent": [d.model_dump(mode="json") for d in j.digital_consent],
                "rules": [{"source": s.source, **s.rule.model_dump(mode="json")} for s in book.rules_for(code)]}

    @app.post("/v1/decisions", openapi_extra=_BODY, responses={
        **ERRORS, 200: {"description": "one Decision, or {\"decisions\": [Decision, ...]} for a batch, or an "
                                       "Arrow IPC stream for an Arrow body",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Decision"}}}}})
    async def decisions(request: Request) -> Any:
        body = await request.body()
        if request.headers.get("content-type", "").startswith(ARROW):
            return _arrow(eng, body, metrics)
        try:
            raw = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"body is not valid JSON: {exc}", where="body") from None
        if isinstance(raw, dict) and "requests" in raw:
            reqs = raw["requests"]
            if not isinstance(reqs, list):
                raise InputError("`requests` must be a list", where="body.requests")
            many = eng.decide_many(reqs)
            metrics.decided(d.effect for d in many)
            eng.record_decisions(reqs, many)  # the ledger, when one is configured (docs/ledger.md)
            return {"decisions": [d.model_dump(mode="json") for d in many]}
        one = eng.decide(raw)
        metrics.decided([one.effect])
        eng.record_decisions([raw], [one])
        return one.model_dump(mode="json")

    rights.install(app, eng, estate)
    media.install(app, eng)
    age.install(app, eng)
    adreq.install(app, eng, metrics.guarded)
    transfers.install(app, eng, estate)
    stream.install(app, eng)
    evidence.install(app, eng, estate)
    consent.install(app, eng)
    portal.install(app, eng, estate)
    app.openapi_schema = None
    _orig = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = _orig()
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            comps.update(components(DecisionRequest, Decision, NewRequest, NoteBody, ReasonBody, RunBody))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
    return app


def _arrow(eng: Engine, body: bytes, metrics: ops.Metrics) -> Response:
    try:
        table = pa.ipc.open_stream(body).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"body is not an Arrow IPC stream: {exc}", where="body") from None
    result = eng.decide_arrow(table)
    metrics.decided(result.effects())
    eng.record_decisions([], result)
    out = result.to_arrow()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, out.schema) as writer:
        writer.write_table(out)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW)
