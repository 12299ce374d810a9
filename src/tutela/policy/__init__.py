"""The decision point: Subject + Act -> Decision, by a reference and a compiled evaluator.

Names load on first use (PEP 562), so importing the models does not load NumPy and the
compiled tables (`tutela decide` and `--help` stay fast).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tutela.policy.compiled import CompiledPolicy as CompiledPolicy
    from tutela.policy.facts import Facts as Facts
    from tutela.policy.facts import derive as derive
    from tutela.policy.model import Act as Act
    from tutela.policy.model import Decision as Decision
    from tutela.policy.model import DecisionRequest as DecisionRequest
    from tutela.policy.model import Grant as Grant
    from tutela.policy.model import Subject as Subject
    from tutela.policy.model import Verdict as Verdict
    from tutela.policy.model import age_on as age_on
    from tutela.policy.reference import evaluate as evaluate

_WHERE = {
    "CompiledPolicy": "compiled", "Facts": "facts", "derive": "facts", "evaluate": "reference",
    "Act": "model", "Decision": "model", "DecisionRequest": "model", "Grant": "model", "Subject": "model",
    "Verdict": "model", "age_on": "model",
}

__all__ = [
    "Act",
    "CompiledPolicy",
    "Decision",
    "DecisionRequest",
    "Facts",
    "Grant",
    "Subject",
    "Verdict",
    "age_on",
    "derive",
    "evaluate",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"tutela.policy.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tutela.policy' has no attribute {name!r}")
