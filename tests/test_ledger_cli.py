"""`tutela ledger append | checkpoint | verify | key`: exit codes 0 / 1 / 3, JSON output, errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cli_inprocess import run_cli as cli

RULEBOOK = '{"version": "2026.12", "digest": "' + "ab" * 32 + '", "rules": 412}'




@pytest.fixture
def keyed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    code, out, _ = cli(capsys, monkeypatch, "ledger", "key", "--format", "json")
    assert code == 0
    monkeypatch.setenv("TUTELA_LEDGER_KEY", json.loads(out)["private_key"])
    monkeypatch.delenv("TUTELA_LEDGER_PUBLIC_KEYS", raising=False)
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def test_append_checkpoint_verify_and_a_truncation_seen_by_the_copy_kept_outside(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, keyed: str) -> None:
    db = keyed
    assert cli(capsys, monkeypatch, "ledger", "append", "rulebook_version", RULEBOOK, "--db", db)[0] == 0
    lines = tmp_path / "bodies.jsonl"
    lines.write_text("\n".join(json.dumps({"source": "stream", "rulebook_version": "2026.12", "batch_id": f"b{i}",
                                           "total": 100, "allow": 90, "deny": 10}) for i in range(4)))
    code, out, _ = cli(capsys, monkeypatch, "ledger", "append", "decision", "--file", str(lines), "--db", db,
                       "--format", "json")
    assert code == 0 and json.loads(out)["seq"] == 5
    copy = tmp_path / "cp.json"
    assert cli(capsys, monkeypatch, "ledger", "checkpoint", "--db", db, "--out", str(copy))[0] == 0
    code, out, _ = cli(capsys, monkeypatch, "ledger", "verify", "--db", db)
    assert code == 0 and "ok" in out and "5 entries" in out
    with sqlite3.connect(tmp_path / "ledger.db") as conn:  # drop the last two entries and every checkpoint
        conn.execute("DELETE FROM ledger_entries WHERE seq > 3")
        conn.execute("DELETE FROM ledger_checkpoints")
    code, out, _ = cli(capsys, monkeypatch, "ledger", "verify", "--db", db, "--format", "json")
    assert code == 0 and json.loads(out)["entries"] == 3  # the database alone cannot show it
    code, out, _ = cli(capsys, monkeypatch, "ledger", "verify", "--db", db, "--checkpoint", str(copy),
                       "--format", "json")
    assert code == 1
    assert json.loads(out)["first_bad"]["seq"] == 4 and "removed" in json.loads(out)["first_bad"]["problem"]


def test_an_edited_entry_exits_1_naming_its_seq(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path, keyed: str) -> None:
    for _ in range(3):
        assert cli(capsys, monkeypatch, "ledger", "append", "rulebook_version", RULEBOOK, "--db", keyed)[0] == 0
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        conn.execute("UPDATE ledger_entries SET entry = replace(entry, '412', '413') WHERE seq = 2")
    code, out, _ = cli(capsys, monkeypatch, "ledger", "verify", "--db", keyed)
    assert code == 1 and "seq 2" in out and "tampered" in out


@pytest.mark.parametrize(("args", "where"), [
    (["ledger", "verify", "--db", "sqlite:////nonexistent/ledger.db"], "--db"),
    (["ledger", "verify", "--db", "mysql+pymysql://root@127.0.0.1/test"], "--db"),
    (["ledger", "verify", "--db", "not a url"], "--db"),
    (["ledger", "verify", "--public-key", "not-base64!"], "--public-key"),
    (["ledger", "append", "gossip", "{}"], "kind"),
    (["ledger", "append", "rulebook_version", "{not json"], "BODY"),
    (["ledger", "append", "rulebook_version", '{"version": "2026.12", "digest": "ab", "rules": 1.5}'], "body.digest"),
])
def test_bad_input_exits_3_and_names_what(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path, args: list[str], where: str) -> None:
    monkeypatch.setenv("TUTELA_LEDGER_URL", f"sqlite:///{tmp_path / 'l.db'}")
    code, out, _ = cli(capsys, monkeypatch, *args, "--format", "json")
    assert code == 3
    assert json.loads(out)["where"] == where


def test_checkpoint_without_a_key_or_of_an_empty_ledger_is_bad_input(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, keyed: str) -> None:
    assert cli(capsys, monkeypatch, "ledger", "append", "rulebook_version", RULEBOOK, "--db", keyed, "--prefix",
               "x_")[0] == 0
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        conn.execute("CREATE TABLE ledger_entries (seq INTEGER PRIMARY KEY, entry BLOB NOT NULL, hash BLOB NOT NULL)")
    code, out, _ = cli(capsys, monkeypatch, "ledger", "checkpoint", "--db", keyed, "--format", "json")
    assert code == 3 and "empty" in json.loads(out)["message"]
    monkeypatch.delenv("TUTELA_LEDGER_KEY")
    code, out, _ = cli(capsys, monkeypatch, "ledger", "checkpoint", "--db", keyed, "--prefix", "x_", "--format", "json")
    assert code == 3 and json.loads(out)["where"] == "TUTELA_LEDGER_KEY"
