"""Who may do what in the console: three roles, one matrix.

    dpo      everything: audits, remediation (plan, approve, execute), rights requests
    support  rights requests (create, approve, reject, extend, run); reads every page
    auditor  reads every page and the exports; changes nothing

Four-eyes is apart from the roles: whoever created a rights request or a remediation job
cannot approve it (tutela.rights.lifecycle and tutela.repair.workflow enforce it).
"""

from __future__ import annotations

from typing import Literal, get_args

from tutela.errors import InputError, NotAllowed

Role = Literal["dpo", "support", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)

ACTIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "audit.run": frozenset({"dpo"}),
    "remediation.plan": frozenset({"dpo"}),
    "remediation.approve": frozenset({"dpo"}),
    "remediation.execute": frozenset({"dpo"}),
    "requests.create": frozenset({"dpo", "support"}),
    "requests.decide": frozenset({"dpo", "support"}),  # approve, reject, extend
    "requests.run": frozenset({"dpo", "support"}),
}


def parse_role(raw: str, where: str = "--role") -> Role:
    for role in ROLES:
        if raw == role:
            return role
    raise InputError(f"unknown role `{raw}`", where=where, hint=", ".join(ROLES))


def may(role: str, action: str) -> bool:
    return role in ACTIONS[action]


def require(name: str, role: str, action: str) -> None:
    """NotAllowed unless `role` may do `action` (the message names the role and the action)."""
    if action not in ACTIONS:
        raise KeyError(action)
    if not may(role, action):
        allowed = ", ".join(sorted(ACTIONS[action]))
        raise NotAllowed(f"`{name}` is {role}; {action} needs the role {allowed}", where="role")
