"""The Twilio transport against the real REST paths, at a custom API base, with ``responses``.

Nothing here may reach api.twilio.com: ``responses`` refuses any request it was not told
about, so a call that escaped the configured base would fail the test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from oncall.delivery.transports.twilio import TwilioTransport
from oncall.domain.transport import Outgoing, TransportError

BASE = "http://twilio.fake.example:8080"
SID = "AC" + "0" * 32
MESSAGES = f"{BASE}/2010-04-01/Accounts/{SID}/Messages.json"
CALLS = f"{BASE}/2010-04-01/Accounts/{SID}/Calls.json"
ALICE = "+15550100101"
LINE = "+15555550501"
SMS = Outgoing(
    id=7,
    channel="sms",
    to=ALICE,
    from_=LINE,
    body="[S1] Case 1001 Acme Corp. Reply ACK 1001",
    status_callback="https://oncall.vendor.example/twilio/status",
)
CALL = Outgoing(
    id=8,
    channel="voice",
    to=ALICE,
    from_=LINE,
    body="Case 1 0 0 1",
    status_callback="https://oncall.vendor.example/twilio/status",
    voice_url="https://oncall.vendor.example/twilio/page/8",
)


def message_json(
    sid: str = "SM" + "a" * 32, status: str = "queued", body: str = SMS.body, to: str = ALICE
) -> dict:
    return {
        "sid": sid,
        "status": status,
        "to": to,
        "from": LINE,
        "body": body,
        "account_sid": SID,
        "num_segments": "1",
        "error_code": None,
        "error_message": None,
        "date_created": "Tue, 24 Nov 2026 08:00:00 +0000",
        "date_sent": "Tue, 24 Nov 2026 08:00:01 +0000",
        "uri": f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json",
    }


def error_json(code: int, status: int) -> dict:
    return {
        "code": code,
        "message": f"error {code}",
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


def form(call) -> dict[str, list[str]]:
    return parse_qs(call.request.body)


@pytest.fixture
def transport(make_settings, monkeypatch):
    # The SDK would rewrite the host for an edge/region from the environment: ours must not.
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    settings = make_settings(transport="twilio", twilio={"api_base": BASE + "/", "timeout": "3s"})
    return TwilioTransport(settings)


@responses.activate
def test_an_sms_is_created_at_the_configured_base(transport):
    responses.post(MESSAGES, json=message_json(), status=201)
    result = transport.send(SMS)
    assert (result.provider_id, result.status) == ("SM" + "a" * 32, "queued")
    (call,) = responses.calls
    assert call.request.url == MESSAGES
    assert form(call) == {
        "To": [ALICE],
        "From": [LINE],
        "Body": [SMS.body],
        "StatusCallback": ["https://oncall.vendor.example/twilio/status"],
    }
    assert call.request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_a_messaging_service_replaces_from(make_settings):
    settings = make_settings(
        transport="twilio", twilio={"api_base": BASE, "messaging_service_sid": "MG" + "1" * 32}
    )
    responses.post(MESSAGES, json=message_json(), status=201)
    TwilioTransport(settings).send(SMS)
    sent = form(responses.calls[0])
    assert sent["MessagingServiceSid"] == ["MG" + "1" * 32] and "From" not in sent


@responses.activate
def test_a_voice_page_is_a_call_to_our_twiml_with_status_callbacks(transport):
    responses.post(CALLS, json={"sid": "CA" + "b" * 32, "status": "queued"}, status=201)
    result = transport.send(CALL)
    assert result.provider_id == "CA" + "b" * 32
    sent = form(responses.calls[0])
    assert sent["Url"] == ["https://oncall.vendor.example/twilio/page/8"]
    assert sent["StatusCallback"] == ["https://oncall.vendor.example/twilio/status"]
    assert sent["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert sent["Timeout"] == ["30"] and sent["To"] == [ALICE] and sent["From"] == [LINE]


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (500, 20500, True),
        (503, None, True),
        (429, 20429, True),
        (400, 21211, False),  # invalid To
        (400, 21610, False),  # opted out (STOP)
        (400, 21614, False),  # not a mobile number
        (400, 21612, False),
        (400, 21408, False),
        (401, 20003, False),
    ],
)
@responses.activate
def test_errors_are_transient_or_permanent(transport, status, code, transient):
    body = error_json(code, status) if code else {"message": "Service Unavailable"}
    responses.post(MESSAGES, json=body, status=status)
    with pytest.raises(TransportError) as raised:
        transport.send(SMS)
    assert raised.value.transient is transient
    # Without a Twilio code in the body the SDK reports the HTTP status as the code.
    assert raised.value.code == (code or status) and raised.value.http_status == status
    assert not getattr(raised.value, "ambiguous", False)


@responses.activate
def test_a_read_timeout_is_transient_and_ambiguous(transport):
    responses.post(MESSAGES, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(TransportError) as raised:
        transport.send(SMS)
    assert raised.value.transient and raised.value.ambiguous


@responses.activate
def test_a_refused_connection_is_transient_and_certainly_not_sent(transport):
    responses.post(
        MESSAGES,
        body=requests.exceptions.ConnectionError("NewConnectionError: Connection refused"),
    )
    with pytest.raises(TransportError) as raised:
        transport.send(SMS)
    assert raised.value.transient and not raised.value.ambiguous


def test_the_timeout_setting_reaches_the_http_client(transport):
    assert transport.client.http_client.timeout == 3.0


@responses.activate
def test_lookup_lists_by_to_from_and_date_and_matches_the_body(transport):
    other = message_json("SM" + "c" * 32, body="something else")
    mine = message_json("SM" + "d" * 32, status="delivered")
    responses.get(
        MESSAGES,
        json={"messages": [other, mine], "next_page_uri": None, "page": 0, "page_size": 50},
    )
    since = datetime(2026, 11, 24, 7, 59, tzinfo=UTC)
    found = transport.lookup(SMS, since)
    assert (found.provider_id, found.status) == ("SM" + "d" * 32, "delivered")
    query = parse_qs(urlparse(responses.calls[0].request.url).query)
    assert query["To"] == [ALICE] and query["From"] == [LINE]
    assert query["DateSent>"] == ["2026-11-24T07:59:00Z"]


@responses.activate
def test_lookup_follows_pages_at_the_custom_base_and_may_find_nothing(transport):
    page_two = f"/2010-04-01/Accounts/{SID}/Messages.json?To=x&Page=1&PageSize=50"
    responses.get(
        MESSAGES,
        json={
            "messages": [message_json(body="a")],
            "next_page_uri": page_two,
            "page": 0,
            "page_size": 50,
        },
    )
    responses.get(
        f"{BASE}{page_two}",
        json={
            "messages": [message_json(body="b")],
            "next_page_uri": None,
            "page": 1,
            "page_size": 50,
        },
    )
    assert transport.lookup(SMS, datetime(2026, 11, 24, 7, 59, tzinfo=UTC)) is None
    assert [urlparse(c.request.url).netloc for c in responses.calls] == [
        "twilio.fake.example:8080"
    ] * 2


@responses.activate
def test_lookup_of_a_call_takes_the_newest_call_since(transport):
    responses.get(
        CALLS,
        json={
            "calls": [
                {
                    "sid": "CA" + "e" * 32,
                    "status": "no-answer",
                    "date_created": "Tue, 24 Nov 2026 08:00:05 +0000",
                },
                {
                    "sid": "CA" + "f" * 32,
                    "status": "completed",
                    "date_created": "Mon, 23 Nov 2026 08:00:05 +0000",
                },
            ],
            "next_page_uri": None,
            "page": 0,
            "page_size": 20,
        },
    )
    found = transport.lookup(CALL, datetime(2026, 11, 24, 7, 59, tzinfo=UTC))
    assert (found.provider_id, found.status) == ("CA" + "e" * 32, "no-answer")
    assert transport.lookup(CALL, datetime(2026, 11, 24, 9, 0, tzinfo=UTC)) is None


@responses.activate
def test_lookup_errors_surface_as_transport_errors(transport):
    responses.get(MESSAGES, json=error_json(20500, 500), status=500)
    with pytest.raises(TransportError):
        transport.lookup(SMS, datetime(2026, 11, 24, 7, 59, tzinfo=UTC))


# -- through the outbox -----------------------------------------------------------------------
@responses.activate
def test_500_429_and_a_timeout_then_the_page_is_delivered_once(
    make_settings, db_url, clock, db_engine
):
    from oncall.bootstrap.runtime import build_runtime
    from tests.fakes.transports import FakeTransport, PagingWorld

    settings = make_settings(db_url, transport="twilio", twilio={"api_base": BASE})
    twilio = TwilioTransport(settings)
    other = FakeTransport()
    runtime = build_runtime(
        settings,
        clock=clock,
        db=db_engine,
        transports={"sms": twilio, "voice": twilio, "email": other},
    )
    world = PagingWorld(runtime, clock, other)
    responses.post(MESSAGES, json=error_json(20500, 500), status=500)
    responses.post(MESSAGES, json=error_json(20429, 429), status=429)
    responses.post(MESSAGES, body=requests.exceptions.ConnectTimeout("connect timeout"))
    responses.post(MESSAGES, json=message_json("SM" + "9" * 32), status=201)
    world.open_case()
    world.advance(minutes=1)
    creates = [c for c in responses.calls if c.request.method == "POST"]
    assert len(creates) == 4
    assert all(form(c)["To"] == [ALICE] for c in creates)
    (row,) = [r for r in world.outbox(to_address=ALICE) if r.purpose == "page"]
    assert (row.state, row.attempts, row.provider_id) == ("sent", 4, "SM" + "9" * 32)
    assert json.loads(json.dumps(row.provider_status)) == "queued"
    assert row.sent_at - row.created_at < timedelta(minutes=1)


@responses.activate
def test_lookup_finds_ours_on_a_later_page_after_a_burst(transport):
    """After a storm an engineer has hundreds of our messages today: ours may be on page 2."""
    page_two = f"/2010-04-01/Accounts/{SID}/Messages.json?To=x&Page=1&PageSize=200"
    burst = [message_json(f"SM{i:032d}", body=f"[S1] Case {2000 + i}") for i in range(200)]
    responses.get(MESSAGES, json={"messages": burst, "next_page_uri": page_two, "page": 0})
    responses.get(
        f"{BASE}{page_two}",
        json={"messages": [message_json("SM" + "7" * 32)], "next_page_uri": None, "page": 1},
    )
    found = transport.lookup(SMS, datetime(2026, 11, 24, 7, 59, tzinfo=UTC))
    assert found.provider_id == "SM" + "7" * 32
    assert parse_qs(urlparse(responses.calls[0].request.url).query)["PageSize"] == ["200"]


@responses.activate
def test_lookup_stops_at_messages_older_than_the_attempt(transport):
    old = message_json("SM" + "8" * 32, body="[S1] Case 900")
    old["date_created"] = "Tue, 24 Nov 2026 07:00:00 +0000"
    responses.get(
        MESSAGES,
        json={"messages": [old], "next_page_uri": "/2010-04-01/never.json", "page": 0},
    )
    assert transport.lookup(SMS, datetime(2026, 11, 24, 7, 59, tzinfo=UTC)) is None
    assert len(responses.calls) == 1  # the next page was never fetched
