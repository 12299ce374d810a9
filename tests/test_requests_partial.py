"""Every output of a rights request names the stores it did not search: the CLI (table and
JSON), the JSON and HTML exports, the API responses, and the page as a real Chromium draws it.
Also `tutela demo`'s estate: a request made without `--media` finds the demo's media files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from test_requests_api import ALICE, BOB, TOKENS, _chromium, auth
from test_requests_estate import REDIS, Estate, make_estate
from tutela.api import create_app
from tutela.connectors.estate import EstateConfig
from tutela.engine import Engine


@pytest.fixture(params=["sqlite", "postgresql"])
def estate(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
    with make_estate(request.param, tmp_path) as e:
        monkeypatch.setenv("TUTELA_STATE", e.state.url)
        monkeypatch.setenv("TUTELA_STAFF_TOKENS", TOKENS)
        yield e


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def js(out: Ran) -> dict[str, object]:
    assert out.returncode == 0, out.stderr
    data: dict[str, object] = json.loads(out.stdout)
    return data


def test_cli_records_the_stores_refuses_a_missing_one_and_names_it_everywhere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from tutela.cli import _output, main

    monkeypatch.setattr(_output.console, "width", 200)  # one table row per line, as on a wide terminal

    def cli(*args: str) -> Ran:  # `tutela ARGS` in this process (a fresh interpreter per call costs ~10 s here)
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["tutela", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        got = capsys.readouterr()
        return Ran(code, got.out, got.err)

    with make_estate("sqlite", tmp_path) as estate:  # PostgreSQL: the same desk, in the tests below
        monkeypatch.setenv("TUTELA_STATE", estate.state.url)
        full = str(js(cli("requests", "create", "--estate", estate.url, "--kind", "access", "--subject", "1",
                          "--media", str(estate.media), "--redis", REDIS, "--redis-prefix", estate.prefix,
                          "--format", "json"))["id"])
        js(cli("requests", "approve", full, "--by", "bob", "--format", "json"))
        table = cli("requests", "run", full, "--estate", estate.url)  # no --media, no --redis: recorded
        assert table.returncode == 0, table.stderr
        lines = {line.split("│")[1].strip(): line for line in table.stdout.splitlines() if line.count("│") == 5}
        assert "searched, 3 found" in lines["files"] and "searched, 3 found" in lines["redis"]
        assert "NOT SEARCHED" not in table.stdout and "INCOMPLETE" not in table.stdout

        bare = str(js(cli("requests", "create", "--estate", estate.url, "--kind", "access", "--subject", "2",
                          "--media", str(estate.media), "--format", "json"))["id"])  # Redis not given
        js(cli("requests", "approve", bare, "--by", "bob", "--format", "json"))
        env = {**os.environ, "TUTELA_STATE": estate.state.url}
        refused = subprocess.run([sys.executable, "-m", "tutela", "requests", "run", bare, "--estate", estate.url],
                                 capture_output=True, text=True, timeout=120, env=env)  # as a user runs it
        assert refused.returncode == 3 and "Traceback" not in refused.stderr
        assert "error: stores: redis: declared store(s) cannot be searched" in refused.stderr
        assert "`redis` (redis): no Redis server given" in refused.stderr and "--allow-partial" in refused.stderr
        err = cli("requests", "run", bare, "--estate", estate.url, "--format", "json")
        assert err.returncode == 3 and json.loads(err.stdout)["error"] == "StoresMissing"

        shown = cli("requests", "run", bare, "--estate", estate.url, "--allow-partial")
        assert shown.returncode == 0, shown.stderr
        assert "NOT SEARCHED: no Redis server given" in shown.stdout
        assert "searched, 3 found" in shown.stdout  # files: account 2's photo, video and avatar
        assert "INCOMPLETE: not searched: redis" in shown.stdout and "partial" in shown.stdout
        view = js(cli("requests", "show", bare, "--format", "json"))
        result = view["result"]
        assert isinstance(result, dict) and result["complete"] is False and view["partial"] is True
        assert {s["store"]: s["searched"] for s in result["stores"]} == {"estate": True, "files": True,
                                                                          "redis": False}
        listed = cli("requests", "list")
        assert listed.returncode == 0 and "partial" in listed.stdout

        export = cli("requests", "export", bare)
        data = json.loads(export.stdout)
        assert data["complete"] is False and "not searched: redis" in export.stderr
        assert [s["store"] for s in data["stores"] if not s["searched"]] == ["redis"]
        page = tmp_path / "partial.html"
        wrote = cli("requests", "export", bare, "--format", "html", "--out", str(page))
        assert wrote.returncode == 0 and "incomplete" in wrote.stderr
        assert 'id="incomplete"' in page.read_text("utf-8")


def test_api_refuses_a_missing_store_unless_allow_partial(estate: Estate, engine: Engine) -> None:
    server = TestClient(create_app(engine, estate=EstateConfig(estate.url, media=estate.media)))  # no --redis
    rid = server.post("/v1/requests", headers=auth(ALICE), json={"kind": "access", "subject": "1"}).json()["id"]
    assert server.get(f"/v1/requests/{rid}", headers=auth(ALICE)).json()["stores"]["redis"]["location"] is None
    server.post(f"/v1/requests/{rid}/approve", headers=auth(BOB))
    refused = server.post(f"/v1/requests/{rid}/run", headers=auth(BOB))
    assert refused.status_code == 422 and refused.json()["error"] == "StoresMissing", refused.text
    assert refused.json()["where"] == "stores: redis" and "allow_partial" in refused.json()["hint"]
    for bad, where in (({"allow_partial": "yes"}, "body.allow_partial"), ({"partial": True}, "body.partial")):
        r = server.post(f"/v1/requests/{rid}/run", headers=auth(BOB), json=bad)
        assert r.status_code == 422 and r.json()["where"] == where
    done = server.post(f"/v1/requests/{rid}/run", headers=auth(BOB), json={"allow_partial": True})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["partial"] is True and body["result"]["complete"] is False
    redis_ = next(s for s in body["result"]["stores"] if s["store"] == "redis")
    assert redis_["searched"] is False and "no Redis server given" in redis_["reason"]
    listed = server.get("/v1/requests", headers=auth(ALICE)).json()
    assert listed[0]["partial"] is True
    exp = server.get(f"/v1/requests/{rid}/export.json", headers=auth(ALICE))
    assert exp.headers["x-export-complete"] == "false" and exp.headers["x-export-not-searched"] == "redis"
    assert exp.json()["complete"] is False
    page = server.get(f"/v1/requests/{rid}/export.html", headers=auth(ALICE))
    assert page.headers["x-export-complete"] == "false" and 'id="incomplete"' in page.text

    whole = TestClient(create_app(engine, estate=estate.config()))  # a server given every store
    rid2 = whole.post("/v1/requests", headers=auth(ALICE), json={"kind": "access", "subject": "1"}).json()["id"]
    whole.post(f"/v1/requests/{rid2}/approve", headers=auth(BOB))
    ok = whole.post(f"/v1/requests/{rid2}/run", headers=auth(BOB)).json()
    assert ok["result"]["complete"] is True and all(s["searched"] for s in ok["result"]["stores"])
    assert whole.get(f"/v1/requests/{rid2}/export", headers=auth(ALICE)).headers["x-export-complete"] == "true"


def test_the_notice_is_drawn_at_the_top_of_the_page_in_a_real_browser(estate: Estate, engine: Engine,
                                                                       tmp_path: Path) -> None:
    browser = _chromium()
    desk = engine.requests(EstateConfig(estate.url, redis=REDIS, redis_prefix=estate.prefix), state=estate.state)
    try:  # the media folder is not given and there is none beside the estate
        rid = desk.create({"kind": "access", "subject": "1"}, by="alice")["id"]
        desk.approve(rid, by="bob")
        desk.run(rid, allow_partial=True)
        html = desk.export_html(rid)
    finally:
        desk.close()
    page = tmp_path / "export.html"
    page.write_text(html, "utf-8")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'id="incomplete"' in dom.stdout and "This export is incomplete" in dom.stdout
    assert '<li data-store="files">' in dom.stdout and 'id="n-files">not searched<' in dom.stdout
    assert "searched, 3 found" in dom.stdout  # Redis: three keys of account 1, searched
    shot = tmp_path / "top.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,700", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image

    with Image.open(shot) as img:  # the first screen, without scrolling, shows the notice's red border and panel
        px = np.asarray(img.convert("RGB")).astype(int)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    red = int(((r > 180) & (g < 70) & (b < 80)).sum())  # the #cf222e border
    pink = int(((r == 255) & (g == 235) & (b == 233)).sum())  # the #ffebe9 panel
    assert red > 2000 and pink > 20000, (red, pink)


def test_the_demo_estate_is_searched_without_media_options(tmp_path: Path, engine: Engine,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from tutela.cli._output import Format
    from tutela.cli.demo import run as demo
    from tutela.store.state import StateStore

    monkeypatch.setenv("TUTELA_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    demo(accounts=150, out=out, seed=7, serve=False, port=0, fmt=Format.json, redis=None)  # as `make demo` does
    url = f"sqlite:///{(out / 'clipstream.db').resolve()}"
    folder = out / "clipstream-media"
    db = sa.create_engine(url)
    with db.connect() as c:
        rows = c.execute(sa.text("SELECT account_id, path FROM media ORDER BY media_id")).all()
    db.dispose()
    subject = next(a for a, path in rows if (folder / path).is_file())  # a child whose photo was written
    desk = engine.requests(EstateConfig(url), state=StateStore(f"sqlite:///{tmp_path / 's.db'}"))
    try:  # what `tutela requests create --estate URL` and `run ID --estate URL --allow-partial` do
        made = desk.create({"kind": "access", "subject": str(subject)}, by="alice")
        assert made["stores"] == {"files": {"kind": "files", "location": folder.resolve().as_uri(), "prefix": "",
                                            "source": "default"},
                                  "redis": {"kind": "redis", "location": None, "prefix": "", "source": "none"}}
        desk.approve(made["id"], by="bob")
        result = desk.run(made["id"], allow_partial=True)["result"]  # the demo has no Redis
        export, _ = desk.export(made["id"])
    finally:
        desk.close()
        desk.state.close()
    stores = {s["store"]: s for s in result["stores"]}
    assert stores["files"]["searched"] is True and stores["files"]["location"] == folder.resolve().as_uri()
    assert stores["files"]["source"] == "recorded" and stores["files"]["found"] == result["files"] > 0
    assert stores["redis"]["searched"] is False and result["complete"] is False
    assert any(f["bytes"] and f["sha256"] for f in export["files"]), export["files"]  # real files, read and hashed
