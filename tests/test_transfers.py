"""The transfer gate: each mechanism and its dates, stale and late TIAs, remote staff access,
unknown recipients, malformed registries naming the entry and field, agreement with the decision
engine, the audit reading its processors through the registry, the Art. 13(1)(f) countries."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tutela.engine import Engine
from tutela.errors import InputError, UnknownKeyError
from tutela.transfers import Dataset, DatasetCheck, Registry, Subject, TransferCheck, TransferGate, check
from tutela.transfers.models import Recipient

DAY = dt.date(2026, 3, 1)
CHILD_NL = Subject("NL", 12)
ADULT_NL = Subject("NL", 30)


def reg(*recipients: dict[str, Any], review: int | None = None) -> Registry:
    return Registry(tuple(Recipient.model_validate(r) for r in recipients), "test", review)


def one(engine: Engine, r: dict[str, Any], who: Subject | Dataset = CHILD_NL, on: dt.date = DAY) -> TransferCheck:
    out = check(engine.rulebook, reg({"id": "x", "name": "X", "kind": "processor", **r}), "x", who, on)
    assert isinstance(out, TransferCheck)
    return out


def instruments(c: TransferCheck) -> str:
    return " | ".join(f"{x['instrument']} {x['section']}" for x in c.citations)


def test_inside_the_area_is_no_transfer(engine: Engine) -> None:
    c = one(engine, {"country": "DE"})
    assert (c.effect, c.mechanism, c.destination_class, c.transfer) == ("allow", "free_flow", "none", False)
    assert "Art. 44" in instruments(c)
    assert one(engine, {"country": "NO"}).mechanism == "free_flow"  # EEA: NO stays Norway, not false


def test_adequacy_is_dated_by_the_rulebook(engine: Engine) -> None:
    jp = one(engine, {"country": "JP"})
    assert (jp.effect, jp.mechanism) == ("allow", "adequacy")
    assert jp.citations[0]["instrument"] == "Commission Implementing Decision (EU) 2019/419"
    assert jp.citations[0]["effective_from"] == "2019-01-23" and "Art. 45(1)" in instruments(jp)
    before = one(engine, {"country": "JP"}, on=dt.date(2018, 12, 1))  # before the Japan decision
    assert before.effect == "deny" and before.destination_class == "non_adequate"
    br = one(engine, {"country": "BR"})  # Decision (EU) 2026/179 of 26 Jan 2026
    assert br.effect == "allow" and br.citations[0]["effective_from"] == "2026-01-26"
    assert one(engine, {"country": "BR"}, on=dt.date(2026, 1, 25)).effect == "deny"


def test_dpf_only_for_certified_us_recipients(engine: Engine) -> None:
    dpf = one(engine, {"country": "US", "dpf_certified": True})
    assert (dpf.effect, dpf.mechanism) == ("allow", "dpf")
    text = instruments(dpf)
    assert "2023/1795" in text and "C(2023) 4745" in text
    assert dpf.citations[0]["effective_from"] == "2023-07-10"
    assert one(engine, {"country": "US", "dpf_certified": True}, on=dt.date(2023, 7, 9)).effect == "deny"
    plain = one(engine, {"country": "US"})
    assert (plain.effect, plain.destination_class, plain.missing) == ("deny", "non_adequate", ("scc", "tia"))
    assert plain.rules == ("EU-GDPR.art44-46",)


def test_scc_needs_a_tia_on_file(engine: Engine) -> None:
    c = one(engine, {"country": "IN", "scc_module": "C2P"})
    assert (c.effect, c.mechanism, c.missing) == ("deny", "scc", ("tia",))
    assert any("no transfer impact assessment on file" in r for r in c.reasons)
    ok = one(engine, {"country": "IN", "scc_module": "C2P", "tia_date": "2025-11-01"})
    assert (ok.effect, ok.mechanism, ok.rules) == ("allow", "scc", ("EU-GDPR.art44-46",))
    assert "2021/914" in instruments(ok) and "C-311/18" in instruments(ok)


def test_a_stale_tia_denies_children_data_only(engine: Engine) -> None:
    r = {"country": "IN", "scc_module": "C2P", "tia_date": "2024-09-16"}  # 531 days before DAY
    child = one(engine, r)
    assert child.effect == "deny" and child.missing == ("tia", "tia_review")
    assert "531 days old" in child.reasons[0] and "review it" in child.reasons[0]
    assert one(engine, r, who=Subject("NL")).effect == "deny"  # unknown age: read as a child
    assert one(engine, r, who=ADULT_NL).effect == "allow"
    assert one(engine, r, on=dt.date(2025, 9, 16)).effect == "allow"  # 365 days: still fresh
    assert one(engine, r, on=dt.date(2025, 9, 17)).effect == "deny"
    short = check(engine.rulebook, reg({"id": "x", "name": "X", "kind": "processor", **r}, review=30), "x",
                  CHILD_NL, dt.date(2024, 10, 20))
    assert not short.allowed  # the registry's own review interval


def test_a_tia_dated_after_the_transfer_does_not_cover_it(engine: Engine) -> None:
    c = one(engine, {"country": "IN", "scc_module": "C2P", "tia_date": "2026-06-01"}, who=ADULT_NL)
    assert c.effect == "deny" and "dated after" in c.reasons[0]


def test_scc_dates(engine: Engine) -> None:
    late = one(engine, {"country": "IN", "scc_module": "C2P", "scc_signed": "2026-04-01", "tia_date": "2026-01-01"})
    assert late.effect == "deny" and late.missing == ("scc",) and "signed on 2026-04-01" in late.reasons[0]
    early = one(engine, {"country": "IN", "scc_module": "P2P", "tia_date": "2021-01-01"}, on=dt.date(2021, 3, 1))
    assert early.effect == "deny" and "apply from 2021-06-27" in early.reasons[0]


def test_binding_corporate_rules(engine: Engine) -> None:
    c = one(engine, {"country": "SG", "bcr_approved": "2022-03-01", "tia_date": "2026-02-01"})
    assert (c.effect, c.mechanism) == ("allow", "bcr") and "Art. 47" in instruments(c)
    assert one(engine, {"country": "SG", "bcr_approved": "2026-05-01", "tia_date": "2026-02-01"}).effect == "deny"


def test_remote_staff_access_is_a_transfer(engine: Engine) -> None:
    staff = one(engine, {"kind": "remote_staff", "country": "CN"})
    assert staff.effect == "deny" and staff.transfer and staff.to_dict()["remote_access"] is True
    assert "TikTok" in instruments(staff) and staff.missing == ("scc", "tia")
    fixed = one(engine, {"kind": "remote_staff", "country": "CN", "scc_module": "C2C", "tia_date": "2026-01-10"})
    assert fixed.effect == "allow" and "TikTok" in instruments(fixed)
    home = one(engine, {"kind": "remote_staff", "country": "IE"})
    assert home.effect == "allow" and not home.to_dict()["remote_access"]


def test_uk_subjects_use_the_uk_regime(engine: Engine) -> None:
    c = one(engine, {"country": "IN"}, who=Subject("GB", 12))
    assert c.regime == "UK-GDPR" and c.rules == ("UK-GDPR.art44-46",)
    assert one(engine, {"country": "DE"}, who=Subject("GB", 12)).mechanism == "adequacy"


def test_no_transfer_regime_allows_and_says_so(engine: Engine) -> None:
    c = one(engine, {"country": "IN"}, who=Subject("US", 10))
    assert (c.effect, c.mechanism, c.regime) == ("allow", "not_regulated", None)
    assert "no cross-border transfer regime" in c.reasons[0]


def test_a_dataset_is_denied_when_any_jurisdiction_is(engine: Engine) -> None:
    r = {"country": "IN", "scc_module": "C2P", "tia_date": "2024-09-16"}
    out = check(engine.rulebook, reg({"id": "x", "name": "X", "kind": "processor", **r}), "x",
                Dataset("watch_history", ("US", "GB", "NL")), DAY)
    assert isinstance(out, DatasetCheck) and out.effect == "deny"
    assert [c.effect for c in out.checks] == ["allow", "deny", "deny"]
    adults = check(engine.rulebook, reg({"id": "x", "name": "X", "kind": "processor", **r}), "x",
                   Dataset("adults", ("NL",), children=False), DAY)
    assert adults.effect == "allow"


def test_unknown_recipient_and_jurisdiction_are_clear_errors(engine: Engine) -> None:
    gate = TransferGate(engine.rulebook, reg({"id": "x", "name": "Same", "kind": "processor", "country": "IN"},
                                            {"id": "y", "name": "Same", "kind": "processor", "country": "JP"}))
    with pytest.raises(UnknownKeyError, match="unknown recipient `nobody`") as e:
        gate.check("nobody", subject={"jurisdiction": "NL"})
    assert e.value.where == "recipient" and "tutela transfers list" in (e.value.hint or "")
    with pytest.raises(InputError, match="ambiguous"):
        gate.check("Same", subject={"jurisdiction": "NL"})
    with pytest.raises(UnknownKeyError, match="unknown jurisdiction `XX`"):
        gate.check("x", subject={"jurisdiction": "XX"})
    with pytest.raises(InputError, match="exactly one"):
        gate.check("x")
    with pytest.raises(InputError) as e2:
        gate.check("x", subject={"jurisdiction": "NL", "age": -1})
    assert e2.value.where == "subject.age"
    with pytest.raises(InputError) as e3:
        gate.check("x", dataset={"name": "d", "jurisdictions": ["NL", "XX"]})
    assert e3.value.where == "dataset.jurisdictions[1]"


def test_the_gate_agrees_with_the_decision_engine(engine: Engine) -> None:
    """For an adult (no TIA review) the gate denies exactly when the engine's transfer rule does."""
    from tutela.clipstream import vocab

    for name, kind, country, dpf, scc, tia, _ in vocab.PROCESSORS:
        for jur in ("NL", "PL", "GB", "US", "FR"):
            g = one(engine, {"name": name, "kind": kind, "country": country, "dpf_certified": dpf,
                             "scc_module": scc, "tia_date": tia}, who=Subject(jur, 30))
            d = engine.decide({"subject": {"jurisdiction": jur, "age": 30},
                               "act": {"category": "user.behavior.media_consumption", "use": "essential.service",
                                       "recipient": kind, "destination": country, "recipient_certified": dpf,
                                       "safeguards": [s for s, on in (("scc", scc), ("tia", tia)) if on],
                                       "at": DAY.isoformat()}})
            transfer_rules = {r.id for r in d.determining if r.id.endswith("art44-46")}
            assert (g.effect == "deny") == bool(transfer_rules), (name, jur)
            assert set(g.rules) == transfer_rules or g.allowed
            assert g.destination_class == d.destination_class


