"""Structured logs: one JSON object per line on standard error, for `tutela serve`.

    {"time": "2026-12-03T12:00:00.123Z", "level": "info", "logger": "tutela.access", "message": "request",
     "method": "POST", "route": "/v1/requests/{request_id}/approve", "status": 200, "ms": 4.2}

Access lines name the route template, never the path as sent or its query string, so no id a
caller put in a URL is written; request bodies, tokens and headers are never logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            out["error"] = record.exc_info[0].__name__ if record.exc_info[0] else "error"  # no traceback text
        return json.dumps(out, default=str, ensure_ascii=False)


def log_config(level: str = "info") -> dict[str, Any]:
    """A logging.config.dictConfig for uvicorn and Tutela: every logger as JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    lv = level.upper()
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {"json": handler},
            "loggers": {"uvicorn": {"handlers": ["json"], "level": lv, "propagate": False},
                        "uvicorn.error": {"handlers": ["json"], "level": lv, "propagate": False},
                        "uvicorn.access": {"handlers": ["json"], "level": "WARNING", "propagate": False},
                        "tutela": {"handlers": ["json"], "level": lv, "propagate": False}}}


def access_logger() -> logging.Logger:
    return logging.getLogger("tutela.access")
