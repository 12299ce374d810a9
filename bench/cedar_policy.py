"""Translate the Tutela rulebook into equivalent Cedar policies (for bench/decisions.py).

Generated from the rulebook data, so the two stay equivalent for allow/deny:

* every enforced `permit` rule becomes a Cedar `permit` whose `when` is the rule's condition
  AND its requirement; every enforced `forbid` becomes a Cedar `forbid` with the condition in
  `when` and the exemption (if any) in `unless`. Cedar's semantics (forbid beats permit,
  default deny) are the rulebook's. `obligate` rules never change allow/deny and are omitted.
* a rule inherited from a regime applies to the jurisdictions that inherit it: one Cedar
  policy per (rule, group of jurisdictions with the same digital-consent history), so the
  consent holder (`by: holder`) can be expanded into explicit age/date clauses.

The request context (see `context()`):
  jurisdiction (String), age (Long), day (Long, days since 1970-01-01),
  category_ancestors / use_ancestors (Set<String>: the key and every ancestor key),
  recipient (String), dest_class ("none" | "adequate" | "non_adequate"),
  tokens (Set<String>): every satisfied atomic token, `scope:by:level:sep|any` for consents
  (a grant at level L satisfies every threshold <= L, `by` its own party and `any`, `any`
  separateness and `sep` when the grant was for that scope alone) and `safeguard:<name>`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable

from tutela.policy.facts import Facts
from tutela.rulebook import Rulebook
from tutela.rulebook.models import ASSURANCE_ORDER, DigitalConsent, Requirement, Rule

EPOCH = dt.date(1970, 1, 1)
PRINCIPAL, ACTION, RESOURCE = 'User::"s"', 'Action::"process"', 'Data::"d"'


def day_num(d: dt.date) -> int:
    return (d - EPOCH).days


def _s(x: str) -> str:
    return json.dumps(x)


def _set(xs: Iterable[str]) -> str:
    return "[" + ", ".join(_s(x) for x in sorted(xs)) + "]"


def _and(parts: list[str]) -> str:
    parts = [p for p in parts if p != "true"]
    if not parts:
        return "true"
    return " && ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]


def _or(parts: list[str]) -> str:
    if "true" in parts:
        return "true"
    parts = [p for p in parts if p != "false"]
    if not parts:
        return "false"
    return " || ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]


def consent_token(scope: str, by: str, level: int, separate: bool) -> str:
    return f"{scope}:{by}:{level}:{'sep' if separate else 'any'}"


def _tok(t: str) -> str:
    return f"context.tokens.contains({_s(t)})"


def _day_range(frm: dt.date, to: dt.date | None) -> str:
    parts = [f"context.day >= {day_num(frm)}"]
    if to is not None:
        parts.append(f"context.day < {day_num(to)}")
    return _and(parts)


def condition(rule: Rule) -> str:
    w = rule.when
    parts = [_day_range(rule.effective_from, rule.effective_to)]
    if w.age is not None:
        if w.age.min is not None:
            parts.append(f"context.age >= {w.age.min}")
        if w.age.below is not None:
            parts.append(f"context.age < {w.age.below}")
    if w.categories:
        parts.append(f"context.category_ancestors.containsAny({_set(w.categories)})")
    if w.except_categories:
        parts.append(f"!context.category_ancestors.containsAny({_set(w.except_categories)})")
    if w.uses:
        parts.append(f"context.use_ancestors.containsAny({_set(w.uses)})")
    if w.except_uses:
        parts.append(f"!context.use_ancestors.containsAny({_set(w.except_uses)})")
    if w.recipients:
        parts.append(f"{_set(w.recipients)}.contains(context.recipient)")
    if w.destination == "third_country":
        parts.append('context.dest_class != "none"')
    elif w.destination == "non_adequate":
        parts.append('context.dest_class == "non_adequate"')
    return _and(parts)


def requirement(req: Requirement, dcs: tuple[DigitalConsent, ...]) -> str:
    """Cedar boolean: the requirement is met, for a jurisdiction with consent history `dcs`."""
    parts = [_tok(f"safeguard:{s}") for s in req.safeguards]
    c = req.consent
    if c is not None:
        level = ASSURANCE_ORDER[c.assurance]
        self_tok = _tok(consent_token(c.scope, "self", 0, c.separate))
        if c.by != "holder":
            parts.append(_tok(consent_token(c.scope, c.by, level, c.separate)))
        else:
            parent_tok = _tok(consent_token(c.scope, "parent", level, c.separate))
            alts = []
            for d in dcs:  # entries do not overlap in time
                in_d = _day_range(d.effective_from, d.effective_to)
                below = parent_tok if d.below == "parent" else _and([parent_tok, self_tok])
                alts.append(_and([in_d, f"context.age < {d.age}", below]))
                alts.append(_and([in_d, f"context.age >= {d.age}", self_tok]))
            none = _and([f"!({_day_range(d.effective_from, d.effective_to)})" for d in dcs])
            alts.append(_and([none, self_tok]))
            parts.append(_or(alts))
    return _and(parts)


def translate(book: Rulebook) -> str:
    """Cedar policy text equivalent (for allow/deny) to `book`."""
    # rule id -> {digital-consent history -> jurisdictions}
    # (only rules whose requirement uses the holder need the split by consent history)
    groups: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    dcs_of: dict[tuple, tuple[DigitalConsent, ...]] = {}
    rules: dict[str, Rule] = {}
    for code, jur in book.jurisdictions.items():
        for s in book.rules_for(code):
            rules[s.rule.id] = s.rule
            req = s.rule.requirement
            holder = req is not None and req.consent is not None and req.consent.by == "holder"
            key = tuple((d.age, d.below, d.effective_from, d.effective_to) for d in jur.digital_consent)
            key = key if holder else ()
            dcs_of[key] = jur.digital_consent
            groups[s.rule.id][key].append(code)
    out = []
    for rid, rule in rules.items():
        if rule.status != "enforced" or rule.effect == "obligate":
            continue
        cond = condition(rule)
        for key, codes in groups[rid].items():
            dcs = dcs_of[key]
            where = _and([f"{_set(codes)}.contains(context.jurisdiction)", cond])
            head = f'@id("{rid}#{len(out)}")\n{rule.effect} (principal, action, resource)'
            req = rule.requirement
            if rule.effect == "permit":
                body = where if req is None else _and([where, requirement(req, dcs)])
                out.append(f"{head}\nwhen {{ {body} }};")
            elif req is None:
                out.append(f"{head}\nwhen {{ {where} }};")
            else:
                out.append(f"{head}\nwhen {{ {where} }}\nunless {{ {requirement(req, dcs)} }};")
    return "\n\n".join(out) + "\n"


def ancestors(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def token_strings(grants: Iterable[tuple[str, str, int, bool]], safeguards: Iterable[str]) -> list[str]:
    out = {f"safeguard:{s}" for s in safeguards}
    for scope, by, level, separate in grants:
        for b in (by, "any"):
            for lv in range(level + 1):
                out.add(consent_token(scope, b, lv, False))
                if separate:
                    out.add(consent_token(scope, b, lv, True))
    return sorted(out)


def context(f: Facts) -> dict[str, object]:
    return {
        "jurisdiction": f.jurisdiction,
        "age": f.age,
        "day": day_num(f.day),
        "category_ancestors": ancestors(f.category),
        "use_ancestors": ancestors(f.use),
        "recipient": f.recipient,
        "dest_class": f.dest_class,
        "tokens": token_strings(f.grants, f.safeguards),
    }


def request(f: Facts) -> dict[str, object]:
    return {"principal": PRINCIPAL, "action": ACTION, "resource": RESOURCE, "context": context(f)}


if __name__ == "__main__":
    from tutela.engine import Engine

    print(translate(Engine().rulebook))