BAD = [
    ("recipients: []\nversion: 1\n", "recipients", "at least 1"),
    ("version: 1\nrecipients:\n  - {id: a, name: A, kind: vendor, country: IN}\n", "recipients[0] (a): kind",
     "processor, third_party"),
    ("version: 1\nrecipients:\n  - {id: a, name: A, kind: processor, country: India}\n", "recipients[0] (a): country",
     "alpha-2"),
    ("version: 1\nrecipients:\n  - {id: a, name: A, kind: processor, country: IN}\n"
     "  - {id: b, name: B, kind: processor, country: IN, tia_date: 2024-13-01}\n", "recipients[1] (b): tia_date",
     "YYYY-MM-DD"),
    ("version: 1\nrecipients:\n  - {id: a, name: A, kind: processor, country: IN, scc: yes}\n",
     "recipients[0] (a): scc", None),
    ("version: 1\nrecipients:\n  - {id: a, name: A, kind: processor, country: IN, scc_module: C9C}\n",
     "recipients[0] (a): scc_module", "C2C"),
    ("version: 1\nrecipients:\n  - {id: a, name: A, kind: processor, country: IN, scc_signed: 2024-01-01}\n",
     "recipients[0] (a)", None),
    ("version: 1\nrecipients:\n  - {id: a, name: A, kind: processor, country: IN}\n"
     "  - {id: a, name: B, kind: processor, country: JP}\n", "recipients[1].id", "first at recipients[0]"),
    ("version: 2\nrecipients:\n  - {id: a, name: A, kind: processor, country: IN}\n", "version", None),
    ("- just a list\n", "", None),
    ("version: 1\nrecipients: [\n", "", None),
]


