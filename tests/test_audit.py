"""The audit on a hand-built estate with findings worked out by hand, on every backend."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from estate_fixture import EXPECTED, UNVERIFIED_PARENT, server_database, write_parquet, write_sql
from tutela.engine import Engine
from tutela.errors import InputError, StoreUnavailable

AS_OF = dt.date(2026, 11, 1)


def counts(findings: list) -> dict[str, tuple[int, int]]:
    return {f.rule: (f.subjects, f.rows) for f in findings}


def unverified(findings: list) -> dict[str, int]:
    return {f.rule: f.unverified_parent for f in findings if f.unverified_parent}


def test_sqlite(engine: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    write_sql(url)
    findings = engine.audit(url, as_of=AS_OF)
    assert counts(findings) == EXPECTED
    dsa = next(f for f in findings if f.rule == "EU-DSA.art28-2")
    assert dsa.age_from_signal == 1 and dsa.countries == {"IT": 1} and dsa.examples == [2]
    assert dsa.url.startswith("https://eur-lex.europa.eu/")
    assert unverified(findings) == UNVERIFIED_PARENT
    kept = next(f for f in findings if f.rule == "EU-GDPR.art5-1-e")
    assert (kept.examples, kept.collections, kept.children) == ([5], {"location_pings": 2}, 1)
    assert kept.categories == {"user.location.precise": 1} and kept.severity == "high"
    coppa = next(f for f in findings if f.rule == "US-COPPA.312-10.retention")
    assert coppa.countries == {"US": 1} and coppa.url.startswith("https://www.ecfr.gov/")


def test_parquet(engine: Engine, tmp_path: Path) -> None:
    write_parquet(tmp_path / "lake")
    findings = engine.audit(f"parquet://{tmp_path / 'lake'}", as_of=AS_OF)
    assert counts(findings) == EXPECTED and unverified(findings) == UNVERIFIED_PARENT


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_servers(engine: Engine, kind: str) -> None:
    with server_database(kind) as url:
        write_sql(url)
        findings = engine.audit(url, as_of=AS_OF)
        assert counts(findings) == EXPECTED and unverified(findings) == UNVERIFIED_PARENT


def test_estate_not_matching_its_data_map(engine: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    write_sql(url)
    with sa.create_engine(url).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE location_pings DROP COLUMN lat")
    with pytest.raises(InputError, match=r"`location_pings\.lat` missing"):
        engine.audit(url, as_of=AS_OF)
    with sa.create_engine(url).begin() as conn:
        conn.exec_driver_sql("DROP TABLE consents")
    with pytest.raises(InputError, match="table `consents` is missing"):
        engine.audit(url, as_of=AS_OF)


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite:////nonexistent/e.db", "not found"),
    ("postgresql+psycopg://postgres@127.0.0.1:1/x", "cannot open the estate database"),
    ("ftp://x", "unsupported estate URL scheme"),
])
def test_bad_estates(engine: Engine, url: str, message: str) -> None:
    """Bad input is an InputError; a server that does not answer is StoreUnavailable (exit 4)."""
    expected = StoreUnavailable if "127.0.0.1:1" in url else InputError
    with pytest.raises(expected, match=message):
        engine.audit(url, as_of=AS_OF)


def test_cli_json_report_and_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    write_sql(url)
    report = tmp_path / "report.html"
    out = subprocess.run([sys.executable, "-m", "tutela", "audit", "--estate", url, "--as-of", "2026-11-01",
                          "--format", "json", "--report", str(report)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = {f["rule"]: (f["subjects"], f["rows"]) for f in json.loads(out.stdout)}
    assert got == EXPECTED
    assert {f["rule"]: f["unverified_parent"] for f in json.loads(out.stdout) if f["unverified_parent"]} == (
        UNVERIFIED_PARENT)
    html = report.read_text()
    assert "EU-GDPR.art44-46" in html and 'href="https://eur-lex.europa.eu/eli/reg/2016/679/oj"' in html
    assert "Unverified parent" in html and 'id="n-unverified"' in html
    assert "<svg" in html and "<script" not in html  # self-contained
    table = subprocess.run([sys.executable, "-m", "tutela", "audit", "--estate", url, "--as-of", "2026-11-01"],
                           capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "250"})
    assert table.returncode == 0, table.stderr
    header = next(line for line in table.stdout.splitlines() if "severity" in line)
    assert "unverified parent" in header
    eprivacy = next(line for line in table.stdout.splitlines() if "EU-EPRIVACY.art5-3.location" in line)
    assert [c.strip() for c in eprivacy.split("│")][4:9] == ["3", "3", "13", "1", "1"]  # signal: 2; unverified: 6
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all")
    bad = subprocess.run([sys.executable, "-m", "tutela", "audit", "--estate", f"sqlite:///{junk}",
                          "--report", str(tmp_path / "r2.html")], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 3 and "not a SQLite database" in bad.stderr
    assert not (tmp_path / "r2.html").exists()  # nothing written


def test_spark_gives_identical_findings(engine: Engine, tmp_path: Path) -> None:
    """The same Ibis expressions on PySpark (local mode) as on DuckDB."""
    write_parquet(tmp_path / "lake")
    url = f"parquet://{tmp_path / 'lake'}"
    spark = engine.audit(url, as_of=AS_OF, engine="spark")
    duck = engine.audit(url, as_of=AS_OF)
    assert counts(spark) == counts(duck) == EXPECTED
    assert [f.to_dict() for f in spark] == [f.to_dict() for f in duck]


def test_a_read_only_audit_writes_nothing_to_the_home_folder(engine: Engine, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from tutela.clipstream import generate

    home = tmp_path / "fresh-home"
    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "gen-home"))
    url = f"sqlite:///{tmp_path / 'ro.db'}"
    generate(url, 60, seed=2)
    monkeypatch.setenv("TUTELA_HOME", str(home))
    assert engine.audit(url, as_of=dt.date(2026, 11, 1)), "the estate should have findings"
    assert engine.audit(url, as_of=dt.date(2026, 11, 1), include_remediated=True)
    assert not home.exists()  # no state store, no folder: an audit only reads


def test_children_and_subjects_are_distinct_over_rules(engine: Engine, tmp_path: Path) -> None:
    """Worked by hand from the fixture: subjects 1, 2, 3, 5, 6, 7 are breached (ten times over the
    rules); all but 3 (an adult) are children (nine times over the rules)."""
    url = f"sqlite:///{tmp_path / 'e.db'}"
    write_sql(url)
    findings = engine.audit(url, as_of=AS_OF)
    assert sum(f.subjects for f in findings) == 10 and sum(f.children for f in findings) == 9
    assert findings.distinct["all"] == {"subjects": 6, "children": 5}
    html = engine.report_html(findings, url, AS_OF)
    assert '<b id="n-children">5</b>children affected (distinct)' in html
    assert '<b id="n-subjects">6</b>subjects affected (distinct)' in html
