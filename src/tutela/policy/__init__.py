"""The decision point: Subject + Act -> Decision, by a reference and a compiled evaluator."""

from tutela.policy.compiled import CompiledPolicy
from tutela.policy.facts import Facts, derive
from tutela.policy.model import Act, Decision, DecisionRequest, Grant, Subject, Verdict, age_on
from tutela.policy.reference import evaluate

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
