"""What the ad-request guard answers: the guarded request (or a refusal) and its explanation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Change:
    """One field changed: `removed`, `truncated` (detail: the bits kept) or `set` (detail: the value)."""

    path: str
    action: Literal["removed", "truncated", "set"]
    rules: tuple[str, ...]
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "action": self.action, "rules": list(self.rules)}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(slots=True)
class AdReqResult:
    outcome: Literal["auction", "refuse"]
    request: dict[str, Any] | None  # None when refused: nothing goes to the auction
    changes: tuple[Change, ...]
    rules: dict[str, dict[str, Any]]  # every rule applied, with its citation and determining rulebook rules
    facts: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return self.outcome == "refuse"

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "request": self.request, "changes": [c.to_dict() for c in self.changes],
                "rules": self.rules, "facts": self.facts, "notes": list(self.notes)}
