"""The dashboard: sign-in, the guard, CSRF, every page, SLA colours, waiving a fee.

Cases are inserted with the ORM so these tests don't depend on the engine or intake.
The fake clock stands at Tuesday 2026-11-24 03:00 in Toronto (08:00 UTC).
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from oncall.db.models import Attempt, Case, CaseEvent, MisuseFlag, OutboundMessage
from oncall.web.auth import LIMIT, PUBLIC, is_public
from tests.fakes import seed

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
# A cheap hash method keeps the suite fast; production hashes come from `oncall user add`.
FAST = "pbkdf2:sha256:1000"
USERS = {
    "maria": {"role": "manager", "password_hash": generate_password_hash(PASSWORD, FAST)},
    "eddie": {"role": "engineer", "password_hash": generate_password_hash(PASSWORD, FAST)},
}
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RECORDING = "RE" + "0123456789abcdef" * 2  # a recording SID's shape


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(db_url, users=USERS)


# -- helpers ----------------------------------------------------------------------------------
def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, username="maria", password=PASSWORD, next_url=None, address="127.0.0.1"):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    data = {"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    if next_url:
        data["next"] = next_url
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


def session_csrf(client) -> str:
    """The signed-in session's CSRF token, as its pages carry it."""
    return csrf_from(client.get("/cases").text)


def add_case(session, number: int, *, opened_at=NOW, state="open", severity=1, **extra) -> Case:
    return seed.add_case(
        session, number, opened_at=opened_at, state=state, severity=severity, **extra
    )


def add_flag(session, case: Case, **extra) -> MisuseFlag:
    values = dict(
        kind="fee",
        case_id=case.id,
        customer_key=case.customer_key,
        month="2026-11",
        flagged_at=NOW,
        flagged_by="alice",
        severity_claimed=1,
        severity_set=3,
        fee=250.0,
        currency="USD",
        reason="downgraded to S3 by alice",
    )
    values.update(extra)
    flag = MisuseFlag(**values)
    session.add(flag)
    session.flush()
    return flag


def row_for(html: str, number: int) -> str:
    match = re.search(rf'<tr data-case="{number}">(.*?)</tr>', html, re.S)
    assert match, f"case {number} not listed"
    return match.group(1)


# -- the guard --------------------------------------------------------------------------------
SAMPLE_VALUES = {"number": "1001", "team": "support", "member": "alice", "filename": "x.css"}


def _example_path(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE_VALUES.get(m.group(1), "x"), rule.rule)


def test_every_route_needs_sign_in_unless_listed_public(app, client):
    checked = 0
    for rule in app.url_map.iter_rules():
        path = _example_path(rule)
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS"})[0]
        response = client.open(path, method=method)
        if is_public(path):
            assert not response.headers.get("Location", "").startswith("/login"), path
        else:
            assert response.status_code == 302, (method, path, response.status_code)
            assert response.headers["Location"].startswith("/login?next="), path
            checked += 1
    assert checked >= 8  # the dashboard's pages and forms


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/cases",
        "/cases/1001",
        "/rotas",
        "/rotas/support",
        "/misuse",
        "/reports",
        "/reports/misuse.csv",
        "/no-such-page",
    ],
)
def test_pages_redirect_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=" + path


