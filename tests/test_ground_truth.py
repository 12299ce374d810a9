"""The audit finds every planted violation with exact counts, on every backend, and nothing
on a lawful estate. The ground truth comes from the generator's own records."""

from __future__ import annotations

from pathlib import Path

import pytest

from estate_fixture import server_database
from tutela.clipstream import AS_OF, generate
from tutela.clipstream.truth import load as load_truth
from tutela.engine import Engine

RETENTION = ("EU-GDPR.art5-1-e", "UK-GDPR.art5-1-e", "US-COPPA.312-10.retention")


def counts(rows: list) -> dict[str, tuple[int, int, int]]:
    """Per rule: subjects, rows, subjects whose unverified parental consent would have sufficed."""
    return {r["rule"]: (r["subjects"], r["rows"], r["unverified_parent"]) for r in rows}


def audit_counts(engine: Engine, url: str, backend: str = "duckdb") -> dict[str, tuple[int, int, int]]:
    findings = engine.audit(url, as_of=AS_OF, engine="spark" if backend == "spark" else "duckdb")
    return {f.rule: (f.subjects, f.rows, f.unverified_parent) for f in findings}


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))


def test_sqlite_exact_counts(engine: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cs.db'}"
    generate(url, accounts=1500, seed=7, media_files=0)
    truth = counts(load_truth(url))
    assert len(truth) >= 15  # a realistic mix of violations across regimes
    for rule in ("EU-DSA.art28-2", "EU-EPRIVACY.art5-3.location", "EU-GDPR.art25-2", "EU-GDPR.art44-46",
                 "US-COPPA.312-5-a-1", "US-IL-BIPA.15-b", "EU-GDPR.art5-1-e", "US-COPPA.312-10.retention"):
        assert rule in truth
    # consent from unverified "parents" is planted: some breaches would be cured by verifying them
    assert truth["EU-GDPR.art6-1-a.personalisation"][2] > 0 and truth["US-COPPA.312-5-a-1"][2] > 0
    assert all(truth[r][2] == 0 for r in RETENTION if r in truth)  # retention findings: lawful processing
    assert audit_counts(engine, url) == truth


def test_parquet_and_spark(engine: Engine, tmp_path: Path) -> None:
    url = f"parquet://{tmp_path / 'lake'}"
    generate(url, accounts=600, seed=3, media_files=0)
    truth = counts(load_truth(url))
    assert audit_counts(engine, url) == truth
    assert audit_counts(engine, url, backend="spark") == truth


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_servers(engine: Engine, kind: str) -> None:
    with server_database(kind) as url:
        generate(url, accounts=500, seed=5, media_files=0)
        assert audit_counts(engine, url) == counts(load_truth(url))


def test_lawful_estate_has_no_findings(engine: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lawful.db'}"
    generate(url, accounts=800, seed=9, lawful=True, media_files=0)
    assert load_truth(url) == []
    assert audit_counts(engine, url) == {}


def test_signals_override_declared_birth_dates(engine: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cs.db'}"
    generate(url, accounts=1500, seed=7, media_files=0)
    findings = engine.audit(url, as_of=AS_OF)
    assert sum(f.age_from_signal for f in findings) > 0  # children found only through what they wrote
    truth = {r["rule"]: r.get("subjects_age_from_signal") for r in load_truth(url)}
    for f in findings:
        if truth.get(f.rule) is not None:
            assert f.age_from_signal == truth[f.rule], f.rule
