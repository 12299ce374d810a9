"""`POST /v1/stream/guard`: a batch of platform events in, the guarded events out, in the same format.

The body is an Arrow IPC stream (`Content-Type: application/vnd.apache.arrow.stream`) or JSON lines
(`application/x-ndjson`, `application/jsonl`; one event per line). The subject state is the file
TUTELA_STREAM_STATE names (re-read when it changes, as the CLI's); pseudonym keys come from
TUTELA_STREAM_KEYS; events that name a `recipient_id` are gated against TUTELA_TRANSFER_REGISTRY.
Answers: 200 with the guarded events and the per-batch counts as JSON in the `Tutela-Counts` header
(`Tutela-State-Version` beside it); 413 over TUTELA_STREAM_MAX_BYTES (default 64 MiB, checked while
the body streams in); 415 another content type; 422 {error, message, where, hint} for a body that is
not Arrow or JSON lines, a missing column, a bad value (the batch is refused whole)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela import settings
from tutela.engine import Engine
from tutela.errors import InputError

if TYPE_CHECKING:
    from tutela.models import StreamGuard

ARROW = "application/vnd.apache.arrow.stream"
JSONL = ("application/x-ndjson", "application/jsonl", "application/json-lines")
STATE_ENV, LIMIT_ENV, REGISTRY_ENV = "TUTELA_STREAM_STATE", "TUTELA_STREAM_MAX_BYTES", "TUTELA_TRANSFER_REGISTRY"
DEFAULT_MAX = 64 << 20
_BODY = {"requestBody": {"required": True, "content": {
    ARROW: {"schema": {"type": "string", "format": "binary"}, "description": "Arrow IPC stream of events"},
    JSONL[0]: {"schema": {"type": "string"}, "description": "one JSON event per line"}}}}


def _error(status: int, error: str, message: str, hint: str | None = None) -> JSONResponse:
    body = {"error": error, "message": message, "where": "body"}
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status_code=status)


class _Guards:
    """One stream guard per (state file, keys, registry) setting, built on first use."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.lock = threading.Lock()
        self._built: tuple[tuple[str, str, str], StreamGuard] | None = None

    def guard(self, body: pa.Table) -> tuple[pa.Table, list[dict[str, Any]], int]:
        key = (settings.text(STATE_ENV), settings.text("TUTELA_STREAM_KEYS"), settings.text(REGISTRY_ENV))
        with self.lock:  # the guard's plan and pseudonym caches are one thread's at a time
            if self._built is None or self._built[0] != key:
                if not key[0]:
                    raise InputError("the stream guard has no subject state", where=STATE_ENV,
                                     hint="set TUTELA_STREAM_STATE to a .parquet or .arrow state file")
                gate = self.engine.transfers(Path(key[2]).expanduser()) if key[2] else None
                self._built = (key, self.engine.stream_guard(Path(key[0]).expanduser(), transfers=gate))
            out = self._built[1].guard(body, where="body")
        return out.table, out.summary(), out.state_version


def _arrow_in(body: bytes) -> pa.Table:
    try:
        return pa.ipc.open_stream(body).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"body is not an Arrow IPC stream: {exc}", where="body") from None


def _arrow_out(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def install(app: FastAPI, engine: Engine) -> None:
    """Mount `POST /v1/stream/guard` on `app`."""
    guards = _Guards(engine)

    @app.post("/v1/stream/guard", openapi_extra=_BODY, response_class=Response, responses={
        413: {"description": "the body is over TUTELA_STREAM_MAX_BYTES"},
        415: {"description": "not Arrow or JSON lines"},
        422: {"description": "bad input: {error, message, where, hint}"}})
    async def guard(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != ARROW and ctype not in JSONL:
            return _error(415, "UnsupportedMediaType", f"unsupported content type `{ctype or 'none'}`",
                          hint=f"send {ARROW} or {JSONL[0]}")
        limit = settings.positive_int(LIMIT_ENV, DEFAULT_MAX)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _error(413, "TooLarge", f"the body is over the {limit}-byte limit")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return _error(413, "TooLarge", f"the body is over the {limit}-byte limit")
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body:
            return _error(422, "InputError", "empty body", hint="send a batch of events")
        from tutela.models import events_from_jsonl, events_to_jsonl

        events = _arrow_in(body) if ctype == ARROW else events_from_jsonl(body)
        table, counts, version = await run_in_threadpool(guards.guard, events)
        headers = {"Tutela-Counts": json.dumps(counts, separators=(",", ":")), "Tutela-State-Version": str(version)}
        if ctype == ARROW:
            return Response(_arrow_out(table), media_type=ARROW, headers=headers)
        return Response(events_to_jsonl(table), media_type=JSONL[0], headers=headers)
