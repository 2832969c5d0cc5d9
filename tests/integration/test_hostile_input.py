"""Hostile and malformed input at every webhook: never a 500, oversized bodies get 413.

The fuzzer signs what it sends (a forged signature is stopped at the door and proves nothing
about the code behind it), so every generated request reaches the view and the service. The
app runs with TESTING on, so an unhandled exception fails the test instead of hiding as a 500.
"""

from __future__ import annotations

import base64
import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from oncall.db.models import OutboundMessage
from tests.fakes import seed

PUBLIC = "https://oncall.vendor.example"
TOKEN = "test-auth-token"

TWILIO_NAMES = [
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "CallStatus",
    "Direction",
    "Caller",
    "Called",
    "Digits",
    "SpeechResult",
    "RecordingUrl",
    "RecordingDuration",
    "RecordingSid",
    "RecordingStatus",
    "DialCallStatus",
    "DialCallSid",
    "DialBridged",
    "DialCallDuration",
    "MessageSid",
    "SmsSid",
    "Body",
    "NumMedia",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "SequenceNumber",
    "CallDuration",
    "OptOutType",
]
ENGINEERS = ["+15550100101", "+15550100102"]  # alice and bob in rotations/support.yaml
CUSTOMER = "+15551230001"  # Wile E. Coyote, Acme's contact in customers.yaml
KNOWN_NUMBERS = [CUSTOMER, *ENGINEERS, "+15555550199", "", "+1", "not-a-number"]
# Engineers' verbs and the customers' (REOPEN), with Twilio's opt-out word among them.
VERBS = ["ACK", "ACK ALL", "STATUS", "RESOLVE", "SEV", "HELP", "ESC", "ESCALATE", "WAIT", "TAKE"]
VERBS += ["WHO", "REOPEN", "STOP"]

text_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            *KNOWN_NUMBERS,
            "1",
            "2",
            "3",
            "#",
            "ACK",
            "completed",
            "no-answer",
            "delivered",
            "undelivered",
            "failed",
            "true",
            "-1",
            "1e9",
        ]
    ),
)
twilio_forms = st.dictionaries(
    st.one_of(st.sampled_from(TWILIO_NAMES), st.text(min_size=1, max_size=12)),
    text_values,
    max_size=10,
)
sms_bodies = st.one_of(
    st.text(max_size=200),
    st.builds(
        "{} {}".format,
        st.sampled_from(VERBS),
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(["1001", "#1001 ETA 2h", "1001 3", "1001 fixed", "for 2h", "support"]),
        ),
    ),
)
_SMS_SIDS = itertools.count(1)


@pytest.fixture
def paged_case(runtime, clock):
    """Case 1001, open, with alice paged for it: engineers' verbs then have a case to act on."""
    with runtime.sessions() as session, session.begin():
        case = seed.add_case(session, 1001, opened_at=clock.now())
        session.add(
            OutboundMessage(
                case_id=case.id,
                channel="sms",
                purpose="page",
                recipient="alice",
                to_address=ENGINEERS[0],
                body="page",
                state="sent",
                next_attempt_at=clock.now(),
                created_at=clock.now(),
            )
        )


def _concrete(rule) -> str:
    """A URL for a route rule, with placeholders filled by plausible values."""
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule)


def twilio_routes(app) -> list[str]:
    return sorted(
        {
            _concrete(rule)
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/twilio/") and "POST" in (rule.methods or set())
        }
    )


def signed_post(client, path: str, form: dict[str, str]):
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(form=twilio_forms, route_index=st.integers(min_value=0, max_value=1000))
def test_fuzzing_every_twilio_webhook_never_gives_a_500(app, client, form, route_index):
    routes = twilio_routes(app)
    assert routes, "no /twilio/ routes registered"
    path = routes[route_index % len(routes)]
    response = signed_post(client, path, form)
    assert response.status_code < 500, (path, form, response.data[:300])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(body=sms_bodies, sender=st.sampled_from(KNOWN_NUMBERS))
def test_fuzzing_sms_commands_from_engineers_and_strangers_never_gives_a_500(
    client, paged_case, body, sender
):
    # A new MessageSid for every example: a repeated one is answered as a retry of the first
    # and never reaches the command grammar.
    sid = "SM" + format(next(_SMS_SIDS), "032x")
    form = {"MessageSid": sid, "From": sender, "To": "+15555550501", "Body": body}
    response = signed_post(client, "/twilio/sms", form)
    assert response.status_code < 500, (sender, body, response.data[:300])


def test_the_sms_fuzzer_sends_as_engineers_and_a_customer(runtime):
    members = {m.phone for team in runtime.rotas.teams().values() for m in team.members.values()}
    assert set(ENGINEERS) <= members
    assert runtime.directory().by_phone(CUSTOMER) is not None


email_fields = st.dictionaries(
    st.sampled_from(
        [
            "from",
            "to",
            "cc",
            "subject",
            "text",
            "html",
            "headers",
            "envelope",
            "charsets",
            "attachments",
            "attachment-info",
            "email",
            "SPF",
            "dkim",
            "spam_score",
        ]
    ),
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(["wile@acme.example", "{}", "[]", "{", "Sev 1 down for all users"]),
    ),
    max_size=8,
)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(fields=email_fields)
def test_fuzzing_inbound_email_never_gives_a_500(client, fields):
    credentials = base64.b64encode(b"sendgrid:inbound-secret").decode()
    response = client.post(
        "/email/inbound",
        data=fields,
        content_type="multipart/form-data",
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code < 500, (fields, response.data[:300])


def test_oversized_sms_webhook_gets_413(client):
    form = {"MessageSid": "SM" + "0" * 32, "From": "+15555550101", "Body": "x" * 1_100_000}
    assert signed_post(client, "/twilio/sms", form).status_code == 413


def test_oversized_email_gets_413(make_settings, db_url, clock, transports, db_engine):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    settings_ = make_settings(db_url, email={"max_bytes": 4096})
    runtime = build_runtime(settings_, clock=clock, transports=transports, db=db_engine)
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    credentials = base64.b64encode(b"sendgrid:inbound-secret").decode()
    response = client.post(
        "/email/inbound",
        data={"from": "wile@acme.example", "subject": "Sev 1", "text": "x" * 10_000},
        content_type="multipart/form-data",
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 413


def test_every_twilio_route_is_covered_by_the_fuzzer(app):
    routes = twilio_routes(app)
    for expected in ("/twilio/voice", "/twilio/sms", "/twilio/status"):
        assert expected in routes
