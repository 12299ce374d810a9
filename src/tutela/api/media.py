"""`POST /v1/media/clean`: a photo or video in (the raw request body), the cleaned file out.

Strict by default (children's uploads: all metadata but what shows the picture right goes).
Answers: 200 with the cleaned bytes (headers `X-Tutela-Status: cleaned|already_clean`,
`X-Tutela-Format`, `X-Tutela-Removed`); 413 over the size limit (`TUTELA_MEDIA_MAX_BYTES`,
default 256 MiB; checked while the body streams in, so an oversized upload is never stored
whole); 422 with {error, message, where, hint} for a file that is refused (naming why) or an
empty body. A refused upload is deleted, never returned. Nothing here logs the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tutela import settings
from tutela.engine import Engine

ENV = "TUTELA_MEDIA_MAX_BYTES"
DEFAULT_MAX = 256 << 20
TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tiff": "image/tiff",
         "heif": "image/heif", "video": "video/mp4"}
_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}}


def _error(status: int, error: str, message: str, hint: str | None = None) -> JSONResponse:
    body = {"error": error, "message": message, "where": "body"}
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status_code=status)


def _limit() -> int:
    return settings.positive_int(ENV, DEFAULT_MAX)


def install(app: FastAPI, engine: Engine) -> None:
    """Mount `POST /v1/media/clean` on `app`."""

    @app.post("/v1/media/clean", openapi_extra=_BODY, response_class=Response)
    async def clean(request: Request, strict: bool = True) -> Response:
        limit = _limit()
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _error(413, "TooLarge", f"the upload is over the {limit}-byte limit")
        with tempfile.TemporaryDirectory(prefix="tutela-media-") as folder:
            path = Path(folder) / "upload"
            size = 0
            with path.open("wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        return _error(413, "TooLarge", f"the upload is over the {limit}-byte limit")
                    fh.write(chunk)
            if size == 0:
                return _error(422, "InputError", "empty upload", hint="send the file as the request body")
            [result] = await run_in_threadpool(engine.clean_media, [path], strict, "delete")
            if result.status == "refused":
                return _error(422, "MediaRefused", f"refused: {result.reason}",
                              hint="JPEG, PNG, WebP, TIFF, HEIC/HEIF and MP4/MOV/M4V are supported")
            data = path.read_bytes()
        return Response(data, media_type=TYPES.get(result.format, "application/octet-stream"),
                        headers={"X-Tutela-Status": result.status, "X-Tutela-Format": result.format,
                                 "X-Tutela-Removed": str(len(result.removed))})
