"""The stream guard's oracle: one event at a time, in plain Python, with the reference evaluator.

It shares no logic with the fast path (`stream_apply`, `stream_plan`, `stream_events`,
`stream_state`): it reads the same configuration data (stream_guard.yaml) and the same rulebook,
decides every act of every event with `tutela.policy.reference.verdict` (the specification),
and walks the same documented ladder on Python values. The tests compare the two row by row
and count by count on Hypothesis-generated batches.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import ipaddress
import math
from collections import Counter
from typing import Any

import pyarrow as pa

from tutela.guard.stream_config import FIELDS, NO_BASIS, UNKNOWN_SUBJECT, Keyring, StreamConfig
from tutela.policy.model import Facts, GrantFact, Verdict
from tutela.policy.reference import verdict
from tutela.rulebook import Rulebook
from tutela.transfers import Registry, Subject
from tutela.transfers import check as transfer_check

LEVEL = {"declared": 0, "confirmed": 1, "verified": 2}
COLUMNS = ("event_id", "subject_id", "ts", "kind", "recipient", "recipient_id", "lat", "lon", "ip", "device_id",
           "content_id")
FORCE = {"coarsen_location": {"lat_lon": 1}, "truncate_ip": {"ip": 1},
         "pseudonymise": {"device_id": 1, "subject_id": 1},
         "drop_identifiers": {"device_id": 2, "subject_id": 2, "ip": 2}}
NOUN = {"lat_lon": "coarsen", "ip": "truncate", "device_id": "pseudonymise", "subject_id": "pseudonymise"}


def _why(v: Verdict) -> str:
    ids = sorted(d.id for d in v.determining)
    return ",".join(ids) if ids else NO_BASIS


def _age(row: dict[str, Any], day: dt.date) -> int | None:
    if row.get("age") is not None:
        return int(row["age"])
    b = row.get("birth_date")
    if b is None:
        return None
    age = day.year - b.year - (1 if (day.month, day.day) < (b.month, b.day) else 0)
    return age if 0 <= age <= 130 else None


def _grants(row: dict[str, Any], cfg: StreamConfig) -> frozenset[GrantFact]:
    mask, sep = row.get("grants") or 0, row.get("separate") or 0
    by, level = row.get("grant_by") or "self", LEVEL[row.get("assurance") or "declared"]
    return frozenset(GrantFact(s, by, level, bool(sep >> i & 1)) for i, s in enumerate(cfg.grant_bits)
                     if mask >> i & 1)


def _coarse(x: float, g: float, bound: float) -> float:
    return max(-bound, min(bound, math.floor(x / g) * g + g / 2))


def _ip(text: str, cfg: StreamConfig) -> str:
    ip = ipaddress.ip_address(text)
    bits = cfg.ipv4_keep_bits if ip.version == 4 else cfg.ipv6_keep_bits
    total = 32 if ip.version == 4 else 128
    kept = int(ip) >> (total - bits) << (total - bits) if bits else 0
    return str(ipaddress.ip_address(kept) if ip.version == 4 else ipaddress.IPv6Address(kept))


def reference_guard(book: Rulebook, cfg: StreamConfig, state: pa.Table, events: pa.Table,
                    keys: Keyring, registry: Registry | None = None,
                    ) -> tuple[list[dict[str, Any]], Counter[tuple[str, str, str]]]:
    """`registry`: the transfer gate's recipients, for events that name a `recipient_id` (each
    asked of `tutela.transfers.check` with the subject's jurisdiction and age on the day)."""
    subjects = {r["subject_id"]: r for r in state.to_pylist()}
    out: list[dict[str, Any]] = []
    counts: Counter[tuple[str, str, str]] = Counter()
    for name in events.column_names:
        if name not in COLUMNS:
            counts[("drop_column", name, "not-in-stream-guard-schema")] += events.num_rows
    for ev in events.to_pylist():
        ts: dt.datetime = ev["ts"]
        day = (ts.astimezone(dt.UTC) if ts.tzinfo else ts).date()
        subject = subjects.get(ev["subject_id"])
        age = _age(subject, day) if subject is not None else None
        if subject is None or age is None:
            counts[("drop", "event", UNKNOWN_SUBJECT)] += 1
            continue
        if ev.get("recipient_id") is not None and registry is not None:
            gate = transfer_check(book, registry, ev["recipient_id"], Subject(subject["jurisdiction"], age), day)
            if not gate.allowed:
                counts[("drop", "event", "transfer_denied")] += 1
                continue
        spec = cfg.kinds[ev["kind"]]
        recipient = ev.get("recipient") or ("third_party" if "recipient" in ev else "first_party")
        grants = _grants(subject, cfg)

        def decide(category: str, f: Facts = Facts(subject["jurisdiction"], age, day, "", spec.use,
                                                    recipient, "none", grants, frozenset())) -> Verdict:
            return verdict(book, dataclasses.replace(f, category=category))

        main = decide(spec.category)
        if main.effect == "deny":
            counts[("drop", "event", _why(main))] += 1
            continue
        force: dict[str, tuple[int, str]] = {}
        ttl, ttl_why = spec.retain_days, "platform-declared-retention"
        for label in main.obligations:
            kind, _, value = label.partition(":")
            if kind == "retain_max_days":
                if int(value) < ttl:
                    ttl, ttl_why = int(value), _why(main)
            elif kind in FORCE:
                for f, least in FORCE[kind].items():
                    if least > force.get(f, (0, ""))[0]:
                        force[f] = (least, f"obligation:{kind}")
            elif kind != "retain_declared":
                counts[("obligation", label, _why(main))] += 1
        counts[("retain", f"{ttl}d", ttl_why)] += 1
        row = {k: v for k, v in ev.items() if k in COLUMNS}
        pseudonymised = False
        for f in FIELDS:
            col = "lat" if f == "lat_lon" else f
            if col not in row:
                continue
            own = decide(cfg.fields[f].category)
            lesser = decide(cfg.fields[f].fallback_category)
            least, forced_by = force.get(f, (0, ""))
            if own.effect != "deny" and least == 0:
                continue
            if lesser.effect != "deny" and least <= 1:
                action, why = NOUN[f], forced_by if own.effect != "deny" else _why(own)
            else:
                action, why = "null", forced_by if lesser.effect != "deny" else _why(lesser)
            if row[col] is None:
                continue
            counts[(action, f, why)] += 1
            if action == "null":
                row.update({"lat": None, "lon": None} if f == "lat_lon" else {col: None})
            elif f == "lat_lon":
                row["lat"] = _coarse(row["lat"], cfg.grid_degrees, 90.0)
                row["lon"] = _coarse(row["lon"], cfg.grid_degrees, 180.0)
            elif f == "ip":
                row["ip"] = _ip(row["ip"], cfg)
            else:
                msg = f"{f}\x00{row[col]}".encode()
                row[col] = hmac.new(keys.secret, msg, hashlib.sha256).hexdigest()[:32]
                pseudonymised = True
        row["retain_until"] = ts + dt.timedelta(days=ttl)
        row["key_id"] = keys.current if pseudonymised else None
        counts[("keep", "event", "")] += 1
        out.append(row)
    return out, counts
