"""Age signals from the public docs' shapes -> normalised records; the cited age data; levels."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from cli_inprocess import run_cli as _cli
from tutela.age import LEVELS, READERS, Context, check, load_age_requirements, read_signal, to_rulebook
from tutela.age.levels import LEVEL_ORDER, at_least
from tutela.age.record import category
from tutela.engine import Engine
from tutela.errors import InputError, RulebookError
from tutela.rulebook.models import ASSURANCE_ORDER

DATA = Path(__file__).parent / "data" / "age"


def fixture(name: str) -> dict[str, object]:
    return json.loads((DATA / name).read_text())


def at(year: int, month: int, day: int) -> Context:
    return Context(now=dt.datetime(year, month, day, 12, tzinfo=dt.UTC))


def test_levels_are_ordered_and_map_monotonically_onto_the_rulebook() -> None:
    assert LEVELS == ("self_declared", "inferred", "parent_declared", "estimated", "verified")
    for a in LEVELS:
        for b in LEVELS:
            if LEVEL_ORDER[a] <= LEVEL_ORDER[b]:
                assert ASSURANCE_ORDER[to_rulebook(a)] <= ASSURANCE_ORDER[to_rulebook(b)]
    assert to_rulebook("self_declared") == "declared" and to_rulebook("verified") == "verified"
    assert at_least("verified", "estimated") and not at_least("parent_declared", "estimated")


def test_apple_self_declared_band_and_guardian_child() -> None:
    r = read_signal(fixture("apple_self_declared.json"), "apple", at(2026, 11, 2))
    assert (r.lower, r.upper, r.level, r.method, r.subject) == (13, 15, "self_declared", "apple.selfDeclared",
                                                                "apple-sub-0001")
    assert r.category == "younger_teenager" and r.issuer == "apple.com"
    child = read_signal(fixture("apple_guardian_child.json"), "apple", at(2026, 11, 2))
    assert (child.lower, child.upper, child.level, child.category) == (0, 12, "parent_declared", "child")
    adult = read_signal(fixture("apple_adult_id_checked.json"), "apple", at(2026, 11, 2))
    assert (adult.lower, adult.upper, adult.level) == (18, None, "verified")


def test_google_statuses_map_to_levels_approval_and_lag() -> None:
    r = read_signal(fixture("google_supervised.json"), "google", at(2026, 11, 2))
    assert (r.lower, r.upper, r.level, r.guardian_approval) == (13, 15, "parent_declared", "approved")
    assert r.as_of == dt.date(2026, 11, 2) - dt.timedelta(days=56)  # Play refreshes 2-8 weeks after the birthday
    assert r.subject == "inst-0000-5d1c"
    pending = read_signal(fixture("google_pending_tx.json"), "google", at(2026, 11, 2))
    assert pending.guardian_approval == "pending"
    [basis] = pending.basis
    assert (basis.act, basis.status, basis.enforced) == ("US-TX.app-store-accountability", "enjoined", False)
    verified = read_signal(fixture("google_verified.json"), "google", at(2026, 11, 2))
    assert (verified.lower, verified.upper, verified.level) == (18, None, "verified")


def test_google_unknown_is_refused_naming_the_field() -> None:
    with pytest.raises(InputError) as err:
        read_signal(fixture("google_unknown.json"), "google")
    assert err.value.where == "signal.userStatus" and "no age" in err.value.message


def test_ca_daaa_is_actual_knowledge_only_from_2027() -> None:
    before = read_signal(fixture("ca_daaa_13_15.json"), "ca-daaa", at(2026, 12, 31))
    after = read_signal(fixture("ca_daaa_13_15.json"), "ca-daaa", at(2027, 1, 1))
    assert (after.lower, after.upper, after.level) == (13, 15, "parent_declared")
    assert before.basis[0].status == "not_yet_in_force" and not before.basis[0].actual_knowledge
    assert after.basis[0].status == "in_force" and after.basis[0].actual_knowledge and after.basis[0].enforced
    adult = read_signal({"ageBracket": "18+"}, "ca-daaa", at(2027, 1, 1))
    assert (adult.lower, adult.upper, adult.level) == (18, None, "self_declared")


def test_app_store_acts_by_date_and_status() -> None:
    ut = fixture("appstore_ut_child.json")
    assert read_signal(ut, "appstore", at(2027, 5, 5)).basis[0].status == "not_yet_in_force"
    in_force = read_signal(ut, "appstore", at(2027, 5, 6))
    assert in_force.basis[0].status == "in_force" and in_force.basis[0].enforced
    assert (in_force.lower, in_force.upper, in_force.level, in_force.guardian_approval) == (0, 12, "inferred",
                                                                                           "pending")
    tx = read_signal(fixture("appstore_tx_teen.json"), "appstore", at(2026, 2, 1))
    assert (tx.lower, tx.upper, tx.level) == (13, 15, "estimated")  # still a fact about age
    assert tx.basis[0].status == "enjoined" and not tx.basis[0].enforced  # the Act's duties are not applied
    la = read_signal({**ut, "act": "US-LA"}, "appstore", at(2027, 8, 1))
    assert la.basis[0].status == "unverified" and not la.basis[0].enforced


@pytest.mark.parametrize(("kind", "payload", "where"), [
    ("apple", {"lowerBound": 16, "upperBound": 12, "ageRangeDeclaration": "selfDeclared"}, "signal.upperBound"),
    ("apple", {"lowerBound": 13, "ageRangeDeclaration": "byMagic"}, "signal.ageRangeDeclaration"),
    ("apple", {"response": "declinedSharing"}, "signal.response"),
    ("google", {"userStatus": "SUPERVISED", "ageUpper": 15}, "signal.ageLower"),
    ("google", {"userStatus": "SUPERVISED", "ageLower": "13"}, "signal.ageLower"),
    ("google", {"userStatus": "SUPERVISED", "ageLower": 13, "observedAt": "2026-11-02T09:00:00"},
     "signal.observedAt"),
    ("ca-daaa", {"ageBracket": "12-14"}, "signal.ageBracket"),
    ("appstore", {"act": "US-ZZ", "ageCategory": "child"}, "act"),
    ("appstore", {"act": "US-UT", "ageCategory": "toddler"}, "signal.ageCategory"),
    ("google", ["not", "an", "object"], "signal"),
    ("martian", {}, "kind"),
])
def test_malformed_signals_are_refused_naming_where(kind: str, payload: object, where: str) -> None:
    with pytest.raises(InputError) as err:
        read_signal(payload, kind)
    assert err.value.where == where, err.value


def test_category_brackets() -> None:
    assert [category(a) for a in (0, 12, 13, 15, 16, 17, 18, 90)] == [
        "child", "child", "younger_teenager", "younger_teenager", "older_teenager", "older_teenager", "adult", "adult"]


def test_packaged_age_data_validates_and_every_entry_is_cited() -> None:
    book = load_age_requirements()
    assert check() == []
    for r in book.requirements:
        assert r.citation.url.startswith("http") and r.citation.section
    for s in book.sources:
        if s.law is not None:
            assert s.law.citation.instrument and s.law.citation.url.startswith("http")
    assert {r.id.split(".")[0] for r in book.requirements} >= {"EU", "BR", "GB", "AU"}
    engine = Engine()
    known = frozenset(engine.rulebook.jurisdictions) | frozenset(engine.rulebook.regimes)
    assert check(known_jurisdictions=known) == []
    assert engine.age_required("NL", "age_restricted") == "estimated"  # NL inherits EU-DSA
    assert engine.age_required("BR", "improper_for_minors") == "inferred"
    assert engine.age_required("US-CA", "age_restricted") is None


def test_required_levels_skip_unverified_and_future_entries() -> None:
    book = load_age_requirements()
    day = dt.date(2026, 12, 3)
    assert book.required("GB", "primary_priority_content", day)[0] == "estimated"
    assert book.required("NL", "adult_or_high_risk", day, regimes=("EU-GDPR", "EU-DSA"))[0] == "verified"
    assert book.required("NL", "adult_or_high_risk", day)[0] is None  # only through the regime it inherits
    assert book.required("AU", "age_restricted_social_media", day)[0] == "inferred"
    assert book.required("AU", "age_restricted_social_media", dt.date(2025, 12, 9))[0] is None  # before 10 Dec 2025
    assert book.required("BR", "improper_for_minors", day)[0] == "inferred"
    assert book.required("BR", "improper_for_minors", dt.date(2026, 3, 16))[0] is None
    assert book.required("DE", "improper_for_minors", day) == (None, [])


def test_bad_age_file_names_file_and_key(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "src/tutela/data/age_assurance.yaml").read_text()
    bad = tmp_path / "age.yaml"
    bad.write_text(text.replace("minimum: estimated            # Ofcom", "minimum: sworn            # Ofcom"))
    with pytest.raises(RulebookError) as err:
        load_age_requirements(bad)
    assert str(bad) in (err.value.where or "") and "GB.osa.highly-effective-age-assurance" in (err.value.where or "")
    assert err.value.where.endswith(".minimum")
    extra = tmp_path / "extra.yaml"
    extra.write_text(text.replace("    lag_days: 56", "    lag_days: 56\n    colour: blue"))
    [problem] = check(extra)
    assert problem.message == "unknown field" and "google.play-age-signals" in problem.where
    assert "colour" in problem.where


def test_an_unverified_entry_is_never_enforced(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "src/tutela/data/age_assurance.yaml").read_text()
    start = text.index("  - id: GB.osa.highly-effective-age-assurance")
    cut = text.index("    verified: true", start)
    f = tmp_path / "age.yaml"
    f.write_text(text[:cut] + "    verified: false" + text[cut + len("    verified: true"):])
    book = load_age_requirements(f)
    assert book.required("GB", "primary_priority_content", dt.date(2026, 12, 3)) == (None, [])


def test_docs_name_every_signal_level_and_requirement() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "age.md").read_text()
    book = load_age_requirements()
    for name in (*READERS, *LEVELS, *(r.id for r in book.requirements), *(s.kind for s in book.sources)):
        assert f"`{name}`" in doc or f"| {name} |" in doc, name




def test_cli_requirements_lists_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _cli(capsys, monkeypatch, "age", "requirements", "--format", "json")
    body = json.loads(out)
    assert code == 0 and body["ok"] and {s["id"]: s["status"] for s in body["sources"]}[
        "US-TX.app-store-accountability"] == "enjoined"
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nrequirements: []\n")
    code, out, _ = _cli(capsys, monkeypatch, "age", "requirements", "--path", str(bad), "--format", "json")
    assert code == 1 and not json.loads(out)["ok"] and "combination" in json.loads(out)["problems"][0]["where"]


def test_cli_read_prints_the_record_and_refuses_with_exit_3(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _cli(capsys, monkeypatch, "age", "read", str(DATA / "google_pending_tx.json"), "--kind", "google",
                        "--now", "2026-11-02T12:00:00Z", "--format", "json")
    rec = json.loads(out)
    assert code == 0 and (rec["lower"], rec["upper"], rec["category"], rec["guardian_approval"]) == (
        16, 17, "older_teenager", "pending")
    code, _, err = _cli(capsys, monkeypatch, "age", "read", str(DATA / "google_unknown.json"), "--kind", "google")
    assert code == 3 and "signal.userStatus" in err
