"""The CLI a newcomer meets: the taxonomy, --version, decisions for people, hints for the usual
mistakes (country names, date formats, plain paths) in the CLI and the API alike."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import tutela
from cli_inprocess import run_cli
from tutela.api import create_app
from tutela.engine import Engine
from tutela.errors import UnknownKeyError
from tutela.taxonomy import load_taxonomy

Cap = pytest.CaptureFixture[str]
MP = pytest.MonkeyPatch
REQ = {"subject": {"jurisdiction": "IT", "age": 13, "grants": [{"scopes": ["personalization"], "by": "self"}]},
       "act": {"category": "user.behavior.media_consumption", "use": "personalize.content.profiled",
               "at": "2026-12-01"}}


def with_subject(**subject: object) -> dict[str, object]:
    return {"subject": {**REQ["subject"], **subject}, "act": REQ["act"]}  # type: ignore[dict-item]  # REQ is a literal of nested dicts; mypy infers object


def write(tmp_path: Path, body: object) -> str:
    path = tmp_path / "req.json"
    path.write_text(json.dumps(body), "utf-8")
    return str(path)


def test_taxonomy_lists_every_key_of_the_three_trees(capsys: Cap, monkeypatch: MP) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, "taxonomy", "--format", "json")
    rows = json.loads(out)
    tax = load_taxonomy()
    assert code == 0
    assert {(r["kind"], r["key"]) for r in rows} == {
        (tree.kind, k) for tree in (tax.categories, tax.uses, tax.subjects) for k in tree.keys}
    keys = {r["key"] for r in rows}
    assert {"user.location.precise", "publish.public", "customer", "child"} <= keys
    code, out, _ = run_cli(capsys, monkeypatch, "taxonomy", "--kind", "subject")
    assert code == 0 and "Anonymous User" in out and "user.location" not in out


def test_taxonomy_search_matches_every_word_in_key_name_or_description(capsys: Cap, monkeypatch: MP) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, "taxonomy", "search", "email", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and "user.contact.email" in {r["key"] for r in rows}
    code, out, _ = run_cli(capsys, monkeypatch, "taxonomy", "search", "SENSORS less", "--format", "json")
    assert [r["key"] for r in json.loads(out)] == ["user.location.precise"]  # "less than 500M"
    code, out, _ = run_cli(capsys, monkeypatch, "taxonomy", "search", "advertising", "--kind", "use",
                           "--format", "json")
    rows = json.loads(out)
    assert rows and all(r["kind"] == "data_use" for r in rows)
    assert "marketing.advertising.third_party.targeted" in {r["key"] for r in rows}
    code, out, _ = run_cli(capsys, monkeypatch, "taxonomy", "search", "zzzz-nothing")
    assert code == 0 and "nothing matches" in out


def test_an_unknown_key_points_at_the_taxonomy_command_which_finds_it(engine: Engine, capsys: Cap,
                                                                      monkeypatch: MP, tmp_path: Path) -> None:
    bad = {"subject": REQ["subject"], "act": {**REQ["act"], "category": "user.behaviour"}}  # type: ignore[dict-item]  # REQ is a literal of nested dicts; mypy infers object
    code, out, _ = run_cli(capsys, monkeypatch, "decide", write(tmp_path, bad), "--format", "json")
    err = json.loads(out)
    assert code == 3 and err["where"] == "act.category"
    assert "['user.behavior']" in err["hint"] and "`tutela taxonomy search WORD`" in err["hint"]
    code, out, _ = run_cli(capsys, monkeypatch, "taxonomy", "search", "behavior", "--format", "json")
    assert code == 0 and "user.behavior" in {r["key"] for r in json.loads(out)}


def test_version_names_the_package_and_the_rulebook(engine: Engine, capsys: Cap, monkeypatch: MP) -> None:
    code, out, _ = run_cli(capsys, monkeypatch, "--version")
    assert code == 0
    assert out.strip() == f"tutela {tutela.__version__} (rulebook {engine.version})"


def test_decide_json_is_unchanged_when_piped_or_asked_for(engine: Engine, capsys: Cap, monkeypatch: MP,
                                                          tmp_path: Path) -> None:
    expected = json.dumps(engine.decide(REQ).model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    file = write(tmp_path, REQ)
    for args in ((), ("--format", "json")):
        code, out, _ = run_cli(capsys, monkeypatch, "decide", file, *args)
        assert (code, out) == (2, expected)
    many = [REQ, with_subject(age=30)]
    code, out, _ = run_cli(capsys, monkeypatch, "decide", write(tmp_path, many))
    assert out == json.dumps([d.model_dump(mode="json") for d in engine.decide_many(many)], indent=2,
                             ensure_ascii=False) + "\n"


def test_decide_for_people_on_a_terminal(engine: Engine, capsys: Cap, monkeypatch: MP, tmp_path: Path) -> None:
    d = engine.decide(REQ)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # what a terminal says
    code, out, _ = run_cli(capsys, monkeypatch, "decide", write(tmp_path, REQ))
    assert code == 2 and not out.lstrip().startswith("{")
    flat = " ".join(out.replace("│", " ").split())
    assert "deny" in flat and "age 13 on 2026-12-01" in flat
    for rule in d.determining:
        assert rule.id.split(".")[0] in flat and rule.instrument.split(" ")[0] in flat
    assert "consent for `personalization` by parent at assurance verified" in flat
    assert "lawful possible: yes" in flat and d.rulebook_version in flat


def test_decide_table_shows_obligations_and_an_allow(engine: Engine, capsys: Cap, monkeypatch: MP,
                                                     tmp_path: Path) -> None:
    adult = with_subject(age=30, grants=[{"scopes": ["personalization"], "by": "self"}])
    d = engine.decide(adult)
    code, out, _ = run_cli(capsys, monkeypatch, "decide", write(tmp_path, adult), "--format", "table")
    assert code == 0 and d.effect in out
    for o in d.obligations:
        assert f"`{o}`" in out


JURISDICTIONS = [("UK", "GB"), ("Netherlands", "NL"), ("nl", "NL"), ("holland", "NL"), ("Germny", "DE"),
                 ("great britain", "GB"), ("usa", "US")]


@pytest.mark.parametrize(("typed", "meant"), JURISDICTIONS)
def test_country_names_and_codes_get_did_you_mean(engine: Engine, capsys: Cap, monkeypatch: MP, tmp_path: Path,
                                                  typed: str, meant: str) -> None:
    body = with_subject(jurisdiction=typed)
    code, out, _ = run_cli(capsys, monkeypatch, "decide", write(tmp_path, body), "--format", "json")
    err = json.loads(out)
    assert code == 3 and err["where"] == "subject.jurisdiction"
    assert err["hint"].startswith(f"did you mean `{meant}`")
    r = TestClient(create_app(engine)).post("/v1/decisions", json=body)
    assert r.status_code == 422 and r.json()["hint"] == err["hint"]
    for reference in (False, True):  # both evaluators say the same
        with pytest.raises(UnknownKeyError) as exc:
            engine.decide(body, reference=reference)
        assert exc.value.hint == err["hint"]


def test_an_unknown_code_with_nothing_close_says_where_the_codes_are(engine: Engine) -> None:
    with pytest.raises(UnknownKeyError) as exc:
        engine.decide(with_subject(jurisdiction="XQ"))
    assert "tutela rules list" in (exc.value.hint or "") and "did you mean" not in (exc.value.hint or "")


@pytest.mark.parametrize("at", ["01/12/2026", "2026-13-01", "2026-12-01T10:00:00"])
def test_date_errors_say_the_format_and_where(engine: Engine, capsys: Cap, monkeypatch: MP, tmp_path: Path,
                                              at: str) -> None:
    body = {"subject": REQ["subject"], "act": {**REQ["act"], "at": at}}  # type: ignore[dict-item]  # REQ is a literal of nested dicts; mypy infers object
    code, out, _ = run_cli(capsys, monkeypatch, "decide", write(tmp_path, body), "--format", "json")
    err = json.loads(out)
    assert code == 3 and err["where"] == "act.at"
    assert f"`{at}`" in err["message"] and "expected YYYY-MM-DD" in err["message"]
    r = TestClient(create_app(engine)).post("/v1/decisions", json=body)
    assert r.status_code == 422 and r.json()["message"] == err["message"]
    code, _, errout = run_cli(capsys, monkeypatch, "rules", "diff", "--from", at, "--to", "2026-01-01")
    assert code == 3 and "--from" in errout and "YYYY-MM-DD" in errout


def test_a_plain_path_for_an_estate_suggests_the_url(capsys: Cap, monkeypatch: MP, tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    code, _, err = run_cli(capsys, monkeypatch, "audit", "--estate", str(db))
    flat = " ".join(err.split())
    assert code == 3 and f"not a URL: `{db}`" in flat and f"did you mean `sqlite:///{db}`?" in flat
    code, _, err = run_cli(capsys, monkeypatch, "audit", "--estate", str(tmp_path))
    assert code == 3 and f"did you mean `parquet://{tmp_path}`?" in " ".join(err.split())
    code, out, _ = run_cli(capsys, monkeypatch, "requests", "create", "--estate", "shop.db", "--kind", "access",
                           "--subject", "1", "--by", "alice", "--format", "json")
    assert code == 3 and "did you mean `sqlite:///shop.db`?" in json.loads(out)["hint"]


def test_an_arrow_batch_gets_the_same_jurisdiction_hint(engine: Engine) -> None:
    import datetime as dt

    import pyarrow as pa

    table = pa.table({"jurisdiction": ["NL", "Netherlands"], "age": [12, 12],
                      "category": ["user.location.precise"] * 2, "use": ["essential.service"] * 2,
                      "at": pa.array([dt.date(2026, 12, 1)] * 2, pa.date32())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    r = TestClient(create_app(engine)).post("/v1/decisions", content=sink.getvalue().to_pybytes(),
                                            headers={"content-type": "application/vnd.apache.arrow.stream"})
    assert r.status_code == 422
    body = r.json()
    assert body["where"] == "batch[1].jurisdiction" and body["hint"].startswith("did you mean `NL`")


def test_decide_on_a_terminal_without_input_says_how_instead_of_waiting(capsys: Cap, monkeypatch: MP) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    code, _, err = run_cli(capsys, monkeypatch, "decide")
    assert code == 3 and "no request given" in err and "tutela decide request.json" in err
