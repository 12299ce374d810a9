"""The ad-request guard as a plain specification: one request at a time, no caches, a deep
copy, the rulebook's reference evaluator, the rules walked one by one. It reads the same data
(`adreq.yaml`) and the subject model and returns the same result type as the fast path
(`adreq.py`); it decodes consent strings with its own `consent_reference.py` and shares no
other code with it. Tests hold the two equal (Hypothesis)."""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
from typing import Any

from tutela.errors import InputError
from tutela.guard import consent_reference as consent
from tutela.guard.result import AdReqResult, Change
from tutela.guard.rules import AdReqData, AdReqSubject, Decider, load_adreq, parse_subject
from tutela.policy.compiled import today


def _json_name(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, int | float):
        return "a number"
    return "null" if v is None else "a value"


def _get(obj: Any, path: str) -> tuple[bool, Any]:
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return False, None
        obj = obj[key]
    return True, obj


def _valid(kind: str, v: Any) -> bool:
    is_int = isinstance(v, int) and not isinstance(v, bool)
    checks = {
        "object": lambda: isinstance(v, dict),
        "array": lambda: isinstance(v, list),
        "int_array": lambda: (
            isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)
        ),
        "string": lambda: isinstance(v, str),
        "integer": lambda: is_int,
        "number": lambda: is_int or isinstance(v, float),
        "flag": lambda: is_int and v in (0, 1),
    }
    if kind in checks:
        return bool(checks[kind]())
    if not isinstance(v, str):
        return False
    try:
        if kind == "ipv4":
            ipaddress.IPv4Address(v)
        else:
            ipaddress.IPv6Address(v)
        return True
    except ValueError:
        return False


WANT = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "flag": "0 or 1",
    "ipv4": "an IPv4 address string",
    "ipv6": "an IPv6 address string",
    "int_array": "an array of non-negative integers",
}


def _decide(
    engine: Decider, jur: str, age: int, grants: list[dict[str, Any]], day: dt.date, category: str = "user.behavior"
) -> Any:
    return engine.decide(
        {
            "subject": {"jurisdiction": jur, "age": age, "grants": grants},
            "act": {
                "category": category,
                "use": "marketing.advertising.third_party.targeted",
                "recipient": "third_party",
                "at": day.isoformat(),
            },
        },
        reference=True,
    )


def _rule_citation(engine: Decider, rule_id: str) -> dict[str, Any]:
    for s in engine.rulebook.all_rules:
        if s.rule.id == rule_id:
            return {"id": rule_id, **s.rule.citation.model_dump(mode="json", exclude_none=True)}
    for j in engine.rulebook.jurisdictions.values():
        for d in j.digital_consent:
            if d.id == rule_id:
                return {"id": rule_id, **d.citation.model_dump(mode="json", exclude_none=True)}
    raise KeyError(rule_id)


