"""`tutela consent request|grants|revoke` and `tutela decide` reading the stored grants, in-process,
with a real SMTP sink and a SQLite state store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_inprocess import run_cli
from smtp_sink import smtp_sink
from tutela.consent import ConsentDesk, SmtpMailer
from tutela.engine import Engine
from tutela.store import StateStore


def test_request_grants_revoke_and_decide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    monkeypatch.setenv("TUTELA_STATE", url)
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"subject": {"id": "c-9", "jurisdiction": "NL", "age": 12},
                               "act": {"category": "user.location.precise", "use": "functional"}}))
    with smtp_sink() as sink:
        monkeypatch.setenv("TUTELA_SMTP_HOST", sink.host)
        monkeypatch.setenv("TUTELA_SMTP_PORT", str(sink.port))
        code, out, err = run_cli(capsys, monkeypatch, "consent", "request", "c-9", "--jurisdiction", "NL", "--age",
                                 "12", "--parent-email", "p@example.org", "--scope", "precise_location",
                                 "--format", "json")
        assert code == 0, err
        assert json.loads(out)["mode"] == "data_lite"
        assert run_cli(capsys, monkeypatch, "decide", str(req))[0] == 2
        desk = ConsentDesk(Engine().rulebook, StateStore(url), mailer=SmtpMailer(sink.host, sink.port))
        desk.confirm(sink.token("p@example.org"))
        desk.close()
    code, out, _ = run_cli(capsys, monkeypatch, "consent", "grants", "c-9", "--format", "json")
    grants = json.loads(out)
    assert code == 0 and {g["scope"] for g in grants} == {"account", "precise_location"}
    assert run_cli(capsys, monkeypatch, "decide", str(req))[0] == 0
    code, out, _ = run_cli(capsys, monkeypatch, "consent", "revoke", "c-9", "--scope", "precise_location",
                           "--by", "staff:alice")
    assert code == 0 and "revoked 1 grant" in out
    assert run_cli(capsys, monkeypatch, "decide", str(req))[0] == 2
    code, out, _ = run_cli(capsys, monkeypatch, "consent", "revoke", "c-9", "--scope", "precise_location",
                           "--by", "staff:alice", "--format", "json")
    assert code == 3 and json.loads(out)["error"] == "ConsentRefused"
    code, out, _ = run_cli(capsys, monkeypatch, "consent", "grants", "c-9", "--active")
    assert code == 0 and "account" in out and "precise_location" not in out


def test_a_request_without_smtp_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUTELA_STATE", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.delenv("TUTELA_SMTP_HOST", raising=False)
    code, _, err = run_cli(capsys, monkeypatch, "consent", "request", "c-1", "--jurisdiction", "NL", "--age", "12",
                           "--parent-email", "p@example.org")
    assert code == 3 and "TUTELA_SMTP_HOST" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, monkeypatch, "consent", "request", "c-1", "--jurisdiction", "NL", "--age", "12")
    assert code == 3 and "parent_email" in err
