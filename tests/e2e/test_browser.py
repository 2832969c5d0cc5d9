"""End to end in a real browser: sign in, watch an SLA clock, read a timeline, waive a fee.

Headless Chromium from Debian (``apt-get install chromium``) driven by Playwright through
``executable_path``: Playwright never downloads a browser. The app is served by werkzeug on a
loopback port from a temporary SQLite database, with the fake clock, so every page shows the
same moment. Screenshots land in ``artifacts/screenshots/`` (git-ignored; CI keeps them).
``docs/dashboard.png`` (shown in the README) is written when missing, or refreshed with
``ONCALL_UPDATE_SCREENSHOTS=1``, so ordinary runs don't churn a committed file.

Without Chromium the test is skipped with the reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from oncall.db.models import Case, CaseEvent, MisuseFlag, OutboundMessage
from oncall.db.session import make_engine
from tests.fakes.seed import case_row

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DOCS_SCREENSHOT = ROOT / "docs" / "dashboard.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSWORD = "correct horse battery"


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"CI must run the browser test: {reason}")
    pytest.skip(reason)


@pytest.fixture
def sync_playwright():
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} not found: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    return sync_playwright


@pytest.fixture
def live_server(make_settings, clock, transports, _sqlite_template, tmp_path):
    """The app on 127.0.0.1:<free port>, on a fresh SQLite database seeded with cases."""
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    path = tmp_path / "browser.db"
    shutil.copy(_sqlite_template, path)
    url = f"sqlite:///{path}"
    settings = make_settings(
        url,
        # Plain http on loopback: a Secure cookie would not be sent back.
        public_url="http://127.0.0.1:5000",
        users={
            "maria": {
                "role": "manager",
                "password_hash": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
            }
        },
    )
    db = make_engine(url)
    runtime = build_runtime(settings, clock=clock, transports=transports, db=db)
    _seed(runtime, clock.now())
    app = create_app(runtime=runtime)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        db.dispose()


def _case(number, now, **extra) -> Case:
    extra.setdefault("severity_claimed", 1)  # a downgrade below keeps what the customer claimed
    return case_row(number, extra.pop("opened_at", now), **extra)


def _seed(runtime, now) -> None:
    minute = timedelta(minutes=1)
    with runtime.sessions() as session, session.begin():
        open_case = _case(
            1042,
            now,
            opened_at=now - 12 * minute,
            recording_url="https://api.twilio.com/2010-04-01/Recordings/RE42",
            recording_duration=37,
        )
        late = _case(
            1043,
            now,
            opened_at=now - 20 * minute,
            customer_key="globex",
            customer_name="Globex",
            channel="email",
            severity=2,
            severity_claimed=2,
            summary="Invoices cannot be processed",
        )
        acked = _case(
            1040,
            now,
            opened_at=now - 50 * minute,
            state="acknowledged",
            acknowledged_at=now - 44 * minute,
            acknowledged_by="alice",
            acknowledged_by_name="Alice Ng",
            summary="API errors for EU users",
        )
        misuse = _case(
            1041,
            now,
            opened_at=now - 3 * 60 * minute,
            state="downgraded",
            severity=3,
            acknowledged_at=now - 170 * minute,
            acknowledged_by="alice",
            acknowledged_by_name="Alice Ng",
            summary="Password reset question",
        )
        session.add_all([open_case, late, acked, misuse])
        session.flush()
        for offset, kind, text in (
            (0, "opened", "Case 1042 opened by voice from Wile E. Coyote (Acme Corp), S1"),
            (0, "page", "Paged Alice Ng (primary) by SMS"),
            (1, "delivered", "Page to Alice Ng delivered"),
            (5, "page", "Paged Bob Roy (secondary) by SMS"),
            (6, "customer_notified", "Customer told (sms): your case number is 1042"),
            (10, "reminder", "Triage reminder sent to Alice Ng, Bob Roy"),
        ):
            session.add(
                CaseEvent(
                    case_id=open_case.id,
                    at=open_case.opened_at + offset * minute,
                    kind=kind,
                    text=text,
                )
            )
        for offset, recipient, body, state in (
            (0, "alice", "S1 Acme Corp: checkout down. Reply ACK 1042", "delivered"),
            (5, "bob", "S1 Acme Corp: checkout down. Reply ACK 1042", "sent"),
            (6, "customer", "Vendor Support: case 1042 is open; an engineer is paged.", "sent"),
        ):
            at = open_case.opened_at + offset * minute
            session.add(
                OutboundMessage(
                    case_id=open_case.id,
                    channel="sms",
                    purpose="page" if recipient != "customer" else "opened",
                    recipient=recipient,
                    to_address="+15550100101",
                    body=body,
                    state=state,
                    next_attempt_at=at,
                    created_at=at,
                )
            )
        session.add(
            MisuseFlag(
                kind="fee",
                case_id=misuse.id,
                customer_key="acme",
                month="2026-11",
                flagged_at=now - 160 * minute,
                flagged_by="Alice Ng",
                severity_claimed=1,
                severity_set=3,
                fee=250.0,
                currency="USD",
                reason="Downgraded from S1 to S3 by Alice Ng",
            )
        )


def test_sign_in_watch_a_case_and_waive_a_fee(sync_playwright, live_server):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.set_default_timeout(15_000)

            # Signed out, the dashboard sends us to the sign-in form.
            page.goto(live_server + "/")
            assert "/login" in page.url
            page.fill("#username", "maria")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(live_server + "/")

            # Now: who is on call, and the open cases with their clocks.
            assert page.locator("text=Alice Ng").first.is_visible()
            assert page.locator("text=until Tue 24 Nov 18:00 EST").first.is_visible()
            page.screenshot(path=str(SCREENSHOTS / "now.png"), full_page=True)

            # Open cases: 1042 is 3 minutes from its triage target (amber), 1043 is late (red).
            page.click("nav >> text=Cases")
            # A click doesn't wait for the next page, and is_visible() doesn't wait at all.
            page.wait_for_url(live_server + "/cases")
            row = page.locator('tr[data-case="1042"]')
            triage = row.locator(".clock").first
            assert "warn" in triage.get_attribute("class")
            first_text = triage.inner_text()
            assert first_text.endswith("left")
            # The countdown script moves the number without a reload.
            page.wait_for_function(
                "([el, before]) => el.textContent !== before",
                arg=[triage.element_handle(), first_text],
            )
            late = page.locator('tr[data-case="1043"] .clock').first
            assert "breached" in late.get_attribute("class")
            assert late.inner_text().endswith("late")

            # Its timeline.
            row.locator("a", has_text="#1042").click()
            page.wait_for_url(live_server + "/cases/1042")
            timeline = page.locator("ul.timeline").first
            assert timeline.locator("li.event").count() == 6
            assert timeline.locator("text=Paged Bob Roy (secondary) by SMS").is_visible()
            assert page.locator("a", has_text="listen").get_attribute("href").endswith("RE42")
            assert page.locator("text=case 1042 is open; an engineer is paged.").first.is_visible()
            page.screenshot(path=str(SCREENSHOTS / "case.png"), full_page=True)

            # Waive the misuse fee on case 1041, with a reason.
            page.click("nav >> text=Misuse")
            page.wait_for_url(live_server + "/misuse")
            flag = page.locator('tr[data-case="1041"]')
            assert flag.locator("text=250.00 USD").is_visible()
            flag.locator("input[name=reason]").fill("First time; customer apologised")
            flag.locator("button", has_text="Waive").click()
            page.wait_for_selector("text=Case 1041: fee waived.")
            waived = page.locator('tr[data-case="1041"] td.waive')
            assert "waived" in waived.inner_text()
            assert "maria: First time; customer apologised" in waived.inner_text()
        finally:
            browser.close()

    for name in ("now.png", "case.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000
    if not DOCS_SCREENSHOT.exists() or os.environ.get("ONCALL_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(SCREENSHOTS / "now.png", DOCS_SCREENSHOT)


def test_acknowledge_and_resolve_a_case_from_its_page(sync_playwright, live_server):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(live_server + "/cases/1042")
            page.fill("#username", "maria")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(live_server + "/cases/1042")

            # Acknowledge: the same use case as ACK by SMS, named on the timeline.
            page.click("#act-ack")
            page.wait_for_selector("text=Case 1042: Acknowledged 1042 (Acme Corp, S1).")
            assert page.locator("h1 .badge", has_text="acknowledged").is_visible()
            assert page.locator("li.event", has_text="Acknowledged by maria via dashboard").count()
            assert not page.locator("#act-ack").count()  # nothing left to acknowledge
            page.screenshot(path=str(SCREENSHOTS / "case-actions.png"), full_page=True)

            # Resolve with a note: the customer is told, and the forms go away.
            page.fill("#resolve-note", "Rolled back the payment release")
            page.click("#act-resolve")
            page.wait_for_selector("text=Case 1042: Resolved 1042 (Acme Corp, S1).")
            assert page.locator("h1 .badge", has_text="resolved").is_visible()
            resolved = page.locator("li.event", has_text="Resolved by maria")
            assert "Rolled back the payment release" in resolved.inner_text()
            assert not page.locator("#act-resolve").count()
            told = page.locator("text=Your case 1042 has been resolved.").first
            assert told.is_visible()
        finally:
            browser.close()
