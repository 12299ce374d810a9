"""The HTTP API (FastAPI): a thin layer over `tutela.engine.Engine`."""

from tutela.api.app import create_app

__all__ = ["create_app"]
