"""Reading estates: tables as Arrow (`source`) and the query engines the audit runs on (`backends`)."""

from tutela.query.backends import EngineName
from tutela.query.source import EstateSource

__all__ = ["EngineName", "EstateSource"]