def guard_reference(
    engine: Decider,
    request: Any,
    gpc: bool | None = None,
    subject: Any = None,
    on: dt.date | None = None,
    data: AdReqData | None = None,
) -> AdReqResult:
    data = data or load_adreq()
    day = on or today()
    # 1. the shape of the known fields
    if not isinstance(request, dict):
        raise InputError(f"a bid request must be a JSON object, got {_json_name(request)}", where="request")
    for path in data.required:
        if path not in request:
            raise InputError("missing required field", where=path, hint="OpenRTB 2.6 requires `id` and `imp`")
    for path, kind in data.types.items():
        found, value = _get(request, path)
        if found and not _valid(kind, value):
            raise InputError(f"must be {WANT[kind]}, got {_json_name(value)}", where=path)
    subj: AdReqSubject | None = subject if isinstance(subject, AdReqSubject) else parse_subject(subject)
    # 2. the consent signals, in this order: TC string, US Privacy, GPP
    tc = None
    for path in ("user.consent", "user.ext.consent"):
        found, value = _get(request, path)
        if found:
            tc = consent.tcf(value, path) if value != "" else None
            break
    usp = None
    for path in ("regs.us_privacy", "regs.ext.us_privacy"):
        found, value = _get(request, path)
        if found:
            usp = consent.usp(value, path) if value != "" else None
            break
    found, gpp_text = _get(request, "regs.gpp")
    gpp = consent.gpp(gpp_text, "regs.gpp") if found and gpp_text else None
    found, sid = _get(request, "regs.gpp_sid")
    if gpp is not None and found and sorted(set(sid)) != sorted(set(gpp.section_ids)):
        raise InputError(
            f"lists sections {sorted(set(sid))} but regs.gpp holds {list(gpp.section_ids)}",
            where="regs.gpp_sid",
            hint="send the section ids of the GPP string",
        )
    if gpp is not None and tc is None:
        tc = gpp.tcfeuv2
    if gpp is not None and usp is None:
        usp = gpp.uspv1
    usnat = gpp.usnat if gpp is not None else None
    gdpr_flag = False
    for path in ("regs.gdpr", "regs.ext.gdpr"):
        found, value = _get(request, path)
        if found:
            gdpr_flag = value == 1
            break
    coppa = _get(request, "regs.coppa") == (True, 1)
    # 3. where the user is
    geo_jur = None
    for path in ("device.geo", "user.geo"):
        found, geo = _get(request, path)
        if found and isinstance(geo, dict) and isinstance(geo.get("country"), str):
            cc = data.countries.get(geo["country"].upper())
            if cc is not None:
                region = geo.get("region")
                if cc == "US" and isinstance(region, str) and region != "":
                    geo_jur = "US-" + region.upper().removeprefix("US-")
                else:
                    geo_jur = cc
                break
    jur = subj.jurisdiction if subj is not None and subj.jurisdiction else geo_jur
    if subj is not None and subj.jurisdiction:
        engine.rulebook.jurisdiction(subj.jurisdiction, where="subject.jurisdiction")
    book_jur = None
    if jur is not None and jur in engine.rulebook.jurisdictions:
        book_jur = jur
    elif jur is not None and jur.split("-")[0] in engine.rulebook.jurisdictions:
        book_jur = jur.split("-")[0]
    # 4. how old the user is (the youngest the evidence allows)
    age, age_source = None, None
    if subj is not None and subj.age_on(day) is not None:
        age, age_source = subj.age_on(day), "subject"
    else:
        found, yob = _get(request, "user.yob")
        if found and isinstance(yob, int) and not isinstance(yob, bool) and 0 <= day.year - yob - 1 <= 130:
            age, age_source = day.year - yob - 1, "user.yob"
    notes: list[str] = []
    if age is None:
        notes.append("age unknown: not treated as a known minor; regs.coppa and consent signals still apply")
    if book_jur is None:
        notes.append("jurisdiction unknown or not in the rulebook: no rulebook age rules applied")
    # 5. what the rulebook says about targeted ads for this user
    child = minor = us_child = banned = denied = located = False
    determining: dict[str, list[str]] = {}
    if book_jur is not None and age is not None:
        grants = [g.model_dump(mode="json", exclude_none=True) for g in subj.grants] if subj else []
        everything = [
            {"scopes": [s], "by": b, "assurance": "verified"}
            for s in engine.rulebook.scopes
            for b in ("self", "parent")
        ]
        d_actual = _decide(engine, book_jur, age, grants, day)
        d_all = _decide(engine, book_jur, age, everything, day)
        denied = d_actual.effect == "deny"
        d_location = _decide(engine, book_jur, age, grants, day, "user.location.precise")
        located = d_location.effect == "deny"
        if located:
            determining["location_denied"] = list(d_location.rule_ids())
        banned = d_all.effect == "deny"
        age_driven = denied and age < 18 and _decide(engine, book_jur, 30, grants, day).effect != "deny"
        dc = engine.rulebook.digital_consent(book_jur, day)
        child = dc is not None and age < dc.age
        us_child = child and book_jur.startswith("US")
        minor = child or banned or age_driven
        why: list[str] = []
        if child and dc is not None:
            why.append(dc.id)
            determining["us_child"] = [dc.id] if us_child else []
        if banned:
            why += [i for i in d_all.rule_ids() if i not in why]
            determining["profiling_banned"] = list(d_all.rule_ids())
        if age_driven:
            why += [i for i in d_actual.rule_ids() if i not in why]
        if denied:
            determining["targeting_denied"] = list(d_actual.rule_ids())
        determining["minor"] = why
    country = jur.split("-")[0] if jur else None
    in_eea = country in data.eu_eea
    gdpr = in_eea or gdpr_flag
    facts = {
        "coppa_flag": coppa,
        "minor": minor,
        "us_child": us_child,
        "profiling_banned": banned,
        "targeting_denied": denied,
        "location_denied": located,
        "gdpr_scope": in_eea,
        "gdpr_without_consent_string": gdpr and tc is None,
        "tcf_no_purpose_2": gdpr and tc is not None and 2 not in tc.purpose_consents and 2 not in tc.purpose_li,
        "tcf_no_purpose_4": gdpr and tc is not None and 4 not in tc.purpose_consents,
        "tcf_no_special_feature_1": gdpr and tc is not None and 1 not in tc.special_feature_optins,
        "usp_opt_out": usp is not None and usp.opt_out_sale == "Y",
        "usnat_opt_out": usnat is not None
        and 1 in (usnat.fields["SaleOptOut"], usnat.fields["SharingOptOut"], usnat.fields["TargetedAdvertisingOptOut"]),
        "usnat_known_child": usnat is not None and 1 in usnat.known_child_sensitive_data_consents,
    }
    gpc_on = gpc is True or (usnat is not None and usnat.gpc is True)
    # 6. the rules that fire, with their citations
    fired: list[tuple[str, dict[str, Any]]] = []  # rule id, its actions
    explained: dict[str, dict[str, Any]] = {}
    refuse = False
    for rule in data.rules:
        if not facts[rule.when]:
            continue
        fired.append((rule.id, {"remove": rule.remove, "truncate": rule.truncate, "set": rule.set}))
        refuse = refuse or rule.refuse
        explained[rule.id] = {"title": rule.title, "citation": rule.citation.model_dump(mode="json", exclude_none=True)}
        if determining.get(rule.when):
            explained[rule.id]["determined_by"] = [_rule_citation(engine, i) for i in determining[rule.when]]
    for g in data.gpc:
        if gpc_on and jur in g.jurisdictions and day >= g.effective_from:
            if not g.enforced:
                notes.append(f"{g.id}: GPC signal seen, but the rule is unverified and not enforced")
                continue
            fired.append((g.id, {"remove": data.gpc_actions.remove, "truncate": {}, "set": {}}))
            explained[g.id] = {
                "title": f"Global Privacy Control opt-out honoured in {', '.join(g.jurisdictions)}",
                "citation": g.citation.model_dump(mode="json", exclude_none=True),
            }
    summary = {
        "on": day.isoformat(),
        "jurisdiction": jur,
        "rulebook_jurisdiction": book_jur,
        "age": age,
        "age_source": age_source,
        "gpc": gpc_on,
        "tcf": tc is not None,
        "gpp_sections": list(gpp.section_ids) if gpp else [],
        "usp": usp is not None,
        **facts,
    }
    if refuse:
        return AdReqResult("refuse", None, (), explained, summary, tuple(notes))
    # 7. the scrub: per field, remove beats truncate (most bits) beats set
    paths: list[str] = []
    wanted: dict[str, dict[str, Any]] = {}
    for rid, actions in fired:
        items: list[tuple[str, str, Any]] = [
            (p, "remove", None) for group in actions["remove"] for p in data.fields[group]
        ]
        items += [(p, "truncate", bits) for p, bits in actions["truncate"].items()]
        items += [(p, "set", v) for p, v in actions["set"].items()]
        for path, action, arg in items:
            if path not in wanted:
                paths.append(path)
                wanted[path] = {"rules": []}
            w = wanted[path]
            if rid not in w["rules"]:
                w["rules"].append(rid)
            if action == "truncate":
                w["truncate"] = max(w.get("truncate", 0), arg)
            elif action not in w:
                w[action] = arg
    out = copy.deepcopy(request)
    changes: list[Change] = []
    for path in paths:
        w = wanted[path]
        rules = tuple(w["rules"])
        *parents, last = path.split(".")
        if "remove" in w or "truncate" in w:
            found, parent = _get(out, ".".join(parents)) if parents else (True, out)
            if not found or not isinstance(parent, dict) or last not in parent:
                continue
            if "remove" in w:
                del parent[last]
                changes.append(Change(path, "removed", rules))
                continue
            addr = ipaddress.ip_address(parent[last])
            keep = addr.max_prefixlen - w["truncate"]
            masked = str(ipaddress.ip_network(f"{addr}/{keep}", strict=False).network_address)
            if masked != parent[last]:
                parent[last] = masked
                changes.append(Change(path, "truncated", rules, f"kept /{keep}"))
            continue
        obj = out
        ok = True
        for key in parents:
            if key not in obj:
                obj[key] = {}
            if not isinstance(obj[key], dict):
                ok = False
                break
            obj = obj[key]
        if ok and obj.get(last) != w["set"]:
            obj[last] = w["set"]
            changes.append(Change(path, "set", rules, str(w["set"])))
    return AdReqResult("auction", out, tuple(changes), explained, summary, tuple(notes))