@pytest.mark.parametrize("text, where, hint", BAD)
def test_malformed_registry_files_name_the_entry_and_field(tmp_path: Path, text: str, where: str,
                                                           hint: str | None) -> None:
    from tutela.transfers import load_registry

    path = tmp_path / "recipients.yml"
    path.write_text(text, "utf-8")
    with pytest.raises(InputError) as e:
        load_registry(path)
    assert e.value.where is not None and e.value.where.startswith(str(path))
    assert where in e.value.where
    if hint:
        assert hint in f"{e.value.message} {e.value.hint}"
    with pytest.raises(InputError, match="cannot read"):
        load_registry(tmp_path / "missing.yml")


def test_the_estate_processors_table_is_a_registry(tmp_path: Path) -> None:
    from tutela.clipstream import generate, vocab
    from tutela.transfers import open_registry

    url = f"sqlite:///{tmp_path / 'cs.db'}"
    generate(url, accounts=200, seed=7, media_files=0)
    r = open_registry(estate=url)
    assert [x.name for x in r] == [p[0] for p in vocab.PROCESSORS]
    assert r.get("Bengaluru Trust and Safety").tia_date == dt.date(2024, 9, 16)
    assert r.get("7").scc_module == "C2P" and r.source.endswith("cs.db processors")
    # the facts the audit joins: what it used to read from the processors table itself
    facts = r.audit_facts().to_pylist()
    assert facts == [{"id": str(i + 1), "recipient": p[1], "destination": p[2], "certified": p[3],
                      "scc": p[4] is not None, "tia": p[5] is not None} for i, p in enumerate(vocab.PROCESSORS)]


