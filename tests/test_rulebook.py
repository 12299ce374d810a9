"""The packaged rulebook loads and is complete; a corrupted copy fails with a precise error."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tutela.engine import Engine
from tutela.errors import RulebookError, UnknownKeyError
from tutela.policy import reference
from tutela.policy.facts import Facts, GrantFact
from tutela.rulebook import Rulebook, load_rulebook

EU27 = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
        "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]
OTHERS = ["NO", "IS", "LI", "GB", "US", "US-CA", "US-NY", "US-UT", "US-TX", "US-IL", "BR", "IN",
          "CN", "KR", "AU", "CA-QC"]


@pytest.fixture(scope="module")
def book() -> Rulebook:
    return load_rulebook()


def test_load_packaged(book: Rulebook) -> None:
    assert book.version
    assert len(book.jurisdictions) >= 45
    assert len(EU27) == 27
    missing = [c for c in (*EU27, *OTHERS) if c not in book.jurisdictions]
    assert missing == []
    for code, j in book.jurisdictions.items():
        assert j.code == code
        for name in j.inherits:
            assert name in book.regimes


def test_norway_is_a_string_code(book: Rulebook) -> None:
    assert "NO" in book.jurisdictions
    no = book.jurisdictions["NO"]
    assert no.code == "NO" and isinstance(no.code, str)
    gdpr = book.regimes["EU-GDPR"]
    assert gdpr.transfers is not None
    assert "NO" in gdpr.transfers.area
    assert all(isinstance(c, str) for c in gdpr.transfers.area)


def test_every_rule_is_cited_and_dated(book: Rulebook) -> None:
    url = re.compile(r"^https?://\S+$")
    assert book.all_rules
    for s in book.all_rules:
        r = s.rule
        c = r.citation
        assert c.instrument.strip() and c.section.strip(), r.id
        assert url.match(c.url), (r.id, c.url)
        assert isinstance(r.effective_from, dt.date), r.id
    for _, d in book.consent_index.values():
        assert url.match(d.citation.url) and d.citation.instrument and d.citation.section
        assert isinstance(d.effective_from, dt.date)


def test_rule_ids_unique(book: Rulebook) -> None:
    ids = [s.rule.id for s in book.all_rules]
    assert len(ids) == len(set(ids))


def test_retention_rules_model_children_only(book: Rulebook) -> None:
    """Storage limitation binds for every age in law; Tutela attaches `retain_declared` to children's
    processing only (GDPR, UK GDPR: under 18; COPPA: under 13), so adults' verdicts stay as they were."""
    carriers = {s.rule.id: s.rule for s in book.all_rules
                if any(o.kind == "retain_declared" for o in s.rule.obligations)}
    assert set(carriers) == {"EU-GDPR.art5-1-e", "UK-GDPR.art5-1-e", "US-COPPA.312-10.retention"}
    below = {rid: r.when.age.below if r.when.age else None for rid, r in carriers.items()}
    assert below == {"EU-GDPR.art5-1-e": 18, "UK-GDPR.art5-1-e": 18, "US-COPPA.312-10.retention": 13}
    hosts = {rid: r.citation.url.split("/")[2] for rid, r in carriers.items()}
    assert hosts == {"EU-GDPR.art5-1-e": "eur-lex.europa.eu", "UK-GDPR.art5-1-e": "www.legislation.gov.uk",
                     "US-COPPA.312-10.retention": "www.ecfr.gov"}
    for r in carriers.values():
        assert r.effect == "obligate" and r.status == "enforced" and r.citation.note
    adult = Facts("NL", 30, dt.date(2026, 6, 1), "user.location.precise", "essential.service", "first_party",
                  "none", frozenset(), frozenset())
    assert "retain_declared" not in reference.verdict(book, adult).obligations
    child = Facts("NL", 17, dt.date(2026, 6, 1), "user.account.contact.email", "essential.service",
                  "first_party", "none", frozenset(), frozenset())
    assert reference.verdict(book, child).obligations == ("retain_declared",)


