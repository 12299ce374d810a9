"""Tutela: a children's privacy compliance engine. The core object is `tutela.engine.Engine`."""

__version__ = "0.1.0"
