"""The fast guard's reading of a bid request: known-field types, the consent signals, the
jurisdiction and age, and the facts the scrub rules fire on. Rulebook answers and decoded
consent strings are cached (a few thousand distinct subjects and strings cover real traffic)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tutela.errors import InputError
from tutela.guard.gpp import GPPString, UsNat, decode_gpp
from tutela.guard.rules import AdReqData, AdReqSubject, Decider
from tutela.guard.tcf import TCString, decode_tcf
from tutela.guard.usp import USPrivacy, decode_usp

_MISSING = object()
_JSON = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}
_WANT = {
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
ACT = {"category": "user.behavior", "use": "marketing.advertising.third_party.targeted", "recipient": "third_party"}


def lookup(req: dict[str, Any], parts: tuple[str, ...]) -> Any:
    obj: Any = req
    for p in parts:
        if not isinstance(obj, dict):
            return _MISSING
        obj = obj.get(p, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


def _ok(kind: str, v: Any) -> bool:
    if kind == "object":
        return isinstance(v, dict)
    if kind in ("array", "int_array"):
        return isinstance(v, list) and (kind == "array" or all(type(x) is int and x >= 0 for x in v))
    if kind == "string":
        return isinstance(v, str)
    if kind == "integer":
        return type(v) is int
    if kind == "number":
        return type(v) in (int, float)
    if kind == "flag":
        return type(v) is int and v in (0, 1)
    if not isinstance(v, str):
        return False
    try:
        (ipaddress.IPv4Address if kind == "ipv4" else ipaddress.IPv6Address)(v)
    except ValueError:
        return False
    return True


_TYPED: dict[int, tuple[AdReqData, tuple[tuple[str, tuple[str, ...], str], ...]]] = {}


def _typed(data: AdReqData) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    hit = _TYPED.get(id(data))
    if hit is None or hit[0] is not data:
        hit = _TYPED[id(data)] = (data, tuple((p, tuple(p.split(".")), k) for p, k in data.types.items()))
    return hit[1]


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def is_ipv4(v: str) -> bool:
    """The same answer as `ipaddress.IPv4Address(v)` accepting `v`, without the exception cost."""
    return _IPV4.fullmatch(v) is not None


Tree = tuple[tuple[str, str, "Tree"], ...]
_TREES: dict[int, tuple[AdReqData, Tree]] = {}


def _tree(data: AdReqData) -> Tree:
    hit = _TREES.get(id(data))
    if hit is None or hit[0] is not data:
        root: dict[str, Any] = {}
        for path, kind in data.types.items():
            node = root
            *parents, last = path.split(".")
            for p in parents:
                node = node.setdefault(p, ["", {}])[1]
            node.setdefault(last, ["", {}])[0] = kind

        def freeze(node: dict[str, Any]) -> Tree:
            return tuple((k, kind, freeze(sub)) for k, (kind, sub) in node.items())

        hit = _TREES[id(data)] = (data, freeze(root))
    return hit[1]


def _fast_ok(obj: dict[str, Any], tree: Tree) -> bool:
    get = obj.get
    for key, kind, sub in tree:
        v = get(key, _MISSING)
        if v is _MISSING:
            continue
        t = type(v)
        if not kind:  # a parent the data file does not type itself
            if t is dict and sub and not _fast_ok(v, sub):
                return False
        elif kind == "object":
            if t is not dict or (sub and not _fast_ok(v, sub)):
                return False
        elif kind == "string":
            if t is not str:
                return False
        elif kind == "ipv4":
            if t is not str or _IPV4.fullmatch(v) is None:
                return False
        elif kind == "array":
            if t is not list:
                return False
        elif kind == "flag":
            if t is not int or (v != 0 and v != 1):
                return False
        elif kind == "integer":
            if t is not int:
                return False
        elif not _ok(kind, v):
            return False
    return True


def check_types(req: Any, data: AdReqData) -> None:
    """The first known field (in the data file's order) with a wrong type is the error."""
    if type(req) is dict and all(k in req for k in data.required) and _fast_ok(req, _tree(data)):
        return
    if not isinstance(req, dict):
        raise InputError(f"a bid request must be a JSON object, got {_JSON.get(type(req), 'a value')}", where="request")
    for path in data.required:
        if path not in req:
            raise InputError("missing required field", where=path, hint="OpenRTB 2.6 requires `id` and `imp`")
    for path, parts, kind in _typed(data):
        v = lookup(req, parts)
        if v is not _MISSING and not _ok(kind, v):
            raise InputError(f"must be {_WANT[kind]}, got {_JSON.get(type(v), 'a value')}", where=path)


@dataclass(frozen=True)
class Signals:
    coppa: bool
    gdpr_flag: bool
    tc: TCString | None
    usp: USPrivacy | None
    gpp: GPPString | None
    usnat: UsNat | None


_tcf = lru_cache(maxsize=4096)(decode_tcf)
_usp = lru_cache(maxsize=256)(decode_usp)
_gpp = lru_cache(maxsize=4096)(decode_gpp)


RawSignals = tuple[Any, ...]


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    v = parent.get(key)
    return v if type(v) is dict else {}


def raw_signals(req: dict[str, Any]) -> RawSignals:
    """The signal values as they stand in the request (types already checked): a cache key.
    The OpenRTB 2.6 place wins over the 2.5 `ext` place."""
    regs = _obj(req, "regs")
    rext, user = _obj(regs, "ext"), _obj(req, "user")
    uext = _obj(user, "ext")
    gdpr = regs["gdpr"] if "gdpr" in regs else rext.get("gdpr", _MISSING)
    if "consent" in user:
        cwhere, consent = "user.consent", user["consent"]
    else:
        cwhere, consent = ("user.ext.consent", uext["consent"]) if "consent" in uext else ("user.consent", _MISSING)
    if "us_privacy" in regs:
        uwhere, usp = "regs.us_privacy", regs["us_privacy"]
    else:
        uwhere, usp = (
            ("regs.ext.us_privacy", rext["us_privacy"]) if "us_privacy" in rext else ("regs.us_privacy", _MISSING)
        )
    sid = regs.get("gpp_sid", _MISSING)
    return (
        regs.get("coppa") == 1,
        gdpr == 1,
        cwhere,
        consent,
        uwhere,
        usp,
        regs.get("gpp") or None,
        tuple(sid) if sid is not _MISSING else None,
    )


def read_signals(raw: RawSignals) -> Signals:
    coppa, gdpr, cwhere, consent, uwhere, usp_text, gpp_text, sid = raw
    tc = _tcf(consent, cwhere) if consent is not _MISSING and consent != "" else None
    usp = _usp(usp_text, uwhere) if usp_text is not _MISSING and usp_text != "" else None
    gpp = _gpp(gpp_text, "regs.gpp") if gpp_text else None
    if gpp is not None and sid is not None and sorted(set(sid)) != sorted(set(gpp.section_ids)):
        raise InputError(
            f"lists sections {sorted(set(sid))} but regs.gpp holds {list(gpp.section_ids)}",
            where="regs.gpp_sid",
            hint="send the section ids of the GPP string",
        )
    if gpp is not None:
        tc = tc if tc is not None else gpp.tcfeuv2
        usp = usp if usp is not None else gpp.uspv1
    return Signals(coppa, gdpr, tc, usp, gpp, gpp.usnat if gpp else None)


def geo_jurisdiction(req: dict[str, Any], data: AdReqData) -> str | None:
    for parts in (("device", "geo"), ("user", "geo")):
        geo = lookup(req, parts)
        if not isinstance(geo, dict) or not isinstance(geo.get("country"), str):
            continue
        cc = data.countries.get(geo["country"].upper())
        if cc is None:
            continue
        region = geo.get("region")
        if cc == "US" and isinstance(region, str) and region:
            return f"US-{region.upper().removeprefix('US-')}"
        return cc
    return None


def request_age(subject: AdReqSubject | None, req: dict[str, Any], day: dt.date) -> tuple[int | None, str | None]:
    if subject is not None and (age := subject.age_on(day)) is not None:
        return age, "subject"
    yob = lookup(req, ("user", "yob"))
    if type(yob) is int and 0 <= day.year - yob - 1 <= 130:
        return day.year - yob - 1, "user.yob"
    return None, None


@dataclass(frozen=True)
class BookFacts:
    child: bool
    us_child: bool
    minor: bool
    profiling_banned: bool
    targeting_denied: bool
    location_denied: bool
    determining: dict[str, tuple[str, ...]]  # fact -> rulebook rule ids


def _all_grants(engine: Decider) -> list[dict[str, Any]]:
    return [
        {"scopes": [s], "by": b, "assurance": "verified"} for s in engine.rulebook.scopes for b in ("self", "parent")
    ]


@lru_cache(maxsize=8192)
def _book_cached(engine: Decider, jur: str, age: int, grants: str, day: dt.date) -> BookFacts:
    return book_facts(engine, jur, age, json.loads(grants), day)


def book_facts(engine: Decider, jur: str, age: int, grants: list[dict[str, Any]], day: dt.date) -> BookFacts:
    act = {**ACT, "at": day.isoformat()}

    def decide(a: int, g: list[dict[str, Any]], category: str = "user.behavior") -> tuple[bool, tuple[str, ...]]:
        d = engine.decide(
            {"subject": {"jurisdiction": jur, "age": a, "grants": g}, "act": {**act, "category": category}}
        )
        return d.effect == "deny", d.rule_ids()

    denied, denied_by = decide(age, grants)
    located, located_by = decide(age, grants, "user.location.precise")
    banned, banned_by = decide(age, _all_grants(engine))
    age_driven = denied and age < 18 and not decide(30, grants)[0]
    dc = engine.rulebook.digital_consent(jur, day)
    child = dc is not None and age < dc.age
    minor_by = (
        ([dc.id] if child and dc else [])
        + (list(banned_by) if banned else [])
        + (list(denied_by) if age_driven else [])
    )
    det = {
        "minor": tuple(dict.fromkeys(minor_by)),
        "profiling_banned": banned_by if banned else (),
        "targeting_denied": denied_by if denied else (),
        "location_denied": located_by if located else (),
        "us_child": (dc.id,) if child and dc else (),
    }
    return BookFacts(child, child and jur.startswith("US"), child or banned or age_driven, banned, denied, located, det)


def grants_key(subject: AdReqSubject | None) -> str:
    if subject is None or not subject.grants:
        return "[]"
    return json.dumps([g.model_dump(mode="json", exclude_none=True) for g in subject.grants], sort_keys=True)


def cached_book_facts(engine: Decider, jur: str, age: int, grants: str, day: dt.date) -> BookFacts:
    return _book_cached(engine, jur, age, grants, day)  # type: ignore[arg-type]  # Engine hashes by identity
