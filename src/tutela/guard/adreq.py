"""The ad-request guard, fast path: an OpenRTB 2.6 bid request in, a lawful one (or a refusal
to auction) out, with every field changed and the cited rule that required it.

    result = guard_bid_request(engine, request, gpc=True, subject={"jurisdiction": "IT", "age": 15})

The scrub plan for a set of fired rules is computed once and cached; the request is copied
only along the paths that change (the input is never mutated). `adreq_reference.py` is the
plain per-request specification the tests hold this against."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any

from tutela.guard.result import AdReqResult, Change
from tutela.guard.rules import AdReqData, AdReqSubject, Decider, load_adreq, parse_subject
from tutela.guard.signals import (
    _MISSING,
    BookFacts,
    RawSignals,
    cached_book_facts,
    check_types,
    geo_jurisdiction,
    grants_key,
    raw_signals,
    read_signals,
    request_age,
)
from tutela.policy.compiled import today

Step = tuple[tuple[str, ...], str, Any, tuple[str, ...]]  # path parts, kind, argument, rule ids
Member = tuple[int, str, str, Any, Change]  # order, key, kind, argument, the change it makes
# per object: keys removed or truncated there, how, the keys set there, and child objects
Node = tuple[frozenset[str], dict[str, Member], tuple[Member, ...], tuple[tuple[str, "Node"], ...]]


_PLANS: dict[tuple[int, tuple[str, ...]], tuple[AdReqData, Node]] = {}


def _plan(data: AdReqData, fired: tuple[str, ...]) -> Node:
    hit = _PLANS.get((id(data), fired))
    if hit is None or hit[0] is not data:
        if len(_PLANS) > 4096:
            _PLANS.clear()
        hit = _PLANS[(id(data), fired)] = (data, _grouped(_make_plan(data, fired)))
    return hit[1]


def _make_plan(data: AdReqData, fired: tuple[str, ...]) -> tuple[Step, ...]:
    """Per path (in first-mention order): remove beats truncate (most bits wins) beats set."""
    by_id = {r.id: r for r in data.rules}
    order: dict[str, dict[str, Any]] = {}

    def note(path: str, kind: str, arg: Any, rule: str) -> None:
        entry = order.setdefault(path, {"kinds": {}, "rules": []})
        kinds = entry["kinds"]
        if kind == "truncate":
            kinds["truncate"] = max(kinds.get("truncate", 0), arg)
        else:
            kinds.setdefault(kind, arg)
        if rule not in entry["rules"]:
            entry["rules"].append(rule)

    for rid in fired:
        rule = by_id.get(rid)
        removes = data.expand(rule.remove) if rule else data.expand(data.gpc_actions.remove)
        for path in removes:
            note(path, "remove", None, rid)
        for path, bits in rule.truncate.items() if rule else ():
            note(path, "truncate", bits, rid)
        for path, value in rule.set.items() if rule else ():
            note(path, "set", value, rid)
    steps: list[Step] = []
    for path, entry in order.items():
        kinds = entry["kinds"]
        kind = "remove" if "remove" in kinds else "truncate" if "truncate" in kinds else "set"
        steps.append((tuple(path.split(".")), kind, kinds.get(kind), tuple(entry["rules"])))
    return tuple(steps)


def _truncate(value: str, bits: int) -> tuple[str, str]:
    if bits == 8 and value.count(".") == 3 and ":" not in value:  # a valid IPv4 (checked) is canonical
        return value[: value.rindex(".")] + ".0", "/24"
    addr = ipaddress.ip_address(value)
    width = addr.max_prefixlen
    net = ipaddress.ip_network(f"{addr}/{width - bits}", strict=False)
    return str(net.network_address), f"/{width - bits}"


def _grouped(steps: tuple[Step, ...]) -> Node:
    """The plan as a tree of objects: per object, the keys edited (removed or truncated), the
    keys set, and the child objects below it that have changes of their own."""
    tree: dict[str, Any] = {}
    for i, (parts, kind, arg, rules) in enumerate(steps):
        path = ".".join(parts)
        width = 32 if path == "device.ip" else 128
        change = {
            "remove": Change(path, "removed", rules),
            "set": Change(path, "set", rules, str(arg)),
            "truncate": Change(path, "truncated", rules, f"kept /{width - (arg or 0)}"),
        }[kind]
        node = tree
        for p in parts[:-1]:
            node = node.setdefault("children", {}).setdefault(p, {})
        node.setdefault("members", []).append((i, parts[-1], kind, arg, change))

    def freeze(node: dict[str, Any]) -> Node:
        members = node.get("members", [])
        edits = {m[1]: m for m in members if m[2] != "set"}
        children = tuple((k, freeze(v)) for k, v in node.get("children", {}).items())
        return frozenset(edits), edits, tuple(m for m in members if m[2] == "set"), children

    return freeze(tree)


def _walk(obj: dict[str, Any], node: Node, found: list[tuple[int, Change]]) -> dict[str, Any] | None:
    """The changed copy of `obj` (None when nothing under it changes); unchanged parts are shared."""
    keys, edits, sets, children = node
    new: dict[str, Any] | None = None
    if keys:
        for k in obj.keys() & keys:
            i, key, kind, arg, change = edits[k]
            if new is None:
                new = dict(obj)
            if kind == "remove":
                del new[key]
                found.append((i, change))
            else:
                value, kept = _truncate(new[key], arg)
                if value != new[key]:
                    new[key] = value
                    found.append(
                        (
                            i,
                            change
                            if change.detail == f"kept {kept}"
                            else Change(change.path, "truncated", change.rules, f"kept {kept}"),
                        )
                    )
    for i, key, _, arg, change in sets:
        if obj.get(key, _MISSING) != arg:
            if new is None:
                new = dict(obj)
            new[key] = arg
            found.append((i, change))
    for key, child in children:
        v = obj.get(key, _MISSING)
        if new is not None and v is not _MISSING and key not in new:
            continue  # removed at this level: nothing below it survives
        if type(v) is dict:
            r = _walk(v, child, found)
        elif v is _MISSING:
            r = _walk({}, child, found)  # only `set` creates anything in an empty object
        else:
            continue
        if r is not None:
            if new is None:
                new = dict(obj)
            new[key] = r
    return new


def _apply(req: dict[str, Any], plan: Node) -> tuple[dict[str, Any], tuple[Change, ...]]:
    found: list[tuple[int, Change]] = []
    out = _walk(req, plan, found)
    found.sort()  # by step order; the indexes are unique, so Changes are never compared
    return (out if out is not None else dict(req)), tuple(c for _, c in found)


def _citations(
    engine: Decider, data: AdReqData, fired: tuple[str, ...], determining: dict[str, tuple[str, ...]]
) -> dict[str, dict[str, Any]]:
    rules = {r.id: r for r in data.rules} | {g.id: g for g in data.gpc}
    facts = {r.id: r.when for r in data.rules}
    out: dict[str, dict[str, Any]] = {}
    for rid in fired:
        rule = rules[rid]
        entry: dict[str, Any] = {
            "title": getattr(
                rule,
                "title",
                f"Global Privacy Control opt-out honoured in {', '.join(getattr(rule, 'jurisdictions', ()))}",
            ),
            "citation": rule.citation.model_dump(mode="json", exclude_none=True),
        }
        by = determining.get(facts.get(rid, ""), ())
        if by:
            entry["determined_by"] = [_book_citation(engine, i) for i in by]
        out[rid] = entry
    return out


def _book_citation(engine: Decider, rule_id: str) -> dict[str, Any]:
    book = engine.rulebook
    if rule_id in book.rule_index:
        c = book.rule_index[rule_id].rule.citation
    else:
        c = book.consent_index[rule_id][1].citation
    return {"id": rule_id, **c.model_dump(mode="json", exclude_none=True)}


_SUBJECTS: dict[tuple[Any, Any], AdReqSubject] = {}
_JUR = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


def _subject(raw: Any) -> AdReqSubject | None:
    """The common shapes ({jurisdiction, age}) without a Pydantic pass; anything else validated."""
    if type(raw) is dict and raw.keys() <= {"jurisdiction", "age"}:
        jur, age = raw.get("jurisdiction"), raw.get("age")
        if (jur is None or (type(jur) is str and _JUR.fullmatch(jur))) and (
            age is None or (type(age) is int and 0 <= age <= 130)
        ):
            hit = _SUBJECTS.get((jur, age))
            if hit is None:
                if len(_SUBJECTS) > 4096:
                    _SUBJECTS.clear()
                hit = _SUBJECTS[(jur, age)] = AdReqSubject.model_construct(jurisdiction=jur, age=age)
            return hit
    return parse_subject(raw)


def guard_bid_request(
    engine: Decider,
    request: Any,
    gpc: bool | None = None,
    subject: Any = None,
    on: dt.date | None = None,
    data: AdReqData | None = None,
) -> AdReqResult:
    """Guard one bid request. `gpc` is the `Sec-GPC` header (True for "1"); `subject` what
    Tutela knows of the user (see AdReqSubject). Bad input raises InputError naming the path."""
    data = data or load_adreq()
    day = on or today()
    check_types(request, data)
    subj: AdReqSubject | None = subject if isinstance(subject, AdReqSubject) else _subject(subject)
    raw = raw_signals(request)
    geo = geo_jurisdiction(request, data)
    age, age_source = request_age(subj, request, day)
    key = (raw, geo, subj.jurisdiction if subj else None, age, age_source, grants_key(subj), gpc is True, day)
    hit = _DECIDED.get(key)
    if hit is None or hit[0] is not engine or hit[1] is not data:
        if len(_DECIDED) > 16384:
            _DECIDED.clear()
        hit = _DECIDED[key] = (engine, data, _decide(engine, data, raw, geo, subj, age, age_source, gpc, day))
    summary, rules, notes, refused, plan = hit[2]
    if refused:
        return AdReqResult("refuse", None, (), dict(rules), dict(summary), notes)
    out, changes = _apply(request, plan)
    return AdReqResult("auction", out, changes, dict(rules), dict(summary), notes)


Decided = tuple[dict[str, Any], dict[str, dict[str, Any]], tuple[str, ...], bool, Node]
_DECIDED: dict[tuple[Any, ...], tuple[Decider, AdReqData, Decided]] = {}


def _decide(
    engine: Decider,
    data: AdReqData,
    raw: RawSignals,
    geo: str | None,
    subj: AdReqSubject | None,
    age: int | None,
    age_source: str | None,
    gpc: bool | None,
    day: dt.date,
) -> Decided:
    """Everything that depends on the signals and the subject, not on the rest of the request."""
    sig = read_signals(raw)
    jur = (subj.jurisdiction if subj and subj.jurisdiction else None) or geo
    if subj and subj.jurisdiction:
        engine.rulebook.jurisdiction(subj.jurisdiction, where="subject.jurisdiction")
    book_jur = None
    if jur is not None:
        book_jur = (
            jur
            if jur in engine.rulebook.jurisdictions
            else (jur.split("-")[0] if jur.split("-")[0] in engine.rulebook.jurisdictions else None)
        )
    notes: list[str] = []
    book: BookFacts | None = None
    if book_jur is not None and age is not None:
        book = cached_book_facts(engine, book_jur, age, grants_key(subj), day)
    elif age is None:
        notes.append("age unknown: not treated as a known minor; regs.coppa and consent signals still apply")
    if book_jur is None:
        notes.append("jurisdiction unknown or not in the rulebook: no rulebook age rules applied")
    country = jur.split("-")[0] if jur else None
    gdpr = (country in data.eu_eea) or sig.gdpr_flag
    tc = sig.tc
    facts = {
        "coppa_flag": sig.coppa,
        "minor": bool(book and book.minor),
        "us_child": bool(book and book.us_child),
        "profiling_banned": bool(book and book.profiling_banned),
        "targeting_denied": bool(book and book.targeting_denied),
        "location_denied": bool(book and book.location_denied),
        "gdpr_scope": country in data.eu_eea,
        "gdpr_without_consent_string": gdpr and tc is None,
        "tcf_no_purpose_2": gdpr and tc is not None and not (tc.consent(2) or tc.legitimate_interest(2)),
        "tcf_no_purpose_4": gdpr and tc is not None and not tc.consent(4),
        "tcf_no_special_feature_1": gdpr and tc is not None and not tc.opted_in(1),
        "usp_opt_out": bool(sig.usp and sig.usp.opted_out()),
        "usnat_opt_out": bool(sig.usnat and sig.usnat.opted_out()),
        "usnat_known_child": bool(sig.usnat and sig.usnat.known_child_without_consent()),
    }
    gpc_on = gpc is True or bool(sig.usnat and sig.usnat.gpc)
    fired = [r.id for r in data.rules if facts[r.when]]
    for g in data.gpc:
        if gpc_on and jur in g.jurisdictions and day >= g.effective_from:
            if g.enforced:
                fired.append(g.id)
            else:
                notes.append(f"{g.id}: GPC signal seen, but the rule is unverified and not enforced")
    key = tuple(fired)
    rules = _citations(engine, data, key, book.determining if book else {})
    summary = {
        "on": day.isoformat(),
        "jurisdiction": jur,
        "rulebook_jurisdiction": book_jur,
        "age": age,
        "age_source": age_source,
        "gpc": gpc_on,
        "tcf": tc is not None,
        "gpp_sections": list(sig.gpp.section_ids) if sig.gpp else [],
        "usp": sig.usp is not None,
        **facts,
    }
    by_id = {r.id: r for r in data.rules}
    refused = any(by_id[i].refuse for i in key if i in by_id)
    return summary, rules, tuple(notes), refused, _plan(data, key)