def test_a_bad_processors_row_is_named() -> None:
    from tutela.datamap.models import ProcessorsDecl
    from tutela.transfers import registry_from_processors

    decl = ProcessorsDecl(collection="processors", key="processor_id", kind="kind", country="country",
                          certified="dpf_certified", scc="scc_module", tia="tia_date")
    table = pa.table({"processor_id": [1, 2], "kind": ["processor", "broker"], "country": ["IN", "IN"],
                      "dpf_certified": [False, False], "scc_module": [None, None],
                      "tia_date": pa.array([None, None], pa.date32())})
    with pytest.raises(InputError) as e:
        registry_from_processors(table, decl, "estate processors")
    assert e.value.where == "estate processors[1].kind"


def test_audit_transfer_findings_through_the_registry_match_the_ground_truth(engine: Engine, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tutela.clipstream import AS_OF, generate
    from tutela.clipstream.truth import load as load_truth

    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'cs.db'}"
    generate(url, accounts=800, seed=11, media_files=0)
    rules = ("EU-GDPR.art44-46", "UK-GDPR.art44-46")
    truth = {t["rule"]: (t["subjects"], t["rows"]) for t in load_truth(url) if t["rule"] in rules}
    found = {f.rule: (f.subjects, f.rows) for f in engine.audit(url, as_of=AS_OF) if f.rule in rules}
    assert truth and found == truth


def test_notice_lists_every_third_country_with_its_basis(engine: Engine) -> None:
    gate = TransferGate(engine.rulebook, reg(
        {"id": "a", "name": "A", "kind": "processor", "country": "DE"},
        {"id": "b", "name": "B", "kind": "processor", "country": "JP"},
        {"id": "c", "name": "C", "kind": "remote_staff", "country": "CN", "scc_module": "C2C",
         "tia_date": "2026-01-10"},
        {"id": "d", "name": "D", "kind": "processor", "country": "IN"}))
    notice = gate.notice(on=DAY)
    assert notice.codes == ["CN", "IN", "JP"]  # DE is inside the area: not a transfer
    by = {c["country"]: c for c in notice.to_dict()["countries"]}
    assert by["CN"]["remote_access"] and by["CN"]["safeguards"] == ["standard contractual clauses (module C2C)"]
    assert by["JP"]["adequacy_decision"]["effective_from"] == "2019-01-23"
    assert by["IN"]["lawful"] is False and by["CN"]["lawful"] is True
    assert "Art. 13(1)(f)" in notice.to_dict()["citation"]["section"]
    assert gate.notice(on=DAY, jurisdiction="GB").regime == "UK-GDPR"
    with pytest.raises(InputError, match="not a transfer regime"):
        gate.status(DAY, regime="US-COPPA")
    with pytest.raises(InputError, match="no cross-border transfer regime"):
        gate.status(DAY, jurisdiction="US")


