"""The console end to end in Debian's Chromium (Playwright) against a real `tutela serve`:
sign in as a DPO, open the most severe finding, plan a dry-run remediation, approve it and
execute it as a second DPO (live progress until done), answer a rights request before its
deadline with four-eyes, read every other page, on a phone too, and the neutral age gate.
Screenshots of each page go to docs/screenshots/console-*.png."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from console_fixture import AS_OF, PASSWORD, REDIS, ConsoleEstate, console_estate

SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: the console must be checked in a real browser "
                    "(`bash scripts/ensure-services.sh` installs it, or `apt-get install -y chromium`)")
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, ConsoleEstate]]:
    with console_estate(tmp_path) as e:
        port = _free_port()
        log = tmp_path / "server.log"
        env = {**os.environ, "TUTELA_STATE": e.state_url, "TUTELA_HOME": str(tmp_path / "home")}
        proc = subprocess.Popen([sys.executable, "-m", "tutela", "serve", "--port", str(port), "--estate", e.url,
                                 "--media", str(e.media), "--redis", REDIS, "--redis-prefix", e.prefix,
                                 "--as-of", AS_OF.isoformat()], env=env, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
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
            yield base, e
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            out = log.read_text("utf-8", errors="replace")
            assert PASSWORD not in out and "Traceback" not in out, out[-3000:]


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def sign_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/console")
    expect(page.locator("#name")).to_be_visible()
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_contain_text(name)


def sign_out(page: Page) -> None:
    page.click("header button[type=submit]")
    expect(page.locator("#name")).to_be_visible()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield b
        b.close()


def test_dpo_flow_in_a_real_browser(server: tuple[str, ConsoleEstate], browser: Browser) -> None:
    base, _estate = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/console")
    expect(page).to_have_url(re.compile(r"/console/signin\?next=/console$"))
    shot(page, "signin")
    sign_in(page, base, "alice")
    rules = int(page.inner_text("#n-rules"))
    assert rules > 0 and int(page.inner_text("#n-children").replace(",", "")) > 0
    shot(page, "overview")

    page.click("nav >> text=Findings")
    first = page.locator("#findings tbody tr").first
    assert first.locator(".sev").inner_text() == "critical"  # sorted by risk: the most severe first
    rule = first.locator("a b").inner_text()
    assert page.locator("svg.chart rect").count() == rules  # every rule in the chart
    shot(page, "findings")
    first.locator("a").first.click()
    expect(page.locator("#rule")).to_have_text(rule)
    expect(page.locator("#citation")).to_contain_text("Source")
    shot(page, "finding")

    page.click("#plan")  # a dry run: nothing changes yet
    expect(page.locator("#job-status")).to_have_text("pending_approval")
    expect(page.locator("#four-eyes")).to_be_visible()
    assert page.locator("#approve").count() == 0  # the planner cannot approve
    job_url = page.url.split("?")[0]
    shot(page, "job-planned")
    sign_out(page)

    sign_in(page, base, "bob")
    page.goto(job_url)
    page.click("#approve")
    expect(page.locator("#job-status")).to_have_text("approved")
    expect(page.locator("#approved-by")).to_have_text("bob")
    page.click("#execute")
    expect(page.locator("#confirm")).to_be_visible()
    shot(page, "confirm")
    page.check("#confirm-box")
    page.click("#confirm")
    expect(page.locator("#job-status")).to_have_text("done", timeout=240_000)  # live progress, then reload
    shot(page, "job-done")
    page.click("nav >> text=Overview")
    expect(page.locator("#n-rules")).to_have_text(str(rules - 1))  # the estate as it is now: that rule is repaired
    page.click("nav >> text=Findings")
    assert page.locator(f"#findings a[href='/console/findings/{rule}']").count() == 0

    page.click("nav >> text=Requests")
    page.select_option("#kind", "access")
    page.fill("#subject", "1")
    page.fill("#ref", "T-42")
    page.click("#new-request button[type=submit]")
    expect(page.locator("#request-status")).to_have_text("pending_approval")
    expect(page.locator("#four-eyes")).to_be_visible()
    request_url = page.url.split("?")[0]
    sign_out(page)

    sign_in(page, base, "alice")
    page.goto(request_url)
    page.click("#approve-request")
    expect(page.locator("#request-status")).to_have_text("approved")
    page.click("#run-request")
    expect(page.locator("#request-status")).to_have_text("done", timeout=120_000)
    assert "answered late" not in page.content()  # answered before its deadline
    shot(page, "request")
    page.click("nav >> text=Requests")
    shot(page, "requests")
    for nav, name, marker in (("Data map", "datamap", "svg.graph"), ("Rulebook", "rulebook", "#jurisdictions"),
                              ("Ledger", "ledger", "#ledger-status"), ("Consent", "consent", "#consent-empty")):
        page.click(f"nav >> text={nav}")
        expect(page.locator(marker)).to_be_visible()
        shot(page, name)
    page.click("nav >> text=Rulebook")
    page.click("#jurisdictions a[href='/console/rulebook/NL']")
    expect(page.locator("#rules")).to_be_visible()
    shot(page, "jurisdiction")
    page.goto(f"{base}/report")
    expect(page.locator("#n-rules")).to_have_text(str(rules - 1))

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in(phone, base, "aud")
    wide = phone.evaluate("""[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391
                             && !e.closest('.table-wrap')).map(e => e.tagName + '.' + e.className).slice(0, 5)""")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391, wide  # no sideways scrolling on a phone
    shot(phone, "phone-overview")
    assert phone.locator("form[action='/console/audits']").count() == 0  # the auditor cannot run an audit


def test_age_gate_in_a_real_browser(server: tuple[str, ConsoleEstate], browser: Browser) -> None:
    base, _ = server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}/age-gate?jurisdiction=NL")
    assert page.input_value("#year") == "" and page.input_value("#day") == "" and page.input_value("#month") == ""
    shot(page, "age-gate")
    page.select_option("#day", "1")
    page.select_option("#month", "5")
    page.fill("#year", "2015")
    page.click("button[type=submit]")
    result = page.locator("#gate-result")
    expect(result).to_have_text("You can continue.")
    assert result.get_attribute("data-experience") == "restricted"
    page.goto(f"{base}/age-gate?jurisdiction=NL")  # another date on the same browser: the result sticks
    page.select_option("#day", "1")
    page.select_option("#month", "5")
    page.fill("#year", "1990")
    page.click("button[type=submit]")
    assert page.locator("#gate-result").get_attribute("data-experience") == "restricted"