def test_non_enforced_rules_never_determine(book: Rulebook) -> None:
    """A rule whose status is not `enforced` never appears among the determining rules."""
    not_enforced = {s.rule.id for s in book.all_rules if s.rule.status != "enforced"}
    assert not_enforced, "the packaged rulebook is expected to hold at least one such rule"
    engine = Engine(rulebook=book)
    holders: dict[str, set[str]] = {}
    for code in book.jurisdictions:
        for s in book.rules_for(code):
            if s.rule.id in not_enforced:
                holders.setdefault(code, set()).add(s.rule.id)
    assert holders
    cats = list(engine.taxonomy.categories.keys)
    uses = list(engine.taxonomy.uses.keys)
    everything = frozenset(GrantFact(sc, by, 2, True) for sc in book.scopes for by in ("self", "parent"))
    seen = 0
    for code in holders:
        for age in (5, 12, 13, 15, 17, 30):
            for day in (dt.date(2025, 1, 1), dt.date(2027, 6, 1)):
                for cat in cats[::3]:
                    for use in uses:
                        for grants in (frozenset(), everything):
                            f = Facts(code, age, day, cat, use, "third_party", "non_adequate",
                                      grants, frozenset({"scc", "tia"}))
                            for v in (reference.verdict(book, f), engine.compiled.verdict(f)):
                                assert not ({d.id for d in v.determining} & not_enforced), f
                            seen += 1
    assert seen > 1000


def test_non_enforced_rule_flipped_to_enforced_would_determine(book: Rulebook) -> None:
    """Sanity check of the test above: the status alone keeps those rules out."""
    target = next(s for s in book.all_rules if s.rule.status != "enforced"
                  and s.rule.effect == "obligate" and s.source in book.jurisdictions)
    code = target.source
    j = book.jurisdictions[code]
    flipped = tuple(r.model_copy(update={"status": "enforced"}) if r.id == target.rule.id else r
                    for r in j.rules)
    book2 = Rulebook(regimes=book.regimes, jurisdictions={**book.jurisdictions,
                     code: j.model_copy(update={"rules": flipped})}, scopes=book.scopes,
                     version=book.version)
    e = Engine(rulebook=book2)
    found = False
    for age in (10, 15):
        for use in e.taxonomy.uses.keys:
            f = Facts(code, age, dt.date(2026, 12, 1), "user.contact.email", use, "first_party",
                      "none", frozenset(GrantFact(sc, by, 2, True) for sc in book.scopes
                                        for by in ("self", "parent")), frozenset())
            v = reference.verdict(book2, f)
            if target.rule.id in {d.id for d in v.determining}:
                found = True
                assert e.compiled.verdict(f) == v
    assert found


# -- corrupted copies -------------------------------------------------------------------------