def test_every_gate_citation_is_complete() -> None:
    from tutela.transfers.registry import gate_law

    law = gate_law()
    assert set(law.regimes) == {"EU-GDPR", "UK-GDPR"}
    for regime in law.regimes.values():
        for name in type(regime).model_fields:
            basis = getattr(regime, name)
            if basis is not None:
                assert basis.instrument and basis.section and basis.url.startswith("https://") and basis.effective_from


def test_the_gate_law_and_the_rulebook_name_the_same_regimes(engine: Engine) -> None:
    from tutela.transfers.registry import gate_law

    with_transfers = {c for c, r in engine.rulebook.regimes.items() if r.transfers is not None}
    assert set(gate_law().regimes) == with_transfers  # every transfer regime has its mechanisms cited
    for code in with_transfers:  # and a rule the gate reads, lifted by the safeguards it knows
        rules = [r for r in engine.rulebook.regimes[code].rules if r.when.destination != "any"]
        assert rules and all(r.unless is not None and set(r.unless.safeguards) <= {"scc", "tia"} for r in rules)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipients.yml"
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


REGISTRY = """\
    version: 1
    recipients:
      - {id: bengaluru-ts, name: Bengaluru Trust and Safety, kind: processor, country: IN, scc_module: C2P,
         tia_date: 2024-09-16}
      - {id: shibuya, name: Shibuya Render Farm, kind: processor, country: JP}
      - {id: staff-cn, name: Support engineers (Shanghai), kind: remote_staff, country: CN}
    """


def test_cli_check_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from cli_inprocess import run_cli

    path = str(_write(tmp_path, REGISTRY))
    code, out, _ = run_cli(capsys, monkeypatch, "transfers", "check", "--recipient", "shibuya",
                           "--subject-jurisdiction", "NL", "--registry", path, "--on", "2026-03-01")
    assert code == 0 and "allow" in out and "2019/419" in out
    code, out, _ = run_cli(capsys, monkeypatch, "transfers", "check", "--recipient", "bengaluru-ts",
                           "--subject-jurisdiction", "NL", "--age", "12", "--registry", path, "--on", "2026-03-01",
                           "--format", "json")
    body = json.loads(out)
    assert code == 2 and body["effect"] == "deny" and body["missing"] == ["tia", "tia_review"]
    code, out, _ = run_cli(capsys, monkeypatch, "transfers", "check", "--recipient", "bengaluru-ts",
                           "--subject-jurisdiction", "NL", "--age", "40", "--registry", path, "--on", "2026-03-01")
    assert code == 0
    code, out, err = run_cli(capsys, monkeypatch, "transfers", "check", "--recipient", "nope",
                             "--subject-jurisdiction", "NL", "--registry", path)
    assert code == 3 and "unknown recipient `nope`" in err and "Traceback" not in err
    code, out, _ = run_cli(capsys, monkeypatch, "transfers", "check", "--recipient", "shibuya",
                           "--subject-jurisdiction", "NL", "--registry", path, "--on", "2026-13-01")
    assert code == 3
    monkeypatch.setenv("TUTELA_TRANSFER_REGISTRY", path)  # the default registry
    code, out, _ = run_cli(capsys, monkeypatch, "transfers", "list", "--on", "2026-03-01", "--format", "json")
    listing = json.loads(out)
    assert code == 0 and [r["effect"] for r in listing["recipients"]] == ["deny", "allow", "deny"]
    assert [c["country"] for c in listing["notice"]["countries"]] == ["CN", "IN", "JP"]
    code, out, _ = run_cli(capsys, monkeypatch, "transfers", "list", "--on", "2026-03-01")
    assert code == 0 and "Art. 13(1)(f)" in out and "staff-cn" in out
    monkeypatch.delenv("TUTELA_TRANSFER_REGISTRY")
    code, _, err = run_cli(capsys, monkeypatch, "transfers", "list")
    assert code == 3 and "no recipient registry" in err and "TUTELA_TRANSFER_REGISTRY" in err
    bad = _write(tmp_path, "version: 1\nrecipients:\n  - {id: a, name: A, kind: vendor, country: IN}\n")
    code, _, err = run_cli(capsys, monkeypatch, "transfers", "list", "--registry", str(bad))
    assert code == 3 and "recipients[0] (a): kind" in err


