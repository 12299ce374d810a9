"""The CLI as a user runs it: real subprocesses, exit codes and JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ALLOWED = {"subject": {"jurisdiction": "PT", "age": 13, "grants": [{"scopes": ["personalization"], "by": "self"}]},
           "act": {"category": "user.behavior.media_consumption", "use": "personalize.content.profiled",
                   "at": "2026-12-01"}}
DENIED = {"subject": {"jurisdiction": "IT", "age": 13, "grants": [{"scopes": ["personalization"], "by": "self"}]},
          "act": {"category": "user.behavior.media_consumption", "use": "personalize.content.profiled",
                  "at": "2026-12-01"}}


def tutela(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tutela", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_rules_list_json_has_every_jurisdiction() -> None:
    out = tutela("rules", "list", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert len(rows) >= 45
    nl = next(r for r in rows if r["code"] == "NL")
    assert nl["regimes"] == ["EU-GDPR", "EU-EPRIVACY", "EU-DSA"]
    assert nl["rules"] == 13 and set(nl) >= {"code", "regimes", "rules"}


def test_rules_show_and_check() -> None:
    out = tutela("rules", "show", "NL", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["digital_consent"][0]["age"] == 16
    assert all(r["citation"]["url"].startswith("https://") for r in data["rules"])
    check = tutela("rules", "check", "--format", "json")
    assert check.returncode == 0 and json.loads(check.stdout)["jurisdictions"] >= 45
    bad = tutela("rules", "show", "ZZ")
    assert bad.returncode == 3 and "unknown jurisdiction `ZZ`" in bad.stderr


def test_rules_check_fails_on_a_broken_rulebook(tmp_path: Path) -> None:
    import shutil
    from importlib import resources

    src = resources.files("tutela.data.rulebook")
    dst = tmp_path / "book"
    shutil.copytree(str(src), dst)
    nl = dst / "jurisdictions" / "NL.yaml"
    nl.write_text(nl.read_text().replace("    age: 16", "    age: sixteen"))
    out = tutela("rules", "check", "--path", str(dst))
    assert out.returncode == 1
    assert "jurisdictions/NL.yaml" in out.stderr and "NL-GDPR.art8" in out.stderr and "age" in out.stderr


def test_rules_check_finds_what_the_files_say_about_each_other(tmp_path: Path) -> None:
    """Each cross-file problem fires: a deadline for an unknown code, a repair with an unknown
    key, an enforced rule citing http, an unverified rule without a note."""
    import shutil
    from importlib import resources

    data = resources.files("tutela.data")
    deadlines, repairs = tmp_path / "deadlines.yaml", tmp_path / "remediation.yaml"
    deadlines.write_text(data.joinpath("deadlines.yaml").read_text().replace("applies_to: [US-CA]",
                                                                            "applies_to: [US-CAL]"))
    repairs.write_text(data.joinpath("remediation.yaml").read_text().replace(
        "categories: [user.location.precise]", "categories: [user.location.exact]").replace(
        "uses: [publish]", "uses: [publsh]"))
    book = tmp_path / "book"
    shutil.copytree(str(data.joinpath("rulebook")), book)
    nl = book / "jurisdictions" / "NL.yaml"
    text = nl.read_text()
    assert 'url: "https://' in text
    nl.write_text(text.replace('url: "https://', 'url: "http://', 1))
    out = tutela("rules", "check", "--path", str(book), "--deadlines", str(deadlines), "--remediation", str(repairs),
                 "--format", "json")
    assert out.returncode == 1, out.stderr
    found = {(p["where"].split(": ")[0], p["message"]) for p in json.loads(out.stdout)["problems"]}
    assert ("deadlines.yaml", "`US-CAL` is no regime or jurisdiction of the rulebook") in found
    assert ("remediation.yaml", "unknown data category `user.location.exact`") in found
    assert ("remediation.yaml", "unknown data use `publsh`") in found
    assert any(w == "NL" and "https" in m for w, m in found), found
    assert not json.loads(out.stdout)["ok"]
    table = tutela("rules", "check", "--deadlines", str(deadlines))
    assert table.returncode == 1 and "US-CAL" in table.stdout and "problem" in table.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("repairs: [{repair: burn}]")
    bad = tutela("rules", "check", "--remediation", str(broken), "--format", "json")
    assert bad.returncode == 1 and "broken.yaml: repairs.0.repair" in bad.stdout
    age = tmp_path / "age_assurance.yaml"
    text = data.joinpath("age_assurance.yaml").read_text()
    assert "applies_to: [BR]" in text
    age.write_text(text.replace("applies_to: [BR]", "applies_to: [BZ]", 1))
    out = tutela("rules", "check", "--age", str(age), "--format", "json")
    assert out.returncode == 1 and "unknown jurisdiction or regime `BZ`" in out.stdout, out.stdout


def test_rules_diff_reports_what_changed() -> None:
    out = tutela("rules", "diff", "--from", "2025-01-01", "--to", "2026-06-01", "--format", "json")
    assert out.returncode == 0, out.stderr
    ids = {(c["id"], c["change"]) for c in json.loads(out.stdout)}
    assert ("US-COPPA.312-5-a-2", "starts") in ids
    assert ("US-CA-CCPA.1798-120-c.under13", "starts") not in ids  # in force since 2023
    assert ("EU-GDPR.adequacy.BR", "starts") in ids
    assert ("BR-ECADIGITAL.profiling-ads", "starts") in ids
    bad = tutela("rules", "diff", "--from", "2025-13-01", "--to", "2026-01-01")
    assert bad.returncode == 3 and "--from" in bad.stderr


@pytest.mark.parametrize(("request_", "code", "effect"), [(ALLOWED, 0, "allow_with_obligations"), (DENIED, 2, "deny")])
def test_decide_exit_codes(request_: dict, code: int, effect: str) -> None:
    out = tutela("decide", stdin=json.dumps(request_))
    assert out.returncode == code, out.stderr
    assert json.loads(out.stdout)["effect"] == effect


def test_decide_from_file_and_lists(tmp_path: Path) -> None:
    f = tmp_path / "reqs.json"
    f.write_text(json.dumps([ALLOWED, DENIED]))
    out = tutela("decide", str(f))
    assert out.returncode == 2
    assert [d["effect"] for d in json.loads(out.stdout)] == ["allow_with_obligations", "deny"]
    ref = tutela("decide", "--reference", str(f))
    assert json.loads(ref.stdout) == json.loads(out.stdout)


@pytest.mark.parametrize(("stdin", "where"), [
    ("{not json", "stdin"),
    (json.dumps({"subject": {"jurisdiction": "XX", "age": 9}, "act": ALLOWED["act"]}), "subject.jurisdiction"),
    (json.dumps({"subject": {"jurisdiction": "NL", "age": 9}, "act": {**ALLOWED["act"], "use": "nope"}}),
     "act.use"),
    (json.dumps({"subject": {"jurisdiction": "NL", "birth_date": "2030-01-01"}, "act": ALLOWED["act"]}),
     "subject.birth_date"),
    (json.dumps({"subject": {"jurisdiction": "NL", "age": 400}, "act": ALLOWED["act"]}), "subject.age"),
])
def test_decide_bad_input_exit_3_and_names_field(stdin: str, where: str) -> None:
    out = tutela("decide", stdin=stdin)
    assert out.returncode == 3
    assert where in out.stderr and "Traceback" not in out.stderr
    js = tutela("decide", "--format", "json", stdin=stdin)
    assert js.returncode == 3 and json.loads(js.stdout)["where"].startswith(where)


def test_demo_generates_audits_and_reports_without_serving(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "TUTELA_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-m", "tutela", "demo", "--no-serve", "--accounts", "400",
                          "--out", str(tmp_path / "out"), "--format", "json"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (tmp_path / "out" / "clipstream.db").is_file()
    report = Path(data["report"]).read_text()
    assert data["findings"] and all(f["rule"] in report for f in data["findings"])
    assert data["tables"]["accounts"] == 400
    first = data["decisions"][0]["decision"]
    assert first["effect"] == "deny"
    assert "EU-EPRIVACY.art5-3.location" in [d["id"] for d in first["determining"]]
    assert all(d["url"].startswith("http") for c in data["decisions"] for d in c["decision"]["determining"])


def test_exit_codes_are_distinct(tmp_path: Path) -> None:
    """0 ok/allowed, 1 a check found problems, 2 denied, 3 bad input (usage errors included),
    4 a store unavailable — the mapping docs/reference.md states."""
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"subject": {"jurisdiction": "NL", "age": 12},
                               "act": {"category": "user.location.precise", "use": "marketing.advertising"}}))
    assert tutela("decide", str(req)).returncode == 2
    adult = json.loads(req.read_text())
    adult["subject"]["age"] = 30
    adult["act"] = {"category": "user.contact.email", "use": "essential.service"}
    req.write_text(json.dumps(adult))
    assert tutela("decide", str(req)).returncode == 0
    usage = tutela("decide", "--no-such-option")
    assert usage.returncode == 3 and "No such option" in usage.stderr
    assert tutela("rules", "show").returncode == 3  # a missing argument
    down = tutela("audit", "--estate", "postgresql+psycopg://postgres@127.0.0.1:1/x")
    assert down.returncode == 4 and "cannot open the estate database" in down.stderr and "Traceback" not in down.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("repairs: [{repair: burn}]")
    assert tutela("rules", "check", "--remediation", str(broken)).returncode == 1


def test_help_loads_no_capability() -> None:
    """`tutela --help` stays fast by construction (bench/startup.py times it): importing the CLI
    loads none of the heavy libraries or capabilities; each loads when its command runs."""
    heavy = ["presidio_analyzer", "spacy", "ibis", "duckdb", "numba", "pyspark", "sqlalchemy", "pyarrow", "nats",
             "jwt", "tutela.audit", "tutela.repair", "tutela.rights", "tutela.age", "tutela.guard", "tutela.ledger",
             "tutela.connectors", "tutela.policy.compiled"]
    code = f"import sys, tutela.cli; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "", f"loaded at import: {out.stdout}"
