"""The customer's case page in a real browser, at a phone's width (390 px) and a desktop's
(1280 px): a case the service wrote itself (a call through the IVR, Alice's ACK and status by
SMS), opened from the link in the customer's SMS, with nothing wider than the screen, nothing
fetched from anywhere but the service, and the form adding a note that reaches Alice.

Headless Chromium from Debian driven by Playwright, as in :mod:`tests.e2e.test_browser`
(skipped with the reason when Chromium is missing, except under ``CI=true``).
"""

from __future__ import annotations

import re
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from oncall.db.session import make_engine
from tests.e2e.test_browser import MEASURE, SCREENSHOTS, _launch

# A fixture, re-exported (the "as" form) so pytest finds it here too.
from tests.e2e.test_browser import sync_playwright as sync_playwright
from tests.fakes.case_story import phone_case_story
from tests.fakes.transports import ALICE, WILE, FakeTransport, PagingWorld

pytestmark = pytest.mark.browser

TOKEN = re.compile(r"/c/([A-Za-z0-9_-]+)")


@pytest.fixture
def served_case(make_settings, clock, _sqlite_template, tmp_path):
    """The app on a loopback port; yields (its URL, the case page's path, the world)."""
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    path = tmp_path / "case-page.db"
    shutil.copy(_sqlite_template, path)
    url = f"sqlite:///{path}"
    # Plain http on loopback: a Secure cookie (and with it the CSRF token) would not come back.
    settings = make_settings(url, public_url="http://127.0.0.1:5000")
    db = make_engine(url)
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db
    )
    world = PagingWorld(runtime, clock, fake)
    number = phone_case_story(world, resolve=False)
    token = TOKEN.search(world.last_text(WILE)).group(1)  # the link in Wile's last SMS
    server = make_server("127.0.0.1", 0, create_app(runtime=runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", f"/c/{token}", world, number
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_case_page_reads_well_and_its_form_adds_a_note(sync_playwright, served_case, width):
    base, path, world, number = served_case
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.set_default_timeout(15_000)
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            response = page.goto(base + path)
            assert response is not None and response.status == 200
            assert f"Case {number}" in page.locator("h1").inner_text()
            assert page.locator("#working").inner_text() == "Alice is working on it."
            assert "Database failed over" in page.locator("#status").inner_text()
            assert "EST" in page.locator("#eta").inner_text()
            assert "EST" in page.locator("#next-update").inner_text()
            timeline = page.locator("#timeline").inner_text()
            assert "Alice is working on it" in timeline and "+1555" not in page.content()
            measured = page.evaluate(MEASURE)
            assert measured["scrollWidth"] <= measured["innerWidth"], measured["offenders"]
            assert measured["offenders"] == []
            page.screenshot(path=str(SCREENSHOTS / f"case-page-{width}.png"), full_page=True)

            note = f"Seen from a {width} px screen: orders are queueing again"
            page.fill("#note-text", note)
            page.click("#add-note button[type=submit]")
            page.wait_for_selector(".flash.ok")
            assert "passed to the engineer" in page.locator(".flash.ok").inner_text()
            assert f"Note from Wile E. Coyote: {note}" in page.locator("#timeline").inner_text()
            assert all(url.startswith(base) for url in fetched), fetched  # no third parties
        finally:
            browser.close()
    world.settle()
    assert [t for t in world.texts(ALICE) if note in t]


def test_an_unknown_token_is_a_plain_404(sync_playwright, served_case):
    base, path, _world, _number = served_case
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 800})
            response = page.goto(base + path[:-2] + "xx")
            assert response is not None and response.status == 404
        finally:
            browser.close()