def test_posts_redirect_to_sign_in(client):
    for path in ("/misuse/1001/waive", "/logout"):
        response = client.post(path, data={"reason": "x"})
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_public_paths_answer_without_sign_in(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/cases").status_code == 401  # its own bearer token, not a redirect
    assert client.get("/login").status_code == 200
    css = client.get("/static/dashboard.css")
    assert css.status_code == 200
    css.close()
    assert not client.get("/rota/support.ics").headers.get("Location")


def test_public_prefixes_are_exact():
    assert is_public("/twilio/voice") and is_public("/email/inbound")
    assert is_public("/rota/support.ics") and is_public("/rota/support/alice.ics")
    assert not is_public("/rota/support")  # only the iCal feeds are public under /rota/
    assert not is_public("/healthzz") and not is_public("/metrics-secret")
    assert not is_public("/twilio") and not is_public("/")
    assert all(p.protected_by for p in PUBLIC)


# -- signing in -------------------------------------------------------------------------------
def test_sign_in_and_out(client):
    response = sign_in(client, next_url="/cases")
    assert response.status_code == 302 and response.headers["Location"] == "/cases"
    page = client.get("/")
    assert page.status_code == 200
    assert "maria (manager)" in page.text
    logout = client.post("/logout", data={"csrf_token": session_csrf(client)})
    assert logout.status_code == 302 and logout.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_session_cookie_flags(client):
    response = sign_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # the test config's public_url is https


def test_wrong_password_and_unknown_user_are_rejected(client):
    for username, password in (("maria", "wrong"), ("nobody", PASSWORD), ("maria", "")):
        response = sign_in(client, username, password)
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
    assert client.get("/").status_code == 302


def test_next_must_be_a_local_path(client):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = sign_in(client, next_url=target)
        assert response.headers["Location"] == "/", target
        client.post("/logout", data={"csrf_token": session_csrf(client)})


def test_sign_in_is_rate_limited_per_address(client, clock):
    for _ in range(LIMIT):
        assert sign_in(client, password="guess").status_code == 401
    blocked = sign_in(client)  # even the right password is refused while blocked
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.text
    # The address waits whatever name it tries; another address does not.
    assert sign_in(client, "eddie").status_code == 429
    assert sign_in(client, address="192.0.2.7").status_code == 302
    client.post("/logout", data={"csrf_token": session_csrf(client)})
    clock.advance(minutes=15, seconds=1)
    assert sign_in(client).status_code == 302


def test_session_expires(client, clock):
    sign_in(client)
    assert client.get("/").status_code == 200
    clock.advance(hours=12, minutes=1)
    assert client.get("/").status_code == 302


# -- CSRF -------------------------------------------------------------------------------------
def test_sign_in_without_csrf_token_is_rejected(client):
    client.get("/login")
    response = client.post("/login", data={"username": "maria", "password": PASSWORD})
    assert response.status_code == 400
    response = client.post(
        "/login", data={"username": "maria", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_posts_without_the_right_csrf_token_are_rejected(client, runtime):
    with runtime.sessions() as session, session.begin():
        add_flag(session, add_case(session, 1001))
    sign_in(client)
    for data in ({"reason": "goodwill"}, {"reason": "goodwill", "csrf_token": "wrong"}):
        assert client.post("/misuse/1001/waive", data=data).status_code == 400
        assert client.post("/logout", data=data).status_code == 400
    with runtime.sessions() as session:
        assert session.query(MisuseFlag).one().waived_at is None
    assert client.get("/").status_code == 200  # still signed in


# -- pages ------------------------------------------------------------------------------------
def test_now_page_shows_who_is_on_call_until_when_and_next(client):
    sign_in(client)
    html = client.get("/").text
    # Tuesday 03:00 in Toronto: Alice is primary until Carol's override at 18:00 tonight.
    assert "Alice Ng" in html and "until Tue 24 Nov 18:00 EST" in html
    assert "Carol Li" in html and "from Tue 24 Nov 18:00 EST" in html
    # Secondary: Bob this week, Carol from Monday's 09:00 handoff.
    assert "Bob Roy" in html and "until Mon 30 Nov 09:00 EST" in html
    assert "from Mon 30 Nov 09:00 EST" in html


def test_security_headers_on_pages(client):
    sign_in(client)
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_open_cases_page_sla_colours_follow_the_clock(client, runtime, clock):
    with runtime.sessions() as session, session.begin():
        add_case(session, 1001, severity=1)
        add_case(
            session,
            1002,
            severity=2,
            state="acknowledged",
            acknowledged_at=NOW + timedelta(minutes=3),
            acknowledged_by="alice",
            acknowledged_by_name="Alice Ng",
        )
        add_case(session, 1003, state="resolved")
    sign_in(client)

    row = row_for(client.get("/cases").text, 1001)
    assert 'class="clock ok"' in row and "15m 00s left" in row
    assert "Acme Corp" in row and "Phone" in row and "S1" in row
    acked = row_for(client.get("/cases").text, 1002)
    assert "Alice Ng" in acked and 'class="clock met"' in acked

    clock.advance(minutes=11)  # 4 minutes left: inside warn_before (5m)
    row = row_for(client.get("/cases").text, 1001)
    triage, status = re.findall(r'<span class="clock (\w+)"', row)
    assert (triage, status) == ("warn", "ok")
    assert "4m 00s left" in row

    clock.advance(minutes=5)  # 1 minute past the triage target
    row = row_for(client.get("/cases").text, 1001)
    triage, status = re.findall(r'<span class="clock (\w+)"', row)
    assert (triage, status) == ("breached", "ok")
    assert "1m 00s late" in row

    clock.advance(minutes=45)  # the first status is now 1 minute late too
    row = row_for(client.get("/cases").text, 1001)
    assert re.findall(r'<span class="clock (\w+)"', row) == ["breached", "breached"]
    # The countdown script reads the due time from data attributes.
    assert 'data-due="2026-11-24T08:15:00+00:00"' in row


def test_case_page_shows_timeline_recording_and_what_the_customer_was_told(client, runtime):
    with runtime.sessions() as session, session.begin():
        case = add_case(
            session,
            1001,
            summary="<script>alert(1)</script> checkout down",
            recording_url=f"https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/{RECORDING}",
            recording_duration=42,
        )
        for minutes, kind, text in (
            (0, "opened", "Case 1001 opened by voice"),
            (0, "page", "Paged Alice Ng by SMS"),
            (1, "delivered", "Page delivered to Alice Ng"),
            (16, "breach", "Triage target missed"),
            (17, "acknowledged", "Acknowledged by Alice Ng"),
            (20, "customer_notified", "Customer told (sms): we are on it"),
        ):
            session.add(
                CaseEvent(
                    case_id=case.id,
                    at=NOW + timedelta(minutes=minutes),
                    kind=kind,
                    text=text,
                    data={"target": "triage"} if kind == "breach" else {},
                )
            )
        for recipient, purpose, body, state in (
            ("alice", "page", "S1 Acme Corp: checkout down. Reply ACK 1001", "delivered"),
            ("customer", "customer_update", "We are on it. Case 1001.", "sent"),
        ):
            session.add(
                OutboundMessage(
                    case_id=case.id,
                    channel="sms",
                    purpose=purpose,
                    recipient=recipient,
                    to_address="+15551230001",
                    body=body,
                    state=state,
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
            )
    sign_in(client)
    response = client.get("/cases/1001")
    assert response.status_code == 200
    html = response.text
    for text in ("Paged Alice Ng by SMS", "Triage target missed", "Acknowledged by Alice Ng"):
        assert text in html
    assert 'data-kind="breach"' in html
    # The recording plays through the service; the page never links Twilio.
    assert '<audio controls preload="none" src="/cases/1001/recording">' in html
    assert "api.twilio.com" not in html and RECORDING not in html
    assert "We are on it. Case 1001." in html  # what the customer was told
    assert "Reply ACK 1001" in html and ">delivered<" in html  # outbox rows with state
    assert "<script>alert(1)</script>" not in html  # escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_case_page_does_not_link_a_non_web_recording_url(client, runtime):
    with runtime.sessions() as session, session.begin():
        add_case(session, 1001, recording_url="javascript:alert(1)")
    sign_in(client)
    html = client.get("/cases/1001").text
    assert "javascript:" not in html


def test_unknown_case_is_404(client):
    sign_in(client)
    assert client.get("/cases/999").status_code == 404


def test_unknown_page_is_404_once_signed_in(client):
    sign_in(client)
    assert client.get("/no-such-page").status_code == 404


def test_rota_page_shows_fourteen_days_with_overrides(client):
    sign_in(client)
    assert client.get("/rotas").headers["Location"] == "/rotas/support"  # the only team
    html = client.get("/rotas/support").text
    assert len(re.findall(r"<tr class=\"(?:today)?\">", html)) == 14
    assert html.count('<tr class="today">') == 1
    assert "swap with alice" in html  # the override note
    assert "badge override" in html
    assert client.get("/rotas/nope").status_code == 404


def test_rota_page_shows_errors_while_the_last_good_version_is_live(
    make_settings, db_url, clock, transports, db_engine, tmp_path
):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    rotations = tmp_path / "rotations"
    rotations.mkdir()
    shutil.copy(ROOT / "rotations" / "support.yaml", rotations / "support.yaml")
    settings = make_settings(db_url, users=USERS, paths={"rotations": str(rotations)})
    runtime = build_runtime(settings, clock=clock, transports=transports, db=db_engine)
    path = rotations / "support.yaml"
    path.write_text(path.read_text().replace("shift: 1w", "shift: one week", 1))
    runtime.rotas.reload()
    assert runtime.rotas.errors() and runtime.rotas.team("support") is not None

    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    sign_in(client)
    html = client.get("/rotas/support").text
    assert "the rota below is the last good version" in html
    assert "support.yaml" in html and "Alice Ng" in html
    # When the live version was loaded, in the team's zone like every other time.
    assert "paging uses the version loaded at Tue 2026-11-24 03:00 EST" in html
    assert "UTC" not in html
    assert "last good version is live" in client.get("/").text


def test_misuse_page_lists_flags_and_refused_attempts_for_the_month(client, runtime):
    with runtime.sessions() as session, session.begin():
        add_flag(session, add_case(session, 1001, state="downgraded"))
        october = add_case(session, 1002, opened_at=NOW - timedelta(days=40))
        add_flag(session, october, month="2026-10", flagged_at=NOW - timedelta(days=40))
        for days, reason, customer in (
            (1, "not_entitled", "initech"),
            (2, "not_entitled", "initech"),
            (3, "non_critical", "initech"),
            (1, "unknown_caller", None),
            (40, "not_entitled", "globex"),  # October: not this month
        ):
            session.add(
                Attempt(
                    at=NOW - timedelta(days=days),
                    channel="voice",
                    reason=reason,
                    customer_key=customer,
                    contact="+15551230201",
                    told="Regular support",
                )
            )
    sign_in(client)
    html = client.get("/misuse").text
    assert "2026-11" in html
    assert '<tr data-case="1001">' in html and '<tr data-case="1002">' not in html
    assert "250.00 USD" in html
    assert "Initech" in html
    assert "Plan does not cover it ×2" in html and "Not severity 1 or 2 ×1" in html
    assert "not_entitled" not in html and "non_critical" not in html  # words, not codes
    assert "unknown caller" in html
    assert "Globex" not in html
    october_html = client.get("/misuse?month=2026-10").text
    assert '<tr data-case="1002">' in october_html and "Globex" in october_html
    assert client.get("/misuse?month=2026-13").status_code == 400


def test_waive_needs_a_reason(client, runtime):
    with runtime.sessions() as session, session.begin():
        add_flag(session, add_case(session, 1001))
    sign_in(client)
    response = client.post(
        "/misuse/1001/waive", data={"reason": "   ", "csrf_token": session_csrf(client)}
    )
    assert response.status_code == 302
    assert "Give a reason" in client.get("/misuse").text
    with runtime.sessions() as session:
        assert session.query(MisuseFlag).one().waived_at is None


def test_engineers_cannot_waive(client, runtime):
    with runtime.sessions() as session, session.begin():
        add_flag(session, add_case(session, 1001))
    sign_in(client, "eddie")
    assert "Only a manager can waive" in client.get("/cases/1001").text
    response = client.post(
        "/misuse/1001/waive", data={"reason": "goodwill", "csrf_token": session_csrf(client)}
    )
    assert response.status_code == 403


def test_manager_waives_a_fee(client, runtime):
    with runtime.sessions() as session, session.begin():
        add_flag(session, add_case(session, 1001, state="downgraded", severity=3))
    sign_in(client)
    page = client.get("/misuse").text
    assert 'aria-label="Reason for waiving case 1001"' in page
    response = client.post(
        "/misuse/1001/waive",
        data={"reason": "first offence", "csrf_token": csrf_from(page), "next": "/misuse"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/misuse"
    with runtime.sessions() as session:
        flag = session.query(MisuseFlag).one()
        assert flag.waived_at is not None
        assert flag.waived_by == "maria" and flag.waive_reason == "first offence"
    html = client.get("/misuse").text
    assert "fee waived" in html and "maria: first offence" in html
    assert "waived" in client.get("/cases/1001").text


def test_reports_page_and_csv(client, runtime):
    with runtime.sessions() as session, session.begin():
        add_case(session, 1001, acknowledged_at=NOW + timedelta(minutes=5), state="acknowledged")
        add_flag(session, add_case(session, 1002, state="downgraded"))
    sign_in(client)
    html = client.get("/reports?month=2026-11").text
    assert "SLA compliance" in html and "5m 00s" in html and "100.0%" in html
    assert "250.00 USD" in html
    csv = client.get("/reports/misuse.csv?month=2026-11")
    assert csv.mimetype == "text/csv"
    assert csv.text.splitlines()[0].startswith("customer,customer_name,case,date")
    assert "acme,Acme Corp,1002,2026-11-24" in csv.text
    assert client.get("/reports?month=nope").status_code == 400


def test_waiving_a_case_without_a_flag_says_why(client, runtime):
    with runtime.sessions() as session, session.begin():
        add_case(session, 1001)
    sign_in(client)
    response = client.post(
        "/misuse/1001/waive", data={"reason": "goodwill", "csrf_token": session_csrf(client)}
    )
    assert response.status_code == 302
    assert "Case 1001 has no misuse flag." in client.get("/misuse").text
