"""Illustrative decisions for the demo: each a subject, an act, and what it shows."""

from __future__ import annotations

from typing import Any

CASES: list[tuple[str, dict[str, Any]]] = [
    ("A 12-year-old in NL, no parental consent, uploads a video carrying precise location", {
        "subject": {"jurisdiction": "NL", "age": 12},
        "act": {"category": "user.location.precise", "use": "essential.service", "at": "2026-12-01"},
    }),
    ("The same child after a verified parent consented to location", {
        "subject": {"jurisdiction": "NL", "age": 12, "grants": [
            {"scopes": ["location"], "by": "parent", "assurance": "verified"}]},
        "act": {"category": "user.location.precise", "use": "essential.service", "at": "2026-12-01"},
    }),
    ("A 15-year-old in GB shown a targeted ad", {
        "subject": {"jurisdiction": "GB", "age": 15, "grants": [{"scopes": ["processing"], "by": "self"}]},
        "act": {"category": "user.behavior.media_consumption",
                "use": "marketing.advertising.third_party.targeted", "recipient": "third_party",
                "at": "2026-12-01"},
    }),
    ("A 15-year-old in IT with her and a parent's consent, third-party targeted ads", {
        "subject": {"jurisdiction": "IT", "age": 15, "grants": [
            {"scopes": ["marketing"], "by": "self"},
            {"scopes": ["marketing"], "by": "parent", "assurance": "verified"}]},
        "act": {"category": "user.behavior.media_consumption",
                "use": "marketing.advertising.third_party.targeted", "recipient": "third_party",
                "at": "2026-12-01"},
    }),
    ("An EU child's watch history sent to a processor in IN, no SCCs", {
        "subject": {"jurisdiction": "PL", "age": 14},
        "act": {"category": "user.behavior.media_consumption", "use": "essential.service",
                "recipient": "processor", "destination": "IN", "at": "2026-12-01"},
    }),
    ("The same transfer with SCCs and a transfer assessment on file", {
        "subject": {"jurisdiction": "PL", "age": 14},
        "act": {"category": "user.behavior.media_consumption", "use": "essential.service",
                "recipient": "processor", "destination": "IN", "safeguards": ["scc", "tia"],
                "at": "2026-12-01"},
    }),
    ("A US 11-year-old, one parental consent covering service and ad disclosures, after 2026-04-22", {
        "subject": {"jurisdiction": "US", "age": 11, "grants": [
            {"scopes": ["collection", "third_party_disclosure"], "by": "parent", "assurance": "verified"}]},
        "act": {"category": "user.device.device_id", "use": "marketing.advertising.third_party.targeted",
                "recipient": "third_party", "at": "2026-05-01"},
    }),
    ("A 14-year-old in GB who switched location on for a feature", {
        "subject": {"jurisdiction": "GB", "age": 14, "grants": [{"scopes": ["location"], "by": "self"}]},
        "act": {"category": "user.location.precise", "use": "essential.service", "at": "2026-12-01"},
    }),
    ("A 30-year-old in US-IL, face geometry for login, no written release", {
        "subject": {"jurisdiction": "US-IL", "age": 30},
        "act": {"category": "user.biometric.face_geometry", "use": "essential.service.authentication",
                "at": "2026-12-01"},
    }),
]
