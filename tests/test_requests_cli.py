"""`tutela requests ...` as a user runs it: real subprocesses, JSON output, exit code 3 with the message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_requests_estate import REDIS, Estate, make_estate, read_all, split


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    with make_estate("sqlite", tmp_path) as e:
        yield e


def tutela(estate: Estate, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUTELA_STATE": estate.state.url}
    return subprocess.run([sys.executable, "-m", "tutela", "requests", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def ok(out: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert out.returncode == 0, out.stderr
    data: dict[str, object] = json.loads(out.stdout)
    return data


def test_access_from_create_to_html_export(estate: Estate, tmp_path: Path) -> None:
    made = ok(tutela(estate, "create", "--estate", estate.url, "--kind", "access", "--subject", "1",
                     "--requester", "parent", "--ref", "CASE-1", "--by", "alice", "--format", "json"))
    rid = str(made["id"])
    assert made["status"] == "pending_approval" and made["jurisdiction"] == "NL" and made["created_by"] == "alice"
    early = tutela(estate, "run", rid, "--estate", estate.url)
    assert early.returncode == 3 and "not approved yet" in early.stderr and "Traceback" not in early.stderr
    assert ok(tutela(estate, "approve", rid, "--by", "bob", "--format", "json"))["status"] == "approved"
    done = ok(tutela(estate, "run", rid, "--estate", estate.url, "--media", str(estate.media), "--redis", REDIS,
                     "--redis-prefix", estate.prefix, "--format", "json"))
    assert done["status"] == "done"
    out = tutela(estate, "list", "--status", "done", "--format", "json")
    assert out.returncode == 0, out.stderr
    listed: list[dict[str, object]] = json.loads(out.stdout)
    assert [v["id"] for v in listed] == [rid]
    export = json.loads(tutela(estate, "export", rid).stdout)
    accounts = next(c for c in export["collections"] if c["name"] == "accounts")
    assert accounts["rows"][0]["email"] == "child1@example.test"
    page = tmp_path / "export.html"
    wrote = tutela(estate, "export", rid, "--format", "html", "--out", str(page))
    assert wrote.returncode == 0 and "child1@example.test" in page.read_text("utf-8")
    table = tutela(estate, "show", rid)
    assert table.returncode == 0 and rid in table.stdout and "done" in table.stdout


def test_erasure_with_a_receipt(estate: Estate) -> None:
    before = split(read_all(estate.url), 3)[1]
    rid = str(ok(tutela(estate, "create", "--estate", estate.url, "--kind", "erasure", "--subject", "3",
                        "--scope", "account", "--format", "json"))["id"])
    ok(tutela(estate, "approve", rid, "--by", "bob", "--format", "json"))
    done = ok(tutela(estate, "run", rid, "--estate", estate.url, "--media", str(estate.media), "--redis", REDIS,
                     "--redis-prefix", estate.prefix, "--format", "json"))
    result = done["result"]
    assert isinstance(result, dict) and len(result["receipt"]["digest"]) == 64
    assert result["kept"] == {"collection": "transfers", "records": 1}
    assert split(read_all(estate.url), 3)[1] == before
    no_export = tutela(estate, "export", rid)
    assert no_export.returncode == 3 and "is an erasure" in no_export.stderr


BAD = [
    (["--kind", "delete", "--subject", "1"], "--kind", "input should be"),
    (["--kind", "erasure", "--subject", "1"], "--scope", "needs a `scope`"),
    (["--kind", "access", "--subject", "999"], "--subject", "unknown subject `999`"),
    (["--kind", "access", "--subject", "1", "--requester", "uncle"], "--requester", "input should be"),
]


def test_bad_input_exits_3_naming_the_option_and_writes_nothing(estate: Estate) -> None:
    for args, where, message in BAD:
        out = tutela(estate, "create", "--estate", estate.url, *args, "--format", "json")
        assert out.returncode == 3, out.stderr
        err = json.loads(out.stdout)
        assert err["where"] == where and message in err["message"]
    assert json.loads(tutela(estate, "list", "--format", "json").stdout) == []


def test_unknown_ids_and_formats(estate: Estate) -> None:
    for args in (["show", "nope"], ["approve", "nope", "--by", "bob"], ["export", "nope"]):
        out = tutela(estate, *args)
        assert out.returncode == 3 and "no rights request `nope`" in out.stderr and "Traceback" not in out.stderr
    bad = tutela(estate, "export", "nope", "--format", "pdf")
    assert bad.returncode == 3 and "unknown format `pdf`" in bad.stderr
    missing = tutela(estate, "list", "--status", "open")
    assert missing.returncode == 3 and "unknown status `open`" in missing.stderr


def test_four_eyes_the_creator_cannot_approve(estate: Estate) -> None:
    made = ok(tutela(estate, "create", "--estate", estate.url, "--kind", "access", "--subject", "1",
                     "--by", "alice", "--format", "json"))
    own = tutela(estate, "approve", str(made["id"]), "--by", "alice")
    assert own.returncode == 3 and "four-eyes: `alice` created request" in own.stderr and "Traceback" not in own.stderr
    assert "another staff member approves it" in own.stderr
    assert ok(tutela(estate, "show", str(made["id"]), "--format", "json"))["status"] == "pending_approval"
    assert ok(tutela(estate, "approve", str(made["id"]), "--by", "bob", "--format", "json"))["decided_by"] == "bob"
