"""Scheduled audits and notifications with a real SMTP sink and a real HTTP receiver for the
webhook: each round audits the ClipStream fixture estate (kept in the history), tells the team
of open critical findings and of rights requests near their deadline, each once, signed, with no
personal data; a receiver that fails gets the notices again on the next round."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from cli_inprocess import run_cli
from console_fixture import AS_OF, ConsoleEstate, console_estate
from smtp_sink import Sink, smtp_sink
from tutela.engine import Engine
from tutela.errors import StoreUnavailable
from tutela.store import StateStore

SECRET = "webhook-secret-for-tests-0123456789"
TEAM = "dpo@example.org"


class Receiver:
    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notices(self, i: int) -> list[dict[str, Any]]:
        headers, body = self.posts[i]
        signed = hmac.new(SECRET.encode(), headers["tutela-timestamp"].encode() + b"." + body, hashlib.sha256)
        assert hmac.compare_digest(headers["tutela-signature"], "sha256=" + signed.hexdigest())
        return list(json.loads(body)["notices"])


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ConsoleEstate, Sink, Receiver]]:
    receiver = Receiver()
    with smtp_sink() as sink, console_estate(tmp_path) as estate:
        monkeypatch.setenv("TUTELA_SMTP_HOST", sink.host)
        monkeypatch.setenv("TUTELA_SMTP_PORT", str(sink.port))
        monkeypatch.setenv("TUTELA_NOTIFY_EMAILS", TEAM)
        monkeypatch.setenv("TUTELA_NOTIFY_WEBHOOK", receiver.url)
        monkeypatch.setenv("TUTELA_NOTIFY_WEBHOOK_SECRET", SECRET)
        monkeypatch.setenv("TUTELA_STATE", estate.state_url)
        yield estate, sink, receiver
    receiver.server.shutdown()


def test_each_round_audits_and_notifies_what_is_new_once(setup: tuple[ConsoleEstate, Sink, Receiver]) -> None:
    estate, sink, receiver = setup
    watch = Engine().watch(estate.config(), state=StateStore(estate.state_url), as_of=AS_OF, deadline_days=60)
    office = watch.office
    try:
        sam = office.accounts.get("sam")
        assert sam is not None
        made = office.create_request(sam, {"kind": "access", "subject": "1"})
        first = watch.tick()
        kinds = {n.kind for n in first.sent}
        critical = [n for n in first.sent if n.kind == "critical"]
        assert critical and kinds == {"critical", "deadline"}
        assert {f["rule"] for f in first.audit["findings"] if f["severity"] == "critical"} == \
            {n.data["rule"] for n in critical}
        [deadline] = [n for n in first.sent if n.kind == "deadline"]
        assert deadline.data["request"] == made["id"] and 0 <= deadline.data["days_left"] <= 60
        hooked = receiver.notices(0)
        assert {n["kind"] for n in hooked} == {"critical", "deadline"} and len(hooked) == len(first.sent)
        [mail] = sink.bodies(TEAM)
        assert made["id"] in mail and critical[0].data["rule"] in mail
        assert "@" not in json.dumps(hooked) and "@" not in mail  # rule ids, counts, request ids: no personal data

        second = watch.tick()  # nothing new: nothing sent, the audit still kept
        assert second.sent == [] and len(receiver.posts) == 1 and len(sink.bodies(TEAM)) == 1
        assert [h["id"] for h in office.trend()][-2:] == [first.audit["id"], second.audit["id"]]

        receiver.status = 500  # the receiver fails: the new request's notice is sent again next round
        late = office.create_request(sam, {"kind": "erasure", "subject": "2", "scope": "account"})
        with pytest.raises(StoreUnavailable, match="webhook answered 500"):
            watch.tick()
        receiver.status = 200
        third = watch.tick()
        assert [n.data["request"] for n in third.sent] == [late["id"]]
    finally:
        office.close()


def test_the_cli_runs_one_round(setup: tuple[ConsoleEstate, Sink, Receiver], capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    estate, _, receiver = setup
    code, out, err = run_cli(capsys, monkeypatch, "watch", "--estate", estate.url, "--media", str(estate.media),
                             "--once", "--as-of", AS_OF.isoformat(), "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rules"] > 0 and {n["kind"] for n in summary["notices"]} >= {"critical"}
    assert len(receiver.posts) == 1
    monkeypatch.setenv("TUTELA_NOTIFY_WEBHOOK_SECRET", "short")
    code, _, err = run_cli(capsys, monkeypatch, "watch", "--estate", estate.url, "--once")
    assert code == 3 and "at least 16 characters" in err


def test_a_webhook_that_does_not_answer_is_named(tmp_path: Path) -> None:
    from tutela.staff.watch import Notice, WebhookNotifier

    hook = WebhookNotifier("http://127.0.0.1:9/hook", SECRET, timeout=2)
    with pytest.raises(StoreUnavailable) as err:
        hook.send([Notice("k", "deadline", "s", (), {})])
    assert err.value.where == "TUTELA_NOTIFY_WEBHOOK"
