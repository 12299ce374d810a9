"""Erasure policies by data category, as Fides writes them (docs/rights.md, "Erasure policies").

    policy:
      key: erase_contact
      rules:
        - key: contact
          action_type: erasure
          masking_strategy: {strategy: hash, configuration: {format_preservation: {suffix: "@x.test"}}}
          targets: [{data_category: user.contact}]      # or just [user.contact]

A rule's target covers its category and every descendant (`user.contact` covers
`user.contact.email`, not `user.contactless`). A field is erased when one of its categories is
covered; its own `masking_strategy_override` wins over the rule's strategy (Fides' order), and
a rule without a strategy masks with `null_rewrite`. When two rules cover one field, the rule
with the most specific covering target decides (then the first rule). Primary keys and
`read_only` fields are never written; identity fields are, last (see the planner).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tutela.datamap.masking import config_problem
from tutela.errors import InputError, validation_message
from tutela.taxonomy import Taxonomy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaskingStrategySpec(_Strict):
    strategy: str
    configuration: dict[str, Any] = Field(default_factory=dict)


class RuleTarget(_Strict):
    data_category: str
    key: str | None = None
    name: str | None = None


class PolicyRule(_Strict):
    key: str | None = None
    name: str | None = None
    action_type: Literal["erasure"] = "erasure"
    masking_strategy: MaskingStrategySpec = MaskingStrategySpec(strategy="null_rewrite")
    targets: tuple[RuleTarget, ...] = Field(min_length=1)

    @field_validator("targets", mode="before")
    @classmethod
    def _plain(cls, v: Any) -> Any:
        if isinstance(v, list | tuple):
            return [{"data_category": x} if isinstance(x, str) else x for x in v]
        return v


class ErasurePolicy(_Strict):
    key: str = "request"
    name: str | None = None
    rules: tuple[PolicyRule, ...] = Field(min_length=1)

    def categories(self) -> list[str]:
        return [t.data_category for r in self.rules for t in r.targets]

    def rule_for(self, categories: tuple[str, ...]) -> PolicyRule | None:
        """The rule that erases a field with these categories, or None (the field is kept)."""
        best: tuple[int, int, PolicyRule] | None = None
        for i, rule in enumerate(self.rules):
            for t in rule.targets:
                if any(covers(t.data_category, c) for c in categories):
                    rank = (-t.data_category.count("."), i)
                    if best is None or rank < best[:2]:
                        best = (*rank, rule)
        return None if best is None else best[2]


def covers(target: str, category: str) -> bool:
    return category == target or category.startswith(target + ".")


def parse_policy(raw: Any, where: str, tax: Taxonomy) -> ErasurePolicy:
    """A policy from JSON/YAML values (`{policy: {...}}` or the policy itself), fully checked:
    every category in the taxonomy, every strategy one Tutela runs on a field."""
    if isinstance(raw, dict) and set(raw) == {"policy"}:
        raw, where = raw["policy"], f"{where}.policy"
    try:
        policy = ErasurePolicy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(validation_message(err), where=f"{where}.{loc}" if loc else where) from None
    for i, rule in enumerate(policy.rules):
        for j, t in enumerate(rule.targets):
            if t.data_category not in tax.categories:
                raise InputError(f"unknown data category `{t.data_category}`",
                                 where=f"{where}.rules[{i}].targets[{j}].data_category",
                                 hint="use a key of the taxonomy, e.g. `user.contact`")
        spec = rule.masking_strategy
        problem = config_problem(spec.strategy, spec.configuration)
        if problem is None and spec.strategy in ("delete", "strip_location"):
            problem = f"`{spec.strategy}` is not a field's masking strategy"
        if problem is not None:
            raise InputError(problem, where=f"{where}.rules[{i}].masking_strategy")
    return policy


def read_policy(path: Path) -> Any:
    """A policy file's values (YAML or JSON), or an InputError naming the file; `parse_policy` checks them."""
    try:
        return yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the policy: {exc.__class__.__name__}", where=str(path)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML or JSON: {exc}", where=str(path)) from None


def load_policy(path: Path, tax: Taxonomy) -> ErasurePolicy:
    return parse_policy(read_policy(path), str(path), tax)
