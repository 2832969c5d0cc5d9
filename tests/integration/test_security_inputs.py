"""Every bad input is a 4xx, never a 500, and never a lost contact (issue 10, item 4).

Each attack from the issue is replayed as written, on SQLite and on PostgreSQL (whose integer
columns overflow at 2^31-1 and whose text refuses NUL). ``test_security_every_route.py`` then
drives every route with hostile values, and ``test_security_openapi.py`` runs schemathesis
against the API. The app runs with ``TESTING`` on: an unhandled exception fails the test
instead of hiding as a 500.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from werkzeug.routing import IntegerConverter

from oncall.cli.main import main
from oncall.db.models import INTEGER_MAX, Case, OutboundMessage
from oncall.reports.calendars import feed_token
from oncall.web.edge import DatabaseInteger
from tests.fakes.callers import (
    ALICE,
    API,
    MANAGERS,
    PUBLIC,
    TWILIO_TOKEN,
    add_paged_case,
    post_mail,
    sendgrid_mail,
    sign_in,
    twilio_post,
)

BEYOND = str(INTEGER_MAX + 1)  # 2147483648: one past what an integer column holds
HUGE = "3000000000"  # the case number


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(db_url, users=MANAGERS)


@pytest.fixture
def paged_case(runtime):
    add_paged_case(runtime)


def cases(runtime) -> list[Case]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Case).order_by(Case.number)))


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