def test_cli_reads_an_estate(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from cli_inprocess import run_cli
    from tutela.clipstream import generate

    url = f"sqlite:///{tmp_path / 'cs.db'}"
    generate(url, accounts=100, seed=3, media_files=0)
    code, out, _ = run_cli(capsys, monkeypatch, "transfers", "check", "--recipient", "Mumbai Moderation Services",
                           "--subject-jurisdiction", "PL", "--estate", url, "--on", "2026-03-01", "--format", "json")
    assert code == 2 and json.loads(out)["rules"] == ["EU-GDPR.art44-46"]
    code, out, _ = run_cli(capsys, monkeypatch, "transfers", "list", "--estate", url, "--format", "json")
    countries = {c["country"] for c in json.loads(out)["notice"]["countries"]}
    assert code == 0 and countries == {"IN", "CN", "US", "JP", "BR"}


def test_api_check_and_list(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from tutela.api import create_app

    monkeypatch.setenv("TUTELA_TRANSFER_REGISTRY", str(_write(tmp_path, REGISTRY)))
    client = TestClient(create_app(engine))
    r = client.post("/v1/transfers/check", json={"recipient": "staff-cn", "subject": {"jurisdiction": "IE", "age": 14},
                                                 "on": "2026-03-01"})
    assert r.status_code == 200
    body = r.json()
    assert body["effect"] == "deny" and body["remote_access"] and body["missing"] == ["scc", "tia"]
    assert any("TikTok" in c["instrument"] for c in body["citations"])
    r = client.post("/v1/transfers/check", json={"recipient": "shibuya",
                                                 "dataset": {"name": "uploads", "jurisdictions": ["NL", "GB"]}})
    assert r.status_code == 200 and r.json()["effect"] == "allow" and len(r.json()["checks"]) == 2
    r = client.post("/v1/transfers/check", json={"recipient": "ghost", "subject": {"jurisdiction": "NL"}})
    assert r.status_code == 422 and r.json()["where"] == "recipient"
    r = client.post("/v1/transfers/check", json={"recipient": "shibuya"})
    assert r.status_code == 422 and "exactly one" in r.json()["message"]
    r = client.post("/v1/transfers/check", json={"recipient": "shibuya", "subject": {"jurisdiction": "NL", "x": 1}})
    assert r.status_code == 422
    r = client.get("/v1/transfers", params={"on": "2026-03-01", "jurisdiction": "GB"})
    assert r.status_code == 200 and r.json()["regime"] == "UK-GDPR"
    assert [c["country"] for c in r.json()["notice"]["countries"]] == ["CN", "IN", "JP"]
    r = client.get("/v1/transfers", params={"regime": "NOPE"})
    assert r.status_code == 422 and r.json()["where"] == "regime"
    monkeypatch.delenv("TUTELA_TRANSFER_REGISTRY")
    r = client.get("/v1/transfers")
    assert r.status_code == 422 and "no recipient registry" in r.json()["message"]


def test_api_reads_the_served_estate_when_no_registry_is_set(engine: Engine, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from tutela.api import create_app
    from tutela.clipstream import generate, vocab
    from tutela.models import EstateConfig

    monkeypatch.delenv("TUTELA_TRANSFER_REGISTRY", raising=False)
    url = f"sqlite:///{tmp_path / 'cs.db'}"
    generate(url, accounts=100, seed=5, media_files=0)
    client = TestClient(create_app(engine, estate=EstateConfig(url)))
    r = client.get("/v1/transfers", params={"on": "2026-03-01"})
    assert r.status_code == 200 and len(r.json()["recipients"]) == len(vocab.PROCESSORS)
    r = client.post("/v1/transfers/check", json={"recipient": "Paulista CDN", "subject": {"jurisdiction": "PT"},
                                                 "on": "2026-03-01"})
    assert r.status_code == 200 and r.json()["mechanism"] == "adequacy"  # Brazil, Decision (EU) 2026/179
