"""Operations: `/healthz` (alive), `/readyz` (ready to serve, or 503 naming what is not), `/metrics`
(Prometheus text format). Metric labels hold effects, outcomes, statuses, buckets and job ids,
never a person's identifier.

    tutela_decisions_total{effect}                   decisions answered by /v1/decisions
    tutela_guard_requests_total{guard, outcome}      ad requests guarded by /v1/adreq/guard
    tutela_guard_events_total{outcome}               stream events guarded in this process
    tutela_remediation_rows{job, status, kind}       planned and done rows of the latest remediation jobs
    tutela_rights_requests_open{bucket}              open rights requests by deadline bucket
    tutela_http_requests_total{route, status}        requests by route template and status class
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tutela.api.logs import access_logger
from tutela.engine import Engine


class _StateCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterable[Metric]:
        snap = self.engine.evidence.snapshot()
        rows = GaugeMetricFamily("tutela_remediation_rows", "rows of a remediation job: planned and done",
                                 labels=["job", "status", "kind"])
        for j in snap["jobs"]:
            rows.add_metric([j["job"], j["status"], "planned"], j["planned"])
            rows.add_metric([j["job"], j["status"], "done"], j["done"])
        yield rows
        reqs = GaugeMetricFamily("tutela_rights_requests_open", "open rights requests by deadline bucket",
                                 labels=["bucket"])
        for b, n in snap["requests"].items():
            reqs.add_metric([b], n)
        yield reqs


class Metrics:
    def __init__(self, engine: Engine):
        self.registry = CollectorRegistry()
        self.decisions = Counter("tutela_decisions", "decisions answered, by effect", ["effect"],
                                 registry=self.registry)
        self.guarded = Counter("tutela_guard_requests", "requests guarded, by guard and outcome",
                               ["guard", "outcome"], registry=self.registry)
        self.events = Counter("tutela_guard_events", "stream events guarded in this process, by outcome",
                              ["outcome"], registry=self.registry)
        self.http = Counter("tutela_http_requests", "HTTP requests by route template and status class",
                            ["route", "status"], registry=self.registry)
        self.registry.register(_StateCollector(engine))

    def decided(self, effects: Iterable[str]) -> None:
        for e in effects:
            self.decisions.labels(e).inc()

    def stream_batch(self, counts: Mapping[tuple[str, str, str], int], _batch_id: str = "") -> None:
        """A stream guard's per-batch counts (StreamGuard.on_batch) as event counters."""
        for (action, field, _reason), n in counts.items():
            if field == "event" and action in ("keep", "drop"):
                self.events.labels(action).inc(n)


def _template(request: Request) -> str:
    """The route as a template (`/v1/requests/{request_id}/run`): the path with each path parameter's
    value put back as its name, so no id a caller sent is logged or used as a label."""
    if request.scope.get("route") is None:
        return "unmatched"
    parts = request.scope.get("path", "").split("/")
    values = {str(v): k for k, v in (request.scope.get("path_params") or {}).items()}
    return "/".join(f"{{{values[p]}}}" if p in values else p for p in parts)


def install(app: FastAPI, engine: Engine) -> Metrics:
    metrics = Metrics(engine)
    log = access_logger()

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = _template(request)
        metrics.http.labels(route, f"{response.status_code // 100}xx").inc()
        log.info("request", extra={"method": request.method, "route": route, "status": response.status_code,
                                   "ms": round((time.perf_counter() - start) * 1000, 1)})
        return response

    @app.get("/healthz", tags=["operations"], summary="Alive (checks nothing else)")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Ready: state store, rulebook, ledger (when configured)",
             responses={503: {"description": "not ready; `checks` names what is not"}})
    def readyz() -> JSONResponse:
        checks = [{"check": n, "ok": ok, "detail": d} for n, ok, d in engine.evidence.readiness()]
        bad = [c["check"] for c in checks if not c["ok"]]
        body: dict[str, Any] = {"status": "not ready" if bad else "ready", "checks": checks}
        if bad:
            body["not_ready"] = bad
        return JSONResponse(body, status_code=503 if bad else 200)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (text format)")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