def _copy(tmp_path: Path) -> Path:
    src = importlib.resources.files("tutela.data.rulebook")
    dst = tmp_path / "rulebook"
    shutil.copytree(str(src), dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _edit(root: Path, rel: str, fn: Callable[[dict[str, Any]], None]) -> None:
    p = root / rel
    data = yaml.safe_load(p.read_text("utf-8"))
    fn(data)
    p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")


def _rule(data: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["id"] == rid)


def test_copy_loads_unchanged(tmp_path: Path, book: Rulebook) -> None:
    root = _copy(tmp_path)
    copy = load_rulebook(root)
    assert set(copy.jurisdictions) == set(book.jurisdictions)
    assert copy.version == book.version


def test_round_tripped_copy_loads(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit(root, "jurisdictions/US-IL.yaml", lambda d: None)
    assert "US-IL" in load_rulebook(root).jurisdictions


def test_unquoted_norway_code_stays_a_string(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    p = root / "jurisdictions" / "NO.yaml"
    text = p.read_text("utf-8")
    assert 'code: "NO"' in text
    p.write_text(text.replace('code: "NO"', "code: NO"), "utf-8")
    assert load_rulebook(root).jurisdictions["NO"].code == "NO"


IL = "jurisdictions/US-IL.yaml"
BIPA = "US-IL-BIPA.15-b"


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def fn(d: dict[str, Any]) -> None:
        node = _rule(d, BIPA)
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return fn


def _del(key: str) -> Callable[[dict[str, Any]], None]:
    def fn(d: dict[str, Any]) -> None:
        del _rule(d, BIPA)[key]
    return fn


RULE_CORRUPTIONS = {
    # name: (edit, error class, field the message must name)
    "unknown-field": (_set(("colour",), "red"), RulebookError, "colour"),
    "missing-citation": (_del("citation"), RulebookError, "citation"),
    "bad-url": (_set(("citation", "url"), "ftp://example.org/x"), RulebookError, "citation.url"),
    "url-not-a-url": (_set(("citation", "url"), "see the statute"), RulebookError, "citation.url"),
    "unknown-category": (_set(("when", "categories"), ["user.biometric.nonsense"]), UnknownKeyError,
                         "when.categories"),
    "unknown-scope": (_set(("unless", "consent", "scope"), "telepathy"), UnknownKeyError,
                      "consent.scope"),
    "missing-effective-from": (_del("effective_from"), RulebookError, "effective_from"),
    "bad-effect": (_set(("effect",), "maybe"), RulebookError, "effect"),
}


@pytest.mark.parametrize("name", list(RULE_CORRUPTIONS))
def test_corrupt_rule(tmp_path: Path, name: str) -> None:
    edit, cls, field = RULE_CORRUPTIONS[name]
    root = _copy(tmp_path)
    _edit(root, IL, edit)
    with pytest.raises((RulebookError, UnknownKeyError)) as info:
        load_rulebook(root)
    err = info.value
    assert isinstance(err, cls)
    text = str(err)
    assert IL in text, text
    assert BIPA in text, text
    assert field in text, text


def test_unknown_inherited_regime(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit(root, "jurisdictions/IT.yaml", lambda d: d["inherits"].append("EU-NOPE"))
    with pytest.raises(UnknownKeyError) as info:
        load_rulebook(root)
    text = str(info.value)
    assert "jurisdictions/IT.yaml" in text and "inherits" in text and "EU-NOPE" in text


def test_invalid_yaml(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    p = root / IL
    p.write_text(p.read_text("utf-8") + "\n  - id: [unclosed\n", "utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook(root)
    assert IL in str(info.value) and "yaml" in str(info.value).lower()


def test_not_a_mapping(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / IL).write_text("- just\n- a list\n", "utf-8")
    with pytest.raises(RulebookError) as info:
        load_rulebook(root)
    assert IL in str(info.value)


def test_duplicate_rule_id(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit(root, "jurisdictions/US-NY.yaml",
          lambda d: d["rules"].append({**d["rules"][0], "id": BIPA}))
    with pytest.raises(RulebookError) as info:
        load_rulebook(root)
    text = str(info.value)
    assert BIPA in text
    assert "US-IL.yaml" in text and "US-NY.yaml" in text


def test_duplicate_rule_id_in_one_file(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit(root, IL, lambda d: d["rules"].append(dict(_rule(d, BIPA))))
    with pytest.raises(RulebookError) as info:
        load_rulebook(root)
    assert BIPA in str(info.value) and IL in str(info.value)


def test_overlapping_digital_consent(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def add(d: dict[str, Any]) -> None:
        first = d["digital_consent"][0]
        d["digital_consent"].append({**first, "id": "IT-GDPR.art8-new", "age": 15,
                                     "effective_from": dt.date(2026, 1, 1)})

    _edit(root, "jurisdictions/IT.yaml", add)
    with pytest.raises(RulebookError) as info:
        load_rulebook(root)
    text = str(info.value)
    assert "jurisdictions/IT.yaml" in text and "digital_consent" in text
    assert "IT-GDPR.art8" in text and "IT-GDPR.art8-new" in text


def test_closed_digital_consent_is_fine(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def add(d: dict[str, Any]) -> None:
        first = d["digital_consent"][0]
        first["effective_to"] = dt.date(2026, 1, 1)
        d["digital_consent"].append({**first, "id": "IT-GDPR.art8-new", "age": 15,
                                     "effective_from": dt.date(2026, 1, 1), "effective_to": None})

    _edit(root, "jurisdictions/IT.yaml", add)
    book = load_rulebook(root)
    assert book.digital_consent("IT", dt.date(2026, 6, 1)).age == 15
    assert book.digital_consent("IT", dt.date(2025, 6, 1)).age == 14


def test_bad_digital_consent_field(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    _edit(root, "jurisdictions/IT.yaml", lambda d: d["digital_consent"][0].update(age=99))
    with pytest.raises(RulebookError) as info:
        load_rulebook(root)
    text = str(info.value)
    assert "jurisdictions/IT.yaml" in text and "IT-GDPR.art8" in text and "age" in text


def test_file_name_must_match_code(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "jurisdictions" / "IT.yaml").rename(root / "jurisdictions" / "XX.yaml")
    with pytest.raises(RulebookError) as info:
        load_rulebook(root)
    assert "XX.yaml" in str(info.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RulebookError):
        load_rulebook(tmp_path / "nowhere")
