"""Every route under /twilio/ refuses a request without a valid X-Twilio-Signature (403) and
changes nothing. The routes are enumerated from the app's URL map, so a route added later is
covered without anyone remembering to add it here."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from oncall.db.models import (
    Attempt,
    Case,
    CaseEvent,
    MisuseFlag,
    OutboundMessage,
    VoiceCall,
    WebhookReceipt,
)

BASE = "https://oncall.vendor.example"
TOKEN = "test-auth-token"

# Parameters that would make each route act if they were signed: a known caller pressing 1,
# a recording, a dial result, an engineer's ACK by SMS, a delivery status.
PARAMS = {
    "CallSid": "CA" + "a" * 32,
    "ParentCallSid": "CA" + "b" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+15551230001",
    "To": "+15555550501",
    "CallStatus": "in-progress",
    "Direction": "inbound",
    "ApiVersion": "2010-04-01",
    "Digits": "1",
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
    "RecordingDuration": "12",
    "RecordingSid": "RE" + "c" * 32,
    "RecordingStatus": "completed",
    "DialCallStatus": "completed",
    "DialBridged": "true",
    "MessageSid": "SM" + "d" * 32,
    "MessageStatus": "delivered",
    "Body": "ACK 1001",
}


def twilio_routes(app) -> list[tuple[str, str]]:
    """(path, method) for every rule under /twilio/, with sample values for its arguments."""
    adapter = app.url_map.bind("oncall.vendor.example", url_scheme="https")
    found = []
    for rule in app.url_map.iter_rules():
        if not (rule.rule == "/twilio" or rule.rule.startswith("/twilio/")):
            continue
        # "1001" fits every converter we use (int for case numbers and attempts, string for
        # member keys).
        path = adapter.build(rule.endpoint, {arg: "1001" for arg in rule.arguments})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((path, method))
    return found


def forgeries(path: str) -> list[tuple[str, dict[str, str]]]:
    url = BASE + path
    good = RequestValidator(TOKEN).compute_signature(url, PARAMS)
    return [
        ("missing", {}),
        ("empty", {"X-Twilio-Signature": ""}),
        (
            "wrong token",
            {
                "X-Twilio-Signature": RequestValidator("not-our-token").compute_signature(
                    url, PARAMS
                )
            },
        ),
        (
            "other URL",
            {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url + "x", PARAMS)},
        ),
        (
            "http, not https",
            {
                "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
                    url.replace("https://", "http://"), PARAMS
                )
            },
        ),
        ("garbage", {"X-Twilio-Signature": "AAAA" + good[4:][::-1]}),
    ]


def changed_rows(runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (
                Case,
                CaseEvent,
                Attempt,
                OutboundMessage,
                VoiceCall,
                WebhookReceipt,
                MisuseFlag,
            )
        }


def test_the_enumeration_finds_the_voice_routes(app):
    paths = {path for path, _ in twilio_routes(app)}
    for expected in (
        "/twilio/voice",
        "/twilio/voice/pin/1001",
        "/twilio/voice/menu/1001",
        "/twilio/voice/recorded",
        "/twilio/voice/recording-status",
        "/twilio/voice/dial-result/1001",
        "/twilio/voice/whisper/1001/1001",
        "/twilio/voice/whisper-result/1001/1001",
        "/twilio/voice/status",
    ):
        assert expected in paths, sorted(paths)


def test_every_twilio_route_rejects_forged_signatures_and_changes_nothing(app, client, runtime):
    routes = twilio_routes(app)
    assert routes
    before = changed_rows(runtime)
    for path, method in routes:
        for name, headers in forgeries(path):
            if method == "POST":
                response = client.post(path, data=PARAMS, headers=headers)
            else:
                response = client.open(path, method=method, query_string=PARAMS, headers=headers)
            assert response.status_code == 403, (path, method, name, response.status_code)
    assert changed_rows(runtime) == before
    assert all(count == 0 for count in before.values())


def test_tampering_with_a_signed_request_is_rejected(client, runtime):
    path = "/twilio/voice"
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, PARAMS)
    tampered = {**PARAMS, "From": "+15551230002"}
    response = client.post(path, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    # The control: the untouched request is accepted.
    response = client.post(path, data=PARAMS, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


@pytest.mark.parametrize("token", [""])
def test_an_empty_auth_token_refuses_everything(
    make_settings, db_url, clock, transports, db_engine, token
):
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    settings = make_settings(db_url, twilio={"auth_token": token})
    runtime = build_runtime(settings, clock=clock, transports=transports, db=db_engine)
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    # Even a request "signed" with the empty token is refused: no token, no webhooks.
    signature = RequestValidator("").compute_signature(BASE + "/twilio/voice", PARAMS)
    response = client.post("/twilio/voice", data=PARAMS, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert changed_rows(runtime)["voice_calls"] == 0
