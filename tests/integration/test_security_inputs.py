"""Every bad input is a 4xx, never a 500, and never a lost contact (issue 10, item 4).

Each attack from the issue is replayed as written, on SQLite and on PostgreSQL (whose integer
columns overflow at 2^31-1 and whose text refuses NUL). Then a property test drives every
route of the app with hostile values in the path, the query and the form, signed or
authenticated as each route needs so the values reach the code behind the door. The app runs
with ``TESTING`` on: an unhandled exception fails the test instead of hiding as a 500.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator
from werkzeug.routing import IntegerConverter
from werkzeug.security import generate_password_hash

from oncall.cli.main import main
from oncall.db.models import INTEGER_MAX, Case, Counter, OutboundMessage
from oncall.reports.calendars import feed_token
from oncall.web.edge import DatabaseInteger
from tests.fakes import seed

PUBLIC = "https://oncall.vendor.example"  # tests/conftest.py BASE_CONFIG
TWILIO_TOKEN = "test-auth-token"
API = {"Authorization": "Bearer test-api-token-0123456789"}
INBOUND = {"Authorization": "Basic " + base64.b64encode(b"sendgrid:inbound-secret").decode()}
ALICE = "+15550100101"  # rotations/support.yaml
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
# A cheap hash method keeps the suite fast; production hashes come from `oncall user add`.
USERS = {
    "maria": {
        "role": "manager",
        "password_hash": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
    }
}
SIGN_IN_ADDRESS = "192.0.2.200"  # apart from the hostile requests' address, which may get limited
BEYOND = str(INTEGER_MAX + 1)  # 2147483648: one past what an integer column holds
HUGE = "3000000000"  # the case number


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(db_url, users=USERS)


# -- helpers --------------------------------------------------------------------------------
def twilio_post(client, path: str, form: dict[str, str]):
    """A POST signed exactly as Twilio signs it (over the values as sent)."""
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def sendgrid_mail(subject: str, sender: str = "wile@acme.example", **extra: str) -> dict:
    """A SendGrid Inbound Parse post from an authenticated contact (SPF and DKIM pass)."""
    message_id = f"<{uuid.uuid4().hex}@acme.example>"
    headers = (
        f"From: Wile E. Coyote <{sender}>\nTo: critical@vendor.example\nSubject: {subject}\n"
        f"Message-ID: {message_id}\nDate: Tue, 24 Nov 2026 08:00:00 +0000\n"
    )
    form = {
        "headers": headers,
        "from": f"Wile E. Coyote <{sender}>",
        "to": "critical@vendor.example",
        "subject": subject,
        "text": "Checkout is down for all users, no workaround.\n",
        "envelope": json.dumps({"to": ["critical@vendor.example"], "from": sender}),
        "SPF": "pass",
        "dkim": "{@acme.example : pass}",
        "charsets": json.dumps({"subject": "UTF-8", "text": "UTF-8", "from": "UTF-8"}),
    }
    form.update(extra)
    return form


def post_mail(client, form: dict):
    return client.post(
        "/email/inbound", data=form, content_type="multipart/form-data", headers=INBOUND
    )


def sign_in(client) -> str:
    """Sign maria in; returns the CSRF token her pages carry."""
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={"username": "maria", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": SIGN_IN_ADDRESS},
    )
    assert response.status_code == 302, response.text
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/cases").text).group(1)


def cases(runtime) -> list[Case]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Case).order_by(Case.number)))


@pytest.fixture
def paged_case(runtime):
    """Case 1001, open, with alice paged for it by SMS and by voice (outbox rows 1 and 2)."""
    with runtime.sessions() as session, session.begin():
        case = seed.add_case(session, 1001, opened_at=NOW)
        # As if intake had opened it: the next case is 1002.
        session.execute(update(Counter).where(Counter.name == "case_number").values(value=1001))
        for channel in ("sms", "voice"):
            session.add(
                OutboundMessage(
                    case_id=case.id,
                    channel=channel,
                    purpose="page",
                    recipient="alice",
                    to_address=ALICE,
                    body="Case 1001 S1 Acme Corp: checkout down",
                    state="sent",
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
            )


# -- the attacks, as the issue wrote them ----------------------------------------------------
def test_an_email_naming_case_3000000000_is_handled_as_a_new_contact(client, runtime):
    response = post_mail(client, sendgrid_mail(f"Re: [Case {HUGE}] Sev 1: checkout down"))
    assert response.status_code == 200  # SendGrid stops retrying: the contact is not lost
    assert [c.number for c in cases(runtime)] == [1001]  # a new case, not "case 3000000000"
    assert response.get_json()["case_number"] == 1001


def test_an_engineer_naming_a_huge_case_number_by_sms_gets_an_answer(client, paged_case):
    for body in (f"ACK {HUGE}", f"RESOLVE {BEYOND} fixed", "SEV 99999999999999999999 3"):
        form = {"From": ALICE, "To": "+15555550501", "Body": body, "MessageSid": uuid.uuid4().hex}
        response = twilio_post(client, "/twilio/sms", form)
        assert response.status_code == 200, body


def test_a_non_ascii_feed_token_is_403(client):
    for token in ("é", "%00", "☃" * 40, "\u200b", feed_token("wrong", "support", None) + "é"):
        assert client.get(f"/rota/support.ics?token={quote(token)}").status_code == 403, token
    assert client.get("/rota/support/alice.ics?token=%C3%A9").status_code == 403


def test_nul_bytes_in_a_signed_sms_and_its_from_are_stripped(client, runtime, paged_case):
    form = {
        "From": ALICE + "\x00",
        "To": "+15555550501",
        "Body": "ACK\x00 1001",
        "MessageSid": "SM" + "0" * 31 + "\x00",
    }
    response = twilio_post(client, "/twilio/sms", form)
    assert response.status_code == 200
    assert "\x00" not in response.text
    (case,) = cases(runtime)
    assert case.state == "acknowledged" and case.acknowledged_by == "alice"


def test_a_forged_sms_with_nul_bytes_is_still_403(client, runtime, paged_case):
    """Stripping happens after the signature is checked against what arrived, not before."""
    form = {"From": ALICE, "To": "+15555550501", "Body": "ACK 1001", "MessageSid": "SM1"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + "/twilio/sms", form)
    tampered = {**form, "Body": "ACK 1001\x00"}
    response = client.post("/twilio/sms", data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert cases(runtime)[0].state == "open"


@pytest.mark.parametrize(
    "path",
    [
        f"/twilio/page/{HUGE}",
        f"/twilio/page/{BEYOND}/ack",
        "/twilio/page/99999999999999999999",
        f"/twilio/voice/pin/{HUGE}",
        f"/twilio/voice/menu/{BEYOND}",
        f"/twilio/voice/dial-result/{HUGE}",
        f"/twilio/voice/whisper/{HUGE}/alice",
        f"/twilio/voice/whisper-result/{BEYOND}/alice",
    ],
)
def test_huge_ids_in_twilio_routes_are_no_such_page(client, paged_case, path):
    form = {"CallSid": "CA" + "1" * 32, "From": ALICE, "To": "+15555550501", "Digits": "1"}
    assert twilio_post(client, path, form).status_code == 404


def test_the_largest_id_an_integer_column_holds_still_reaches_the_view(client, paged_case):
    form = {"CallSid": "CA" + "1" * 32, "From": ALICE, "To": "+15555550501"}
    response = twilio_post(client, f"/twilio/page/{INTEGER_MAX}", form)
    assert response.status_code == 200
    assert "no longer available" in response.text


@pytest.mark.parametrize("number", [HUGE, BEYOND, "99999999999999999999", "1" * 5000])
def test_huge_case_numbers_in_the_api_are_no_such_case(client, number):
    response = client.get(f"/api/cases/{number}", headers=API)
    assert response.status_code == 404
    assert response.get_json() == {"error": "not found"}


def test_huge_case_numbers_on_the_dashboard_are_no_such_case(client, runtime):
    csrf = sign_in(client)
    assert client.get(f"/cases/{HUGE}").status_code == 404
    waive = client.post(f"/misuse/{BEYOND}/waive", data={"reason": "x", "csrf_token": csrf})
    assert waive.status_code == 404


def test_every_int_route_is_bounded_by_the_integer_column(app):
    converters = [
        (rule.rule, converter)
        for rule in app.url_map.iter_rules()
        for converter in rule._converters.values()
        if isinstance(converter, IntegerConverter)
    ]
    assert len(converters) >= 9  # dashboard, Twilio pages and voice steps, the API
    for rule, converter in converters:
        assert isinstance(converter, DatabaseInteger) and converter.max == INTEGER_MAX, rule


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01",
        "since=0001-01-01T00:00:00%2B14:00",
        "until=9999-12-31",
        "until=9999-12-31T23:59:59-12:00",
        "since=1899-12-31",
        "until=0000-01-01",
        "since=",
    ],
)
def test_dates_near_year_1_or_9999_are_400(client, query):
    response = client.get(f"/api/cases?{query}", headers=API)
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_dates_inside_the_supported_years_are_fine(client):
    for query in ("since=1900-01-01", "until=9998-12-31T23:59:59-12:00", "since=2026-11-24t08:00z"):
        assert client.get(f"/api/cases?{query}", headers=API).status_code == 200, query


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "0001-01", "1899-12", "2026-13"])
def test_a_month_out_of_range_is_400_in_the_api_and_on_the_dashboard(client, month):
    for path in ("/api/reports/sla", "/api/reports/misuse"):
        response = client.get(f"{path}?month={month}", headers=API)
        assert response.status_code == 400, path
        assert month in response.get_json()["error"]
    sign_in(client)
    for path in ("/reports", "/misuse", "/reports/misuse.csv"):
        assert client.get(f"{path}?month={month}").status_code == 400, path


@pytest.mark.parametrize("command", ["sla", "misuse"])
def test_a_month_out_of_range_is_refused_by_the_cli(runner, settings, command):
    result = runner.invoke(
        main, ["--config", settings.source, "report", command, "--month", "0000-01"]
    )
    assert result.exit_code == 2
    assert "outside the years 1900-9998" in result.output


@pytest.mark.parametrize(
    "path",
    ["/rota/sup%00port.ics", "/api/cases/%00", "/cases/1%0a", "/twilio/voice%00", "/healthz%7f"],
)
def test_control_characters_in_a_path_are_400(client, path):
    assert client.get(path).status_code == 400


def test_control_characters_in_an_api_query_are_400(client):
    response = client.get("/api/cases?team=supp%00ort", headers=API)
    assert response.status_code == 400
    assert response.get_json() == {"error": "the query has control characters"}


def test_a_status_callback_with_an_impossible_error_code_is_recorded_without_it(
    client, runtime, paged_case
):
    with runtime.sessions() as session, session.begin():
        session.scalars(select(OutboundMessage)).first().provider_id = "SM" + "a" * 32
    for code in ("99999999999", "²", "١٢", "30003\x00"):
        form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "undelivered", "ErrorCode": code}
        assert twilio_post(client, "/twilio/status", form).status_code == 200, code


def test_a_recording_of_impossible_length_is_no_500(client):
    form = {
        "CallSid": "CA" + "2" * 32,
        "From": "+15551230001",
        "To": "+15555550501",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
        "RecordingDuration": "99999999999",
        "Digits": "hangup",
    }
    assert twilio_post(client, "/twilio/voice", form).status_code == 200
    assert twilio_post(client, "/twilio/voice/recorded", form).status_code < 500


def test_the_openapi_document_needs_no_token(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.1")
    assert client.get("/api/cases").status_code == 401  # the data stays behind the token


# -- every route, every hostile value --------------------------------------------------------
HOSTILE = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\x1b[31m",
            "\u202e",
            HUGE,
            BEYOND,
            "99999999999999999999",
            "-1",
            "²",
            "١٢٣",
            "é",
            "0000-01",
            "9999-12",
            "0001-01-01",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00",
            "/%09/evil.example",
            "//evil.example",
            "/\\evil.example",
            "../../etc/passwd",
            "%00",
            "",
            "x" * 2000,
        ]
    ),
)
QUERY_NAMES = ["token", "month", "since", "until", "next", "limit", "state", "severity", "team"]
FORM_NAMES = [
    *("From", "To", "Body", "MessageSid", "CallSid", "Digits", "CallStatus", "MessageStatus"),
    *("ErrorCode", "RecordingUrl", "RecordingDuration", "RecordingSid", "DialCallStatus"),
    *("from", "to", "subject", "text", "headers", "envelope", "SPF", "dkim", "email"),
    *("username", "password", "reason", "next"),
]
names = st.one_of(st.sampled_from(QUERY_NAMES + FORM_NAMES), st.text(min_size=1, max_size=8))
# Values a route would accept, so that a hostile value elsewhere gets past the first check.
PLAUSIBLE_PATH = st.sampled_from(["1", "2", "1001", str(INTEGER_MAX), "alice", "support"])
_CALLS = iter(range(10**9))


def _plausible_form(path: str) -> dict[str, str]:
    """What the provider would send to ``path``: the hostile values are laid over it."""
    unique = str(next(_CALLS))
    if path.startswith("/twilio/"):
        return {
            "From": ALICE if "sms" in path else "+15551230001",
            "To": "+15555550501",
            "Body": "ACK 1001",
            "MessageSid": "SM" + unique.zfill(32),
            "CallSid": "CA" + unique.zfill(32),
            "CallStatus": "in-progress",
            "Digits": "1",
            "MessageStatus": "delivered",
            "RecordingSid": "RE" + unique.zfill(32),
            "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
            "RecordingDuration": "12",
            "DialCallStatus": "no-answer",
        }
    if path.startswith("/email/"):
        return sendgrid_mail("Sev 1: checkout down for all users")
    return {"username": "maria", "password": "wrong", "reason": "goodwill", "next": "/cases"}


def _routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method))
    return found


def _fill(rule: str, values: list[str]) -> str:
    """The rule with each placeholder replaced by a hostile value, percent-encoded."""
    parts = iter(values)
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", lambda _m: quote(next(parts), safe=""), rule)


def _send(client, method: str, path: str, query: dict, form: dict, csrf: str):
    url = path + (
        "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items()) if query else ""
    )
    headers: dict[str, str] = {}
    if path.startswith("/twilio/"):
        signed = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + url, form)
        headers["X-Twilio-Signature"] = signed
    elif path.startswith("/email/"):
        headers.update(INBOUND)
    elif path.startswith("/api/"):
        headers.update(API)
    elif method == "POST":
        form = {**form, "csrf_token": csrf}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.open(url, method=method, data=form, headers=headers)


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
@hypothesis_settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(
    data=st.data(),
    query=st.dictionaries(names, HOSTILE, max_size=4),
    form=st.dictionaries(names, HOSTILE, max_size=6),
)
def test_every_route_answers_hostile_values_without_a_server_error(
    app, client, paged_case, data, query, form
):
    routes = _routes(app)
    rule, method = data.draw(st.sampled_from(routes), label="route")
    placeholders = len(re.findall(r"<[^<>]+>", rule))
    values = data.draw(
        st.lists(st.one_of(PLAUSIBLE_PATH, HOSTILE), min_size=placeholders, max_size=placeholders)
    )
    path = _fill(rule, values)
    form = {**_plausible_form(path), **form}
    with client.session_transaction() as session:
        session.clear()
    csrf = sign_in(client) if data.draw(st.booleans(), label="signed in") else ""
    response = _send(client, method, path, query, form, csrf)
    assert response.status_code < 500, (method, rule, values, query, form)


HOSTILE_HEADERS = [
    {"Authorization": "Bearer é"},
    {"Authorization": "Basic !!!not-base64"},
    {"Authorization": "Basic " + base64.b64encode("é:\x00".encode()).decode()},
    {"X-Twilio-Signature": "é" * 28},
    {"X-Request-Id": "\x00" * 10},
    {"Cookie": "session=é.garbage; oncall_device=\x01"},
    {"X-Forwarded-For": "not-an-address, \x00"},
    {"Referer": "javascript:alert(1)"},
]


@pytest.mark.parametrize("headers", HOSTILE_HEADERS)
def test_hostile_headers_get_no_server_error(app, client, headers):
    for path in ("/api/cases", "/twilio/sms", "/email/inbound", "/metrics", "/login", "/cases"):
        assert client.get(path, headers=headers).status_code < 500, path
        assert client.post(path, data={"Body": "x"}, headers=headers).status_code < 500, path
