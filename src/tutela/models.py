"""The public models the CLI, the API and library users pass to and get from `tutela.engine.Engine`.

Names load on first use (PEP 562): importing this module costs nothing until a name is read.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tutela.audit import Finding as Finding
    from tutela.clipstream import AS_OF as AS_OF
    from tutela.clipstream.examples import CASES as CASES
    from tutela.connectors.estate import EstateConfig as EstateConfig
    from tutela.engine import DatamapCheck as DatamapCheck
    from tutela.media import QUARANTINE as QUARANTINE
    from tutela.media import STATUSES as STATUSES
    from tutela.media import MediaResult as MediaResult
    from tutela.media import OnRefuse as OnRefuse
    from tutela.policy.model import Decision as Decision
    from tutela.policy.model import DecisionRequest as DecisionRequest
    from tutela.query import EngineName as EngineName
    from tutela.rights import RightsDesk as RightsDesk
    from tutela.rights.lifecycle import NewRequest as NewRequest

_WHERE = {
    "AS_OF": "tutela.clipstream", "CASES": "tutela.clipstream.examples", "DatamapCheck": "tutela.engine",
    "Decision": "tutela.policy.model", "DecisionRequest": "tutela.policy.model", "EngineName": "tutela.query",
    "EstateConfig": "tutela.connectors.estate", "Finding": "tutela.audit", "MediaResult": "tutela.media",
    "NewRequest": "tutela.rights.lifecycle",
    "OnRefuse": "tutela.media", "QUARANTINE": "tutela.media", "RightsDesk": "tutela.rights",
    "STATUSES": "tutela.media",
}

__all__ = [
    "AS_OF",
    "CASES",
    "QUARANTINE",
    "STATUSES",
    "DatamapCheck",
    "Decision",
    "DecisionRequest",
    "EngineName",
    "EstateConfig",
    "Finding",
    "MediaResult",
    "OnRefuse",
    "RightsDesk",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'tutela.models' has no attribute {name!r}")
