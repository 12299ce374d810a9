"""The parent portal end to end in Debian's Chromium (Playwright) against a real `tutela serve`, a
real SMTP sink and a generated ClipStream estate, on a phone-sized screen: a 12-year-old in NL
passes the age gate (the result sticks), the app signs them up, the parent receives the consent
email, verifies through the link, signs in by a magic link, grants precise location (the decision
flips from deny to allow), revokes it (back to deny), downloads the child's data and deletes it.
Screenshots of each page go to docs/screenshots/portal-*.png; the server's log of the run holds
no email address, no token and none of the child's data."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from console_fixture import AS_OF, REDIS, ConsoleEstate, console_estate
from smtp_sink import Sink, free_port, smtp_sink
from tutela.consent import ConsentDesk
from tutela.engine import Engine
from tutela.store import StateStore

SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
PARENT = "ria.jansen.parent@example.org"
APP_TOKEN = "app-backend-token-0123456789abcdef"
CHILD = "7"
LOCATION = {"category": "user.location.precise", "use": "functional"}


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: the portal must be checked in a real browser "
                    "(`bash scripts/ensure-services.sh` installs it, or `apt-get install -y chromium`)")
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, ConsoleEstate, Sink, Path]]:
    with smtp_sink() as sink, console_estate(tmp_path) as e:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp_path / "server.log"
        env = {**os.environ, "TUTELA_STATE": e.state_url, "TUTELA_HOME": str(tmp_path / "home"),
               "TUTELA_SMTP_HOST": sink.host, "TUTELA_SMTP_PORT": str(sink.port),
               "TUTELA_CONSENT_LINK_BASE": f"{base}/consent", "TUTELA_STAFF_TOKENS": f"sam={APP_TOKEN}"}
        proc = subprocess.Popen([sys.executable, "-m", "tutela", "serve", "--port", str(port), "--estate", e.url,
                                 "--media", str(e.media), "--redis", REDIS, "--redis-prefix", e.prefix,
                                 "--as-of", AS_OF.isoformat()], env=env, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    httpx.get(f"{base}/v1/health", timeout=5)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.3)
            yield base, e, sink, log
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield b
        b.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"portal-{name}.png"), full_page=True)


def link(sink: Sink, n: int = -1) -> str:
    urls = re.findall(r"(http://\S+#[A-Za-z0-9_-]{20,})", "\n".join(sink.bodies(PARENT)))
    assert urls, "no link was emailed to the parent"
    return str(urls[n])


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def test_parent_portal_end_to_end(served: tuple[str, ConsoleEstate, Sink, Path], browser: Browser,
                                  tmp_path: Path) -> None:
    base, estate, sink, log = served
    eng = Engine()
    eng.consent = ConsentDesk(eng.rulebook, StateStore(estate.state_url))

    def decide() -> str:
        return eng.decide({"subject": {"id": CHILD, "jurisdiction": "NL", "age": 12}, "act": LOCATION}).effect

    page = browser.new_page(viewport={"width": 390, "height": 844})
    # the child: the neutral age gate, 12 years old; an older date afterwards changes nothing
    today = dt.date.today()
    page.goto(f"{base}/age-gate?jurisdiction=NL")
    shot(page, "age-gate")
    page.select_option("#day", "1")
    page.select_option("#month", "3")
    page.fill("#year", str(today.year - 13 if (today.month, today.day) < (3, 1) else today.year - 12))
    page.click("button[type=submit]")
    assert page.locator("#gate-result").get_attribute("data-experience") == "restricted"
    shot(page, "age-gate-result")
    page.goto(f"{base}/age-gate?jurisdiction=NL")
    page.select_option("#day", "1")
    page.select_option("#month", "3")
    page.fill("#year", "1990")
    page.click("button[type=submit]")
    assert page.locator("#gate-result").get_attribute("data-experience") == "restricted"  # it sticks

    # the app, told "restricted", signs the child up with the parent's address: the consent email
    r = httpx.post(f"{base}/v1/consent/signups", headers={"authorization": f"Bearer {APP_TOKEN}"},
                   json={"subject": CHILD, "jurisdiction": "NL", "age": 12, "parent_email": PARENT})
    assert r.status_code == 201 and r.json()["mode"] == "data_lite", r.text
    assert decide() == "deny"

    # the parent opens the consent link (the token in the fragment), reviews, ticks, consents
    page.goto(link(sink))
    expect(page.locator("#consent")).to_be_visible()
    assert page.url == f"{base}/portal/consent/review"  # the token left the address bar
    assert not page.locator("input[type=checkbox]:checked").count()  # nothing ticked for the parent
    yes, no = page.locator("#consent-yes"), page.locator("#consent-no")
    assert yes.get_attribute("class") == no.get_attribute("class")  # the same weight
    shot(page, "consent")
    page.check("#scope-account")
    yes.click()
    expect(page.locator("#consent-done")).to_be_visible()
    shot(page, "consent-done")

    # sign in by a magic link
    page.click("#to-portal")
    expect(page.locator("#signin")).to_be_visible()
    shot(page, "signin")
    page.fill("#email", PARENT)
    page.click("#signin button[type=submit]")
    expect(page.locator("#signin-sent")).to_be_visible()
    shot(page, "signin-sent")
    magic = link(sink)
    assert "/portal/link#" in magic
    page.goto(magic)
    expect(page.locator("#children")).to_be_visible()
    shot(page, "home")
    page.click(f'[data-subject="{CHILD}"]')
    expect(page.locator("#choices")).to_be_visible()
    shot(page, "child")

    # grant precise location: the decision flips; revoke: it flips back
    row = page.locator('#choices tr[data-scope="precise_location"]')
    row.locator("button.grant").click()
    expect(page.locator(".flash.ok")).to_contain_text("Consent given")
    expect(row.locator(".state")).to_have_text("given")
    assert decide().startswith("allow")  # allow, or allow with obligations (e.g. a retention limit)
    shot(page, "granted")
    row.locator("button.revoke").click()
    expect(page.locator(".flash.ok")).to_contain_text("withdrawn")
    expect(row.locator(".state")).to_have_text("not given")
    assert decide() == "deny"
    shot(page, "revoked")

    # download, then delete
    with page.expect_download() as got:
        page.click("#download button")
    export = json.loads(Path(got.value.path()).read_text("utf-8"))
    assert export["subject"] == CHILD and export["complete"] is True and export["rows"]
    page.check("#understood")
    page.click("#delete button")
    expect(page.locator("#deleted")).to_be_visible()
    assert re.fullmatch(r"[0-9a-f]{64}", page.inner_text("#receipt"))
    shot(page, "deleted")
    eng.consent.close()

    # the server's log of the run: no address, no token, none of the child's data
    tokens = re.findall(r"#([A-Za-z0-9_-]{20,})", "\n".join(sink.bodies(PARENT)))
    held = {s for s in strings(export.get("collections", [])) if len(s) >= 8 and ("@" in s or " " in s)}
    out = log.read_text("utf-8", errors="replace")
    assert "Traceback" not in out
    assert "/portal/link" in out and "/portal/children/" in out  # the log holds the run's requests
    assert PARENT not in out and PARENT.split("@")[0] not in out
    for secret in [*tokens, *held]:
        assert secret not in out, "the server log holds personal data or a token"
    assert len(tokens) >= 2 and held  # the scan had something to look for
