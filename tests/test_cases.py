"""Every row of DESIGN.md "Cases the engine must get right", through `Engine().decide`.

Each case asserts the effect, the determining rule ids that matter, what is missing, and that
the reference evaluator reaches the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tutela.engine import Engine

MEDIA = "user.behavior.media_consumption"
PROFILED = "personalize.content.profiled"
TP_ADS = "marketing.advertising.third_party.targeted"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def req(jur: str, age: int, grants: list[dict[str, Any]], category: str, use: str, *,
        recipient: str = "first_party", destination: str | None = None,
        safeguards: tuple[str, ...] = (), at: str = "2026-12-01") -> dict[str, Any]:
    return {
        "subject": {"jurisdiction": jur, "age": age, "grants": grants},
        "act": {"category": category, "use": use, "recipient": recipient,
                "destination": destination, "safeguards": list(safeguards), "at": at},
    }


def consent(*scopes: str, by: str, assurance: str = "declared") -> dict[str, Any]:
    return {"scopes": list(scopes), "by": by, "assurance": assurance}


@dataclass
class Case:
    request: dict[str, Any]
    effect: str
    rules: set[str] = field(default_factory=set)  # must be among the determining rules
    not_rules: set[str] = field(default_factory=set)  # must not be among them
    missing: set[tuple] | None = None  # exact set of missing items, as tuples
    lawful_possible: bool | None = None
    obligations: set[str] | None = None


def C(kind: str, scope: str, by: str, assurance: str, separate: bool = False) -> tuple:
    return (kind, scope, by, assurance, separate, None)


def S(name: str) -> tuple:
    return ("safeguard", None, None, None, False, name)


PARENT_VERIFIED = dict(by="parent", assurance="verified")

CASES: dict[str, Case] = {
    # IT, 13, consented herself: IT age of digital consent is 14
    "IT-13-self-profiled-feed": Case(
        req("IT", 13, [consent("personalization", by="self")], MEDIA, PROFILED),
        "deny", {"EU-GDPR.art6-1-a.personalisation", "IT-GDPR.art8"},
        missing={C("consent", "personalization", "parent", "verified")}, lawful_possible=True),
    "IT-13-parent-verified-profiled-feed": Case(
        req("IT", 13, [consent("personalization", **PARENT_VERIFIED)], MEDIA, PROFILED),
        "allow_with_obligations", {"EU-GDPR.art6-1-a.personalisation", "IT-GDPR.art8", "EU-GDPR.art5-1-e"},
        missing=set(), obligations={"retain_declared"}),
    # IT, 14: at the age of consent her own consent is enough
    "IT-14-self-profiled-feed": Case(
        req("IT", 14, [consent("personalization", by="self")], MEDIA, PROFILED),
        "allow_with_obligations", {"EU-GDPR.art6-1-a.personalisation", "EU-GDPR.art5-1-e"}, missing=set(),
        obligations={"retain_declared"}),
    # PT age is 13
    "PT-13-self-profiled-feed": Case(
        req("PT", 13, [consent("personalization", by="self")], MEDIA, PROFILED),
        "allow_with_obligations", {"EU-GDPR.art6-1-a.personalisation", "PT-GDPR.art8"}, missing=set(),
        obligations={"retain_declared"}),
    # DSA Art. 28(2): consent does not matter
    "IT-15-both-consented-third-party-ads": Case(
        req("IT", 15, [consent("marketing", "processing", by="self", assurance="verified"),
                       consent("marketing", "processing", **PARENT_VERIFIED),
                       consent("marketing", **PARENT_VERIFIED)],
            MEDIA, TP_ADS, recipient="third_party"),
        "deny", {"EU-DSA.art28-2"}, lawful_possible=False),
    # US, 11, one parental consent covering the service and third-party disclosures
    "US-11-one-consent-before-amendments": Case(
        req("US", 11, [consent("collection", "third_party_disclosure", **PARENT_VERIFIED)],
            MEDIA, TP_ADS, recipient="third_party", at="2026-03-01"),
        "allow_with_obligations", {"US-COPPA.312-10.retention"}, {"US-COPPA.312-5-a-2", "US-COPPA.312-5-a-1"},
        missing=set(), obligations={"retain_declared"}),
    "US-11-one-consent-after-amendments": Case(
        req("US", 11, [consent("collection", "third_party_disclosure", **PARENT_VERIFIED)],
            MEDIA, TP_ADS, recipient="third_party", at="2026-05-01"),
        "deny", {"US-COPPA.312-5-a-2"},
        missing={C("consent", "third_party_disclosure", "parent", "verified", True)},
        lawful_possible=True),
    "US-11-separate-consent-after-amendments": Case(
        req("US", 11, [consent("collection", "third_party_disclosure", **PARENT_VERIFIED),
                       consent("third_party_disclosure", **PARENT_VERIFIED)],
            MEDIA, TP_ADS, recipient="third_party", at="2026-05-01"),
        "allow_with_obligations", {"US-COPPA.312-10"}, {"US-COPPA.312-5-a-2"}, missing=set(),
        obligations={"written_retention_policy", "written_security_program", "retain_declared"}),
    # CCPA 1798.120(c)
    "US-CA-15-no-opt-in-sale": Case(
        req("US-CA", 15, [], MEDIA, "third_party_sharing.sale", recipient="third_party"),
        "deny", {"US-CA-CCPA.1798-120-c.13to15"},
        missing={C("consent", "sale_sharing", "self", "declared")}, lawful_possible=True),
    "US-CA-15-no-opt-in-cross-context-ads": Case(
        req("US-CA", 15, [], MEDIA, TP_ADS, recipient="third_party"),
        "deny", {"US-CA-CCPA.1798-120-c.13to15"},
        missing={C("consent", "sale_sharing", "self", "declared")}),
    "US-CA-15-opted-in-sale": Case(
        req("US-CA", 15, [consent("sale_sharing", by="self")], MEDIA, "third_party_sharing.sale",
            recipient="third_party"),
        "allow", not_rules={"US-CA-CCPA.1798-120-c.13to15"}, missing=set()),
    # India DPDP (commences 2027-05-13 in this rulebook)
    "IN-16-own-consent-analytics": Case(
        req("IN", 16, [consent("processing", by="self", assurance="verified")], MEDIA, "analytics",
            at="2027-06-01"),
        "deny", {"IN-DPDP.s6", "IN-DPDP.s2-f"},
        missing={C("consent", "processing", "parent", "verified")}, lawful_possible=True),
    "IN-16-own-consent-service": Case(
        req("IN", 16, [consent("processing", by="self", assurance="verified")], MEDIA,
            "essential.service", at="2027-06-01"),
        "deny", {"IN-DPDP.s6"}, missing={C("consent", "processing", "parent", "verified")}),
    "IN-16-parent-consent-analytics": Case(
        req("IN", 16, [consent("processing", **PARENT_VERIFIED)], MEDIA, "analytics",
            at="2027-06-01"),
        "allow", {"IN-DPDP.s6"}, missing=set()),
    "IN-16-parent-consent-targeted-ads": Case(
        req("IN", 16, [consent("processing", **PARENT_VERIFIED)], MEDIA, TP_ADS,
            recipient="third_party", at="2027-06-01"),
        "deny", {"IN-DPDP.s9-3"}, lawful_possible=False),
    # GB AADC standard 10
    "GB-14-location-untouched": Case(
        req("GB", 14, [], "user.location.precise", "essential.service"),
        "deny", {"GB-AADC.std10"}, missing={C("consent", "location", "self", "declared")},
        lawful_possible=True),
    "GB-14-location-switched-on": Case(
        req("GB", 14, [consent("location", by="self")], "user.location.precise", "essential.service"),
        "allow_with_obligations", {"GB-AADC.std10.obligations"}, {"GB-AADC.std10"}, missing=set(),
        obligations={"location_indicator", "location_off_after_session", "retain_declared"}),
    # GDPR Art. 44/46
    "PL-watch-history-to-IN-processor-no-scc": Case(
        req("PL", 25, [], MEDIA, "essential.service", recipient="processor", destination="IN"),
        "deny", {"EU-GDPR.art44-46"}, missing={S("scc"), S("tia")}, lawful_possible=True),
    "PL-watch-history-to-IN-processor-scc-only": Case(
        req("PL", 25, [], MEDIA, "essential.service", recipient="processor", destination="IN",
            safeguards=("scc",)),
        "deny", {"EU-GDPR.art44-46"}, missing={S("tia")}),
    "PL-watch-history-to-IN-processor-scc-tia": Case(
        req("PL", 25, [], MEDIA, "essential.service", recipient="processor", destination="IN",
            safeguards=("scc", "tia")),
        "allow", not_rules={"EU-GDPR.art44-46"}, missing=set()),
    # BIPA 15(b)
    "US-IL-30-face-geometry-login-no-release": Case(
        req("US-IL", 30, [], "user.biometric.face_geometry", "essential.service.authentication"),
        "deny", {"US-IL-BIPA.15-b"},
        missing={C("consent", "biometric_written_release", "any", "declared")}, lawful_possible=True),
    "US-IL-30-face-geometry-login-with-release": Case(
        req("US-IL", 30, [consent("biometric_written_release", by="self")],
            "user.biometric.face_geometry", "essential.service.authentication"),
        "allow_with_obligations", {"US-IL-BIPA.15-a"}, {"US-IL-BIPA.15-b"}, missing=set(),
        obligations={"retain_max_days:1095"}),
    # storage limitation (GDPR Art. 5(1)(e)) is modelled for children only: an adult's verdict is unchanged
    "IT-30-self-profiled-feed": Case(
        req("IT", 30, [consent("personalization", by="self")], MEDIA, PROFILED),
        "allow", {"EU-GDPR.art6-1-a.personalisation"}, {"EU-GDPR.art5-1-e"}, missing=set(), obligations=set()),
    # COPPA 312.10 binds below 13 only
    "US-13-no-retention-obligation": Case(
        req("US", 13, [], MEDIA, "essential.service"),
        "allow", not_rules={"US-COPPA.312-10.retention"}, missing=set(), obligations=set()),
}


@pytest.mark.parametrize("name", list(CASES))
def test_case(engine: Engine, name: str) -> None:
    case = CASES[name]
    d = engine.decide(case.request)
    ids = set(d.rule_ids())
    assert d.effect == case.effect, (d.effect, ids, d.missing)
    assert case.rules <= ids, f"expected {case.rules} among {ids}"
    assert not (case.not_rules & ids), f"unexpected {case.not_rules & ids}"
    if case.missing is not None:
        got = {(m.kind, m.scope, m.by, m.assurance, m.separate, m.safeguard) for m in d.missing}
        assert got == case.missing
    if case.lawful_possible is not None:
        assert d.lawful_possible is case.lawful_possible
    if case.obligations is not None:
        assert set(d.obligations) == case.obligations
    if d.effect == "deny":
        assert d.determining, "a deny names the rules that determined it"
        assert d.obligations == ()
        if d.lawful_possible:
            assert d.missing, "a curable deny says what would make it lawful"
    for rule in d.determining:
        assert rule.url.startswith(("http://", "https://")) and rule.instrument and rule.section
    assert d.rulebook_version == engine.version
    ref = engine.decide_reference(case.request)
    assert ref.verdict() == d.verdict()
    assert (ref.age, ref.evaluated_on, ref.destination_class) == (d.age, d.evaluated_on,
                                                                  d.destination_class)


def test_india_before_commencement_is_not_yet_dpdp(engine: Engine) -> None:
    """Before 2027-05-13 the DPDP rules are not in force: the IT Act baseline decides."""
    d = engine.decide(req("IN", 16, [consent("processing", by="self")], MEDIA, "analytics",
                          at="2026-12-01"))
    assert not {i for i in d.rule_ids() if i.startswith("IN-DPDP.s")}
    assert d.verdict() == engine.decide_reference(
        req("IN", 16, [consent("processing", by="self")], MEDIA, "analytics", at="2026-12-01")
    ).verdict()
