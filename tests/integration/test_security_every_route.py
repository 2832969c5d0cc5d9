"""Every route, driven with hostile values (issue 10, item 4's property test).

Hypothesis picks a route of the app (every rule, every method), fills its path with hostile or
plausible values, adds hostile query and form values over what the provider would send, and
sends it as that route's caller does: signed by Twilio, with SendGrid's Basic credentials, the
API's bearer token, or from a signed-in manager's browser with the CSRF token, so the values
get past the door to the code behind it. Nothing may answer 5xx; on both databases. The app
runs with ``TESTING`` on, so an unhandled exception fails the test instead of hiding as a 500.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from oncall.db.models import INTEGER_MAX
from tests.fakes.callers import (
    ALICE,
    API,
    INBOUND,
    MANAGERS,
    PUBLIC,
    TWILIO_TOKEN,
    add_paged_case,
    sendgrid_mail,
    sign_in,
)

BEYOND = str(INTEGER_MAX + 1)
HUGE = "3000000000"
SIGN_IN_ADDRESS = "192.0.2.200"  # apart from the hostile requests' address, which may get limited


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(db_url, users=MANAGERS)


@pytest.fixture
def paged_case(runtime):
    add_paged_case(runtime)


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
    csrf = sign_in(client, SIGN_IN_ADDRESS) if data.draw(st.booleans(), label="signed in") else ""
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
