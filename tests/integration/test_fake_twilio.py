"""The fake Twilio, held to the real twilio SDK and to a tiny Flask app that validates every
webhook with ``RequestValidator`` and answers with TwiML built by ``VoiceResponse``.

If the fake drifted from Twilio, the SDK would fail to parse it here, and if its callbacks were
signed wrongly, the app would answer 403 here, long before an end-to-end test got confusing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grimp
import pytest
import requests
from flask import Blueprint, Flask, Response, abort, request
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from werkzeug.serving import make_server

from oncall.fakes.twilio.expectations import UnexpectedMessages
from oncall.fakes.twilio.protocol import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    MAGIC_TO,
    num_segments,
)
from oncall.fakes.twilio.server import FakeTwilio, start_fake_twilio
from oncall.fakes.twilio.signing import post_signed, sign
from oncall.fakes.twilio.twiml import VoiceError
from oncall.fakes.twilio.voice import VoiceCall

ENGINEER = "+15555550123"
OTHER_ENGINEER = "+15555550124"
CUSTOMER = "+15555550100"
LINE = "+15555550500"
SENDER = "+15005550006"  # Twilio's magic "valid From"
PUBLIC = "https://oncall.example.com"


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with start_fake_twilio() as fake:
        yield fake
    assert fake.errors == []


def _client(
    fake: FakeTwilio,
    token: str = DEFAULT_AUTH_TOKEN,
    sid: str = DEFAULT_ACCOUNT_SID,
    timeout: float = 5.0,
) -> tuple[Client, TwilioHttpClient]:
    """The documented way: a real Client whose api domain's base_url is the fake."""
    http_client = TwilioHttpClient(timeout=timeout)
    client = Client(sid, token, http_client=http_client)
    client.api.base_url = fake.base_url
    return client, http_client


@pytest.fixture
def client(fake: FakeTwilio) -> Iterator[Client]:
    client, http_client = _client(fake)
    yield client
    assert http_client.session is not None
    http_client.session.close()


@dataclass
class Service:
    """A stand-in for the oncall web app: validates signatures, records, answers TwiML."""

    url: str = ""
    token: str = DEFAULT_AUTH_TOKEN
    public_url: str | None = None  # validate against this base instead of request.url
    received: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def posts(self, path: str) -> list[dict[str, str]]:
        return [
            {name: values[0] for name, values in params.items()}
            for p, _, params in self.received
            if p == path
        ]


def _twiml(response: VoiceResponse | MessagingResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


# The routes of the stand-in app: what the oncall service would answer, built with the SDK.
stand_in = Blueprint("stand_in", __name__)


@stand_in.post("/twilio/voice")
def _voice() -> Response:
    r = VoiceResponse()
    gather = Gather(action="/twilio/voice/menu?step=1", num_digits=1, timeout=3)
    gather.say("Welcome to the critical line.")
    gather.say("Press 1 to leave a message, 2 to reach the engineer.")
    r.append(gather)
    r.say("We did not receive your choice.")
    r.redirect("/twilio/voice/retry")
    return _twiml(r)


@stand_in.post("/twilio/voice/retry")
def _retry() -> Response:
    r = VoiceResponse()
    gather = Gather(action="menu?step=2", method="GET", num_digits=1, action_on_empty_result=True)
    gather.say("Once more: press 1 or 2.")
    r.append(gather)
    r.hangup()
    return _twiml(r)


@stand_in.route("/twilio/voice/menu", methods=["GET", "POST"])
def _menu() -> Response:
    digits = request.values.get("Digits", "")
    r = VoiceResponse()
    if digits == "1":
        r.say("Describe the problem after the tone.")
        r.record(
            action="/twilio/voice/recorded",
            recording_status_callback="/twilio/voice/recording",
            max_length=60,
            finish_on_key="#",
        )
    elif digits == "2":
        r.say("Connecting you to the on-call engineer.")
        dial = Dial(action="/twilio/voice/dialed", timeout=20, caller_id=LINE)
        dial.number(ENGINEER, url="/twilio/voice/whisper")
        r.append(dial)
        r.say("Never reached: TwiML after a Dial with an action.")
    else:
        r.say("Goodbye.")
        r.hangup()
    return _twiml(r)


@stand_in.post("/twilio/voice/recorded")
def _recorded() -> Response:
    r = VoiceResponse()
    r.say("Thank you. Your case number is 1042.")
    r.hangup()
    return _twiml(r)


@stand_in.post("/twilio/voice/whisper")
def _whisper() -> Response:
    r = VoiceResponse()
    gather = Gather(action="/twilio/voice/accept", num_digits=1, timeout=5)
    gather.say("Critical case 1042 from Acme. Press 1 to accept.")
    r.append(gather)
    r.hangup()
    return _twiml(r)


@stand_in.post("/twilio/voice/accept")
def _accept() -> Response:
    r = VoiceResponse()
    if request.form.get("Digits") == "1":
        r.say("Connecting.")
    else:
        r.hangup()
    return _twiml(r)


@stand_in.post("/twilio/voice/dialed")
def _dialed() -> Response:
    r = VoiceResponse()
    r.say(f"Dial status {request.form['DialCallStatus']}.")
    r.hangup()
    return _twiml(r)


@stand_in.post("/twilio/page")
def _page() -> Response:
    r = VoiceResponse()
    gather = Gather(action="/twilio/page/ack", num_digits=1)
    gather.say("Critical case 1042. Press 1 to acknowledge.")
    r.append(gather)
    return _twiml(r)


@stand_in.post("/twilio/page/ack")
def _page_ack() -> Response:
    r = VoiceResponse()
    r.say("Acknowledged.")
    return _twiml(r)


@stand_in.post("/twilio/sms")
def _sms() -> Response:
    r = MessagingResponse()
    r.message(f"Got it: {request.form['Body']}")
    return _twiml(r)


@stand_in.post("/twilio/status")
@stand_in.post("/twilio/voice/recording")
def _status() -> tuple[str, int]:
    return "", 204


def make_app(svc: Service) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def check_signature() -> None:
        url = request.url
        if svc.public_url:
            query = request.query_string.decode("latin-1")
            url = svc.public_url + request.path + (f"?{query}" if query else "")
        params = request.form if request.method == "POST" else {}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(svc.token).validate(url, params, signature):
            svc.rejected.append(request.path)
            abort(403)
        values = request.form if request.method == "POST" else request.args
        svc.received.append((request.path, request.method, values.to_dict(flat=False)))

    app.register_blueprint(stand_in)
    return app


@pytest.fixture
def service() -> Iterator[Service]:
    svc = Service()
    server = make_server("127.0.0.1", 0, make_app(svc), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    svc.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield svc
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- the package ------------------------------------------------------------------------------
TEST_ONLY = {"pytest", "responses", "hypothesis", "aiosmtpd", "playwright", "importlinter", "grimp"}


def test_the_fakes_run_without_any_test_dependency():
    """``benchmarks/`` run them with the service's own dependencies: nothing from ``[test]``."""
    graph = grimp.build_graph("oncall", include_external_packages=True, cache_dir=None)
    imports = {
        (module, imported.split(".")[0])
        for module in graph.find_descendants("oncall.fakes")
        for imported in graph.find_modules_directly_imported_by(module)
    }
    assert {(module, top) for module, top in imports if top in TEST_ONLY} == set()
    assert ("oncall.fakes.twilio.signing", "twilio") in imports  # external imports are seen


# -- signatures ------------------------------------------------------------------------------
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        (
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            VECTOR_PARAMS,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        ),
        (
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            VECTOR_PARAMS,
            "kvajT1Ptam85bY51eRf/AJRuM3w=",
        ),
        (
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            {**VECTOR_PARAMS, "Caller": "+12349013030", "From": "+12349013030"},
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        ),
    ],
)
def test_sign_reproduces_the_documented_vectors(url, params, expected):
    assert sign(url, params, "12345") == expected
    assert RequestValidator("12345").validate(url, params, expected)


def test_sign_covers_repeated_parameters_sorted_and_deduplicated():
    url = "https://oncall.example.com/twilio/status?x=1"
    params = {"To": ENGINEER, "StatusCallbackEvent": ["ringing", "initiated", "ringing"]}
    # Computed by hand: URL, then each name in order with its sorted, distinct values.
    text = url + "StatusCallbackEventinitiated" + "StatusCallbackEventringing" + "To" + ENGINEER
    digest = hmac.new(b"secret", text.encode(), hashlib.sha1).digest()
    assert sign(url, params, "secret") == base64.b64encode(digest).decode()
    pairs = [
        ("To", ENGINEER),
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing"),
    ]
    assert sign(url, pairs, "secret") == sign(url, params, "secret")


def test_num_segments_counts_gsm7_and_ucs2():
    assert num_segments("ACK 1042") == 1
    assert num_segments("a" * 160) == 1
    assert num_segments("a" * 161) == 2
    assert num_segments("€" * 80) == 1  # an extension character takes two septets
    assert num_segments("€" * 81) == 2
    assert num_segments("🚨" * 35) == 1  # 70 UTF-16 units
    assert num_segments("🚨" * 36) == 2


# -- the REST API through the real SDK -------------------------------------------------------
def test_sdk_creates_a_message_with_the_realistic_json(fake, client):
    message = client.messages.create(
        to=ENGINEER,
        from_=SENDER,
        body="Critical case 1042: Acme down. Reply ACK 1042",
        status_callback="https://oncall.example.com/twilio/status",
    )
    assert message.sid.startswith("SM") and len(message.sid) == 34
    int(message.sid[2:], 16)
    assert message.account_sid == DEFAULT_ACCOUNT_SID
    assert (message.to, message.from_) == (ENGINEER, SENDER)
    assert message.body.startswith("Critical case 1042")
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.num_segments == "1"
    assert message.error_code is None and message.error_message is None
    assert message.price is None and message.messaging_service_sid is None
    assert message.api_version == "2010-04-01"
    assert message.uri == f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/{message.sid}.json"
    assert abs(message.date_created - datetime.now(UTC)) < timedelta(minutes=1)

    [sent] = fake.messages(to=ENGINEER)
    assert sent.sid == message.sid
    assert sent.auth_ok and sent.response_status == 201 and sent.method == "POST"
    assert sent.params["StatusCallback"] == ["https://oncall.example.com/twilio/status"]
    assert sent.status_callback == "https://oncall.example.com/twilio/status"
    assert sent.from_ == SENDER and sent.body == message.body
    assert fake.messages(to=OTHER_ENGINEER) == []


def test_a_messaging_service_message_is_accepted_without_a_from(client):
    message = client.messages.create(to=ENGINEER, messaging_service_sid="MG" + "1" * 32, body="x")
    assert message.status == "accepted"
    assert message.from_ is None
    assert message.messaging_service_sid == "MG" + "1" * 32
    fetched = client.messages(message.sid).fetch()
    assert fetched.from_ == SENDER  # the sender Twilio picked from the service


def test_sdk_creates_fetches_and_updates_a_call(fake, client):
    call = client.calls.create(
        to=ENGINEER,
        from_=LINE,
        url="https://oncall.example.com/twilio/page",
        status_callback="https://oncall.example.com/twilio/status",
        status_callback_event=["initiated", "answered", "completed"],
        timeout=20,
    )
    assert call.sid.startswith("CA") and len(call.sid) == 34
    assert (call.to, call._from, call.status) == (ENGINEER, LINE, "queued")
    assert call.direction == "outbound-api"
    assert call.uri.endswith(f"/Calls/{call.sid}.json")
    [placed] = fake.calls(to=ENGINEER)
    assert placed.params["StatusCallbackEvent"] == ["initiated", "answered", "completed"]
    assert placed.get("Timeout") == "20"

    assert client.calls(call.sid).fetch().status == "queued"
    assert client.calls(call.sid).update(status="completed").status == "completed"
    assert fake.get_call(call.sid)["status"] == "completed"
    assert [c.sid for c in client.calls.list(to=ENGINEER, status="completed")] == [call.sid]


def test_fetching_an_unknown_sid_is_a_20404(client):
    with pytest.raises(TwilioRestException) as caught:
        client.messages("SM" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_sdk_lists_messages_with_filters_and_pages(fake, client):
    for index in range(5):
        client.messages.create(to=ENGINEER, from_=SENDER, body=f"page {index}")
    client.messages.create(to=OTHER_ENGINEER, from_="+15555550501", body="other")
    now = datetime.now(UTC)

    to_engineer = client.messages.list(to=ENGINEER)
    assert [m.body for m in to_engineer] == [f"page {i}" for i in reversed(range(5))]
    assert [m.to for m in client.messages.list(from_="+15555550501")] == [OTHER_ENGINEER]
    assert len(client.messages.list(date_sent_after=now - timedelta(minutes=1))) == 6
    assert client.messages.list(date_sent_after=now + timedelta(minutes=1)) == []
    assert client.messages.list(date_sent_before=now - timedelta(days=1)) == []
    assert len(client.messages.list(date_sent_before=now + timedelta(minutes=1))) == 6
    assert len(client.messages.list(date_sent=now.date())) == 6
    assert client.messages.list(date_sent=(now - timedelta(days=2)).date()) == []

    fake.reset()
    for index in range(5):
        client.messages.create(to=ENGINEER, from_=SENDER, body=f"again {index}")
    paged = client.messages.list(to=ENGINEER, page_size=2)
    assert len(paged) == 5
    pages = [r for r in fake.requests if r.kind == "messages.list"]
    assert [r.get("Page") for r in pages] == [None, "1", "2"]
    assert all(r.get("To") == ENGINEER and r.get("PageSize") == "2" for r in pages)
    assert len(client.messages.list(to=ENGINEER, limit=3)) == 3


def test_the_list_page_has_twilios_shape(fake):
    response = requests.get(
        f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json",
        params={"To": ENGINEER, "PageSize": "20"},
        auth=(fake.account_sid, fake.auth_token),
        timeout=5,
    )
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {
        "messages",
        "page",
        "page_size",
        "uri",
        "first_page_uri",
        "next_page_uri",
        "previous_page_uri",
        "end",
        "start",
    }
    assert page["messages"] == [] and page["next_page_uri"] is None
    assert (page["page"], page["page_size"], page["start"]) == (0, 20, 0)


@pytest.mark.parametrize(
    ("sid", "token"),
    [(DEFAULT_ACCOUNT_SID, "wrong-token"), ("AC" + "9" * 32, DEFAULT_AUTH_TOKEN)],
    ids=["wrong-token", "sid-not-the-accounts"],
)
def test_wrong_credentials_are_a_401_20003(fake, sid, token):
    client, http_client = _client(fake, token=token, sid=sid)
    try:
        with pytest.raises(TwilioRestException) as caught:
            client.messages.create(to=ENGINEER, from_=SENDER, body="x")
    finally:
        assert http_client.session is not None
        http_client.session.close()
    assert (caught.value.status, caught.value.code) == (401, 20003)
    [attempt] = fake.requests
    assert attempt.auth_ok is False and attempt.response_status == 401
    assert fake.messages() == []


def test_missing_parameters_are_refused_like_twilio(fake, client):
    cases = [
        (lambda: client.messages.create(to="", from_=SENDER, body="x"), 21604),
        (lambda: client.messages.create(to=ENGINEER, body="x"), 21603),
        (lambda: client.messages.create(to=ENGINEER, from_=SENDER), 21602),
        (lambda: client.messages.create(to="not a number", from_=SENDER, body="x"), 21211),
        (lambda: client.messages.create(to=ENGINEER, from_=SENDER, body="x" * 1601), 21617),
        (lambda: client.calls.create(to=ENGINEER, from_=LINE), 21205),
        (lambda: client.calls.create(to="", from_=LINE, url=f"{PUBLIC}/v"), 21201),
    ]
    for create, code in cases:
        with pytest.raises(TwilioRestException) as caught:
            create()
        assert (caught.value.status, caught.value.code) == (400, code)
    assert fake.messages() == [] and fake.calls() == []

    raw = requests.post(
        f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Calls.json",
        data={"To": ENGINEER, "Url": f"{PUBLIC}/v"},
        auth=(fake.account_sid, fake.auth_token),
        timeout=5,
    )
    assert raw.status_code == 400
    assert raw.json() == {
        "code": 21213,
        "message": "No 'From' number is specified",
        "more_info": "https://www.twilio.com/docs/errors/21213",
        "status": 400,
    }


# -- programmed failures ---------------------------------------------------------------------
def test_fail_next_fails_that_many_requests_of_that_kind(fake, client):
    fake.fail_next(kind="messages", status=500, times=3)
    for _ in range(3):
        with pytest.raises(TwilioRestException) as caught:
            client.messages.create(to=ENGINEER, from_=SENDER, body="retry me")
        assert (caught.value.status, caught.value.code) == (500, 20500)
        client.calls.create(to=ENGINEER, from_=LINE, url=f"{PUBLIC}/twilio/page")  # unaffected
    client.messages.create(to=ENGINEER, from_=SENDER, body="retry me")
    assert [r.response_status for r in fake.requests if r.kind == "messages.create"] == [
        500,
        500,
        500,
        201,
    ]
    assert len(fake.messages()) == 1 and len(fake.calls()) == 3


@pytest.mark.parametrize(
    ("rule", "status", "code"),
    [
        ({"code": 21610, "status": 400}, 400, 21610),
        ({"code": 21610}, 400, 21610),
        ({"status": 429}, 429, 20429),
        ({"code": 20429}, 429, 20429),
        ({"status": 503}, 503, 20503),
    ],
)
def test_fail_next_speaks_twilio_error_json(fake, client, rule, status, code):
    fake.fail_next(**rule)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=ENGINEER, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == (status, code)
    [failed] = fake.requests
    assert failed.response == {
        "code": code,
        "message": failed.response["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    assert failed.response["message"]


def test_fail_next_can_aim_at_one_recipient(fake, client):
    fake.fail_next(code=21211, to=OTHER_ENGINEER)
    client.messages.create(to=ENGINEER, from_=SENDER, body="fine")
    with pytest.raises(TwilioRestException):
        client.messages.create(to=OTHER_ENGINEER, from_=SENDER, body="refused once")
    client.messages.create(to=OTHER_ENGINEER, from_=SENDER, body="fine now")
    assert [m.body for m in fake.messages()] == ["fine", "fine now"]


@pytest.mark.parametrize(("number", "code"), sorted(MAGIC_TO.items()))
def test_magic_numbers_fail_like_the_test_credentials(client, number, code):
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=number, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == (400, code)


def test_fail_to_refuses_sms_to_an_opted_out_engineer_but_not_calls(fake, client):
    fake.fail_to(ENGINEER, code=21610)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            client.messages.create(to=ENGINEER, from_=SENDER, body="page")
        assert caught.value.code == 21610
    client.calls.create(to=ENGINEER, from_=LINE, url=f"{PUBLIC}/twilio/page")
    client.messages.create(to=OTHER_ENGINEER, from_=SENDER, body="page")
    fake.clear_fail_to(ENGINEER)
    client.messages.create(to=ENGINEER, from_=SENDER, body="page")
    assert len(fake.messages()) == 2 and len(fake.calls()) == 1


def test_an_inbound_stop_opts_out_and_start_opts_back_in(fake, client, service):
    assert fake.send_sms(service.url, ENGINEER, LINE, "stop ").status_code == 200
    assert ENGINEER in fake.opted_out
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=ENGINEER, from_=SENDER, body="page")
    assert caught.value.code == 21610
    fake.send_sms(service.url, ENGINEER, LINE, "START")
    client.messages.create(to=ENGINEER, from_=SENDER, body="page")
    assert [p["Body"] for p in service.posts("/twilio/sms")] == ["stop ", "START"]


def test_an_outage_fails_everything_until_its_condition_then_recovers(fake, client):
    over = threading.Event()
    fake.outage(status=500, until=over.is_set)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as caught:
            client.messages.create(to=ENGINEER, from_=SENDER, body="during")
        assert (caught.value.status, caught.value.code) == (500, 20500)
    with pytest.raises(TwilioRestException):
        client.calls.create(to=ENGINEER, from_=LINE, url=f"{PUBLIC}/twilio/page")
    over.set()
    client.messages.create(to=ENGINEER, from_=SENDER, body="after")
    assert [m.body for m in fake.messages()] == ["after"]

    fake.outage(status=503)
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to=ENGINEER, from_=SENDER, body="during")
    assert caught.value.status == 503
    fake.recover()
    client.messages.create(to=ENGINEER, from_=SENDER, body="after recover")

    fake.outage(status=500, seconds=0.2)
    deadline = time.monotonic() + 5

    def sent() -> bool:
        try:
            client.messages.create(to=ENGINEER, from_=SENDER, body="after 0.2 s")
        except TwilioRestException:
            return False
        return True

    fake.wait_for(sent, timeout=5)
    assert time.monotonic() < deadline
    assert [m.body for m in fake.messages()][-1] == "after 0.2 s"


def test_a_timeout_outage_holds_requests_unanswered_and_unprocessed(fake):
    impatient, impatient_http = _client(fake, timeout=0.3)
    patient, patient_http = _client(fake, timeout=5)
    try:
        fake.outage(status="timeout")
        with pytest.raises(requests.exceptions.Timeout):
            impatient.messages.create(to=ENGINEER, from_=SENDER, body="lost")
        fake.recover()
        impatient.messages.create(to=ENGINEER, from_=SENDER, body="delivered")

        fake.outage(status="timeout", hold=0.1)  # the connection drops after 0.1 s
        with pytest.raises(requests.exceptions.ConnectionError):
            patient.messages.create(to=ENGINEER, from_=SENDER, body="dropped")
        fake.recover()
    finally:
        for http_client in (impatient_http, patient_http):
            assert http_client.session is not None
            http_client.session.close()
    assert [m.body for m in fake.messages()] == ["delivered"]
    statuses = [r.response_status for r in fake.requests]
    assert statuses == [None, 201, None]


def test_a_delayed_answer_times_out_the_client_but_the_message_exists(fake):
    client, http_client = _client(fake, timeout=0.2)
    try:
        before = datetime.now(UTC) - timedelta(seconds=1)
        fake.delay_next(0.6)
        with pytest.raises(requests.exceptions.Timeout):
            client.messages.create(to=ENGINEER, from_=SENDER, body="outcome unknown")
        # Reconciliation: the sender asks Twilio what went out since the attempt began.
        [found] = fake.wait_for(
            lambda: client.messages.list(to=ENGINEER, date_sent_after=before), timeout=5
        )
        assert found.body == "outcome unknown"
        client.messages.create(to=ENGINEER, from_=SENDER, body="not delayed")
    finally:
        assert http_client.session is not None
        http_client.session.close()
    assert [m.body for m in fake.messages()] == ["outcome unknown", "not delayed"]


def test_the_fake_can_hand_out_a_configured_sdk_client(fake):
    client = fake.twilio_client(timeout=5)
    assert client.messages.create(to=ENGINEER, from_=SENDER, body="x").status == "queued"
    assert len(fake.messages()) == 1  # its session is closed by fake.stop()


def test_requests_are_recorded_and_reset_forgets_them(fake, client):
    client.messages.create(to=ENGINEER, from_=SENDER, body="one")
    client.messages.list(to=ENGINEER)
    kinds = [(r.method, r.kind, r.response_status) for r in fake.requests]
    assert kinds == [("POST", "messages.create", 201), ("GET", "messages.list", 200)]
    first = fake.requests[0]
    assert first.path == f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    assert first.params == {"To": [ENGINEER], "From": [SENDER], "Body": ["one"]}
    assert abs(first.time - time.time()) < 60
    fake.fail_next(status=500)
    fake.reset()
    assert fake.requests == [] and fake.messages() == []
    client.messages.create(to=ENGINEER, from_=SENDER, body="rules are gone too")


def test_wait_for_gives_up_with_what_the_fake_saw(fake):
    with pytest.raises(TimeoutError, match="nothing"):
        fake.wait_for(lambda: fake.messages(), timeout=0.1)


def test_concurrent_creates_are_all_recorded_with_distinct_sids(fake):
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"

    def send(index: int) -> str:
        response = requests.post(
            url,
            data={"To": ENGINEER, "From": SENDER, "Body": f"burst {index}"},
            auth=(fake.account_sid, fake.auth_token),
            timeout=5,
        )
        assert response.status_code == 201
        return response.json()["sid"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        sids = list(pool.map(send, range(40)))
    assert len(set(sids)) == 40
    assert {m.sid for m in fake.messages()} == set(sids)


def test_stop_is_idempotent_and_closes_open_keep_alive_connections():
    fake = FakeTwilio().start()
    session = requests.Session()
    try:
        response = session.get(fake.base_url + "/nowhere", timeout=5)  # kept alive
        assert response.status_code == 404
        assert response.json()["code"] == 20404
    finally:
        fake.stop()
        fake.stop()
        session.close()


# -- expectations: a conversation with nothing unexpected ------------------------------------
def test_expected_messages_are_claimed_in_order_and_nothing_else_is_left(fake, client):
    client.messages.create(to=ENGINEER, from_=SENDER, body="[S1] Case 1042. Reply ACK 1042")
    client.messages.create(to=ENGINEER, from_=SENDER, body="Reminder: Reply STATUS 1042")
    client.messages.create(to=OTHER_ENGINEER, from_=SENDER, body="[S1] Case 1042. Reply ACK 1042")
    first = fake.expect_message(to=ENGINEER, body="Reply ACK 1042")
    assert first.body == "[S1] Case 1042. Reply ACK 1042"
    assert fake.expect_message(body=re.compile(r"STATUS \d+")).to == ENGINEER
    assert fake.expect_message(body="Reply ACK").to == OTHER_ENGINEER  # the first is claimed
    fake.expect_no_other_messages()


def test_an_expected_message_may_arrive_later(fake, client):
    def send_soon() -> None:
        time.sleep(0.2)
        client.messages.create(to=ENGINEER, from_=SENDER, body="late page")

    sender = threading.Thread(target=send_soon)
    sender.start()
    try:
        assert fake.expect_message(to=ENGINEER, body="late", timeout=5).body == "late page"
    finally:
        sender.join()


def test_a_message_claimed_once_cannot_be_claimed_again(fake, client):
    client.messages.create(to=ENGINEER, from_=SENDER, body="Reply ACK 1042")
    fake.expect_message(to=ENGINEER, body="Reply ACK 1042")
    with pytest.raises(AssertionError, match=r"no message to \+15555550123 with 'Reply ACK"):
        fake.expect_message(to=ENGINEER, body="Reply ACK 1042", timeout=0.2)


def test_an_unexpected_message_fails_the_test_with_the_message_listed(fake, client):
    client.messages.create(to=ENGINEER, from_=SENDER, body="Reply ACK 1042")
    client.messages.create(to=CUSTOMER, from_=SENDER, body="Your case 1042 is resolved")
    fake.expect_message(to=ENGINEER, body="ACK")
    with pytest.raises(UnexpectedMessages) as raised:
        fake.expect_no_other_messages()
    message = str(raised.value)
    assert "1 unexpected message" in message
    assert CUSTOMER in message and "Your case 1042 is resolved" in message
    assert ENGINEER not in message
    assert isinstance(raised.value, AssertionError)  # pytest reports it as a failed assertion


def test_allowed_messages_may_come_any_number_of_times_or_not_at_all(fake, client):
    fake.allow_messages(to=ENGINEER, body=re.compile(r"^Reminder"))
    fake.allow_messages(to=OTHER_ENGINEER, body="never sent")
    for _ in range(3):
        client.messages.create(to=ENGINEER, from_=SENDER, body="Reminder: status due")
    fake.expect_no_other_messages()
    client.messages.create(to=OTHER_ENGINEER, from_=SENDER, body="Reminder: status due")
    with pytest.raises(UnexpectedMessages, match=OTHER_ENGINEER.replace("+", r"\+")):
        fake.expect_no_other_messages()  # allowed for ENGINEER, not for OTHER_ENGINEER


def test_refused_messages_are_not_messages_and_settle_waits_for_late_ones(fake, client):
    fake.fail_next(code=21610)
    with pytest.raises(TwilioRestException):
        client.messages.create(to=ENGINEER, from_=SENDER, body="refused")
    fake.expect_no_other_messages()  # a refused create reached nobody

    def send_soon() -> None:
        time.sleep(0.1)
        client.messages.create(to=ENGINEER, from_=SENDER, body="one more thing")

    sender = threading.Thread(target=send_soon)
    sender.start()
    try:
        with pytest.raises(UnexpectedMessages, match="one more thing"):
            fake.expect_no_other_messages(settle=1.0)
    finally:
        sender.join()


def test_reset_forgets_claims_and_allowances(fake, client):
    fake.allow_messages(body="anything")
    client.messages.create(to=ENGINEER, from_=SENDER, body="anything at all")
    fake.reset()
    client.messages.create(to=ENGINEER, from_=SENDER, body="anything again")
    assert [m.body for m in fake.unexpected_messages()] == ["anything again"]


# -- calling the service back ----------------------------------------------------------------
def test_status_callbacks_are_signed_and_follow_the_status_callback(fake, client, service):
    delivered = client.messages.create(
        to=ENGINEER, from_=SENDER, body="a", status_callback=service.url + "/twilio/status"
    )
    lost = client.messages.create(
        to=OTHER_ENGINEER, from_=SENDER, body="b", status_callback=service.url + "/twilio/status"
    )
    client.messages.create(to=ENGINEER, from_=SENDER, body="no callback wanted")

    response = fake.send_status_callback(None, lost.sid, "undelivered")
    assert response.status_code == 204
    responses = fake.deliver_all("delivered")
    assert [r.status_code for r in responses] == [204]
    assert fake.deliver_all("delivered") == []  # nothing twice

    first, second = service.posts("/twilio/status")
    assert first == {
        "SmsSid": lost.sid,
        "SmsStatus": "undelivered",
        "MessageStatus": "undelivered",
        "To": OTHER_ENGINEER,
        "MessageSid": lost.sid,
        "AccountSid": DEFAULT_ACCOUNT_SID,
        "From": SENDER,
        "ApiVersion": "2010-04-01",
        "ErrorCode": "30003",
    }
    assert second["MessageSid"] == delivered.sid and second["MessageStatus"] == "delivered"
    assert "ErrorCode" not in second
    assert service.rejected == []
    assert client.messages(delivered.sid).fetch().status == "delivered"
    lost_now = client.messages(lost.sid).fetch()
    assert (lost_now.status, lost_now.error_code) == ("undelivered", 30003)
    assert [c.kind for c in fake.callbacks] == ["message-status", "message-status"]


def test_auto_status_sends_callbacks_after_each_accepted_message(fake, client, service):
    fake.auto_status = ("sent", "delivered")
    fake.auto_status_delay = 0.0
    message = client.messages.create(
        to=ENGINEER, from_=SENDER, body="a", status_callback=service.url + "/twilio/status"
    )
    fake.wait_for(lambda: len(fake.callbacks) == 2, timeout=5)
    assert [p["MessageStatus"] for p in service.posts("/twilio/status")] == ["sent", "delivered"]
    assert all(c.status_code == 204 for c in fake.callbacks)
    assert fake.get_message(message.sid)["status"] == "delivered"


def test_auto_call_status_reports_an_unanswered_page_call(fake, client, service):
    fake.auto_call_status = "no-answer"
    fake.auto_status_delay = 0.0
    call = client.calls.create(
        to=ENGINEER,
        from_=LINE,
        url=service.url + "/twilio/page",
        status_callback=service.url + "/twilio/status",
    )
    fake.wait_for(lambda: service.posts("/twilio/status"), timeout=5)
    [callback] = service.posts("/twilio/status")
    assert callback["CallSid"] == call.sid and callback["CallStatus"] == "no-answer"
    assert (callback["CallDuration"], callback["SipResponseCode"]) == ("0", "487")
    assert callback["Direction"] == "outbound-api" and callback["SequenceNumber"] == "0"
    assert client.calls(call.sid).fetch().status == "no-answer"


def test_send_sms_posts_every_real_parameter_signed(fake, service):
    response = fake.send_sms(service.url, ENGINEER, LINE, "ACK 1042")
    assert response.status_code == 200
    assert "Got it: ACK 1042" in response.text
    [posted] = service.posts("/twilio/sms")
    assert posted["MessageSid"].startswith("SM")
    assert posted["SmsSid"] == posted["SmsMessageSid"] == posted["MessageSid"]
    assert posted["MessagingServiceSid"] == fake.messaging_service_sid
    assert (posted["From"], posted["To"], posted["Body"]) == (ENGINEER, LINE, "ACK 1042")
    assert (posted["NumMedia"], posted["NumSegments"]) == ("0", "1")
    assert (posted["SmsStatus"], posted["ApiVersion"]) == ("received", "2010-04-01")
    assert posted["AccountSid"] == DEFAULT_ACCOUNT_SID
    for side in ("From", "To"):
        for part in ("City", "State", "Zip", "Country"):
            assert side + part in posted
    assert posted["FromCountry"] == "US"
    # The fake also lists it, as Twilio lists inbound messages.
    assert fake.get_message(posted["MessageSid"])["direction"] == "inbound"

    forged = fake.send_sms(service.url + "/twilio/sms", ENGINEER, LINE, "ACK", "wrong-token")
    assert forged.status_code == 403
    assert service.rejected == ["/twilio/sms"]


def test_callbacks_can_be_signed_for_a_public_url_behind_a_proxy(fake, client, service):
    service.public_url = PUBLIC
    fake.route(PUBLIC, service.url)
    message = client.messages.create(
        to=ENGINEER, from_=SENDER, body="a", status_callback=PUBLIC + "/twilio/status"
    )
    assert fake.send_status_callback(None, message.sid, "delivered").status_code == 204
    assert fake.send_sms(PUBLIC, ENGINEER, LINE, "ACK").status_code == 200

    call = VoiceCall(service.url, DEFAULT_AUTH_TOKEN, CUSTOMER, LINE, public_base_url=PUBLIC)
    call.start().press("1")
    assert call.url == PUBLIC + "/twilio/voice/menu?step=1"
    assert service.rejected == []

    # Signed for the internal URL instead: what a service validating request.url would expect.
    unrouted = post_signed(service.url + "/twilio/status", {"X": "1"}, DEFAULT_AUTH_TOKEN)
    assert unrouted.status_code == 403


# -- the voice client ------------------------------------------------------------------------
def test_a_caller_chooses_records_and_hears_the_case_number(service):
    call = VoiceCall(
        service.url,
        DEFAULT_AUTH_TOKEN,
        from_=CUSTOMER,
        to=LINE,
        status_callback=service.url + "/twilio/status",
    )
    call.start()
    assert call.said() == [
        "Welcome to the critical line.",
        "Press 1 to leave a message, 2 to reach the engineer.",
        "We did not receive your choice.",
    ]
    assert call.gather() == {
        "action": "/twilio/voice/menu?step=1",
        "numDigits": "1",
        "timeout": "3",
    }

    call.press("1")
    assert call.said() == ["Describe the problem after the tone."]
    assert call.current_verb() == "Record" and not call.is_hangup()
    call.record(duration=12, digits="#")
    assert call.said() == ["Thank you. Your case number is 1042."]
    assert call.is_hangup()
    response = call.recording_status_callback()
    assert response is not None and response.status_code == 204
    assert service.rejected == []

    first = service.posts("/twilio/voice")[0]
    assert first["CallSid"] == call.call_sid and first["AccountSid"] == DEFAULT_ACCOUNT_SID
    assert (first["From"], first["Caller"], first["To"], first["Called"]) == (
        CUSTOMER,
        CUSTOMER,
        LINE,
        LINE,
    )
    assert (first["CallStatus"], first["Direction"]) == ("ringing", "inbound")
    assert first["ApiVersion"] == "2010-04-01" and first["CallToken"]
    assert first["StirVerstat"] == "TN-Validation-Passed-A"
    assert "ForwardedFrom" not in first and "FromCity" in first and "ToCountry" in first

    [menu] = service.posts("/twilio/voice/menu")
    assert (menu["Digits"], menu["CallStatus"]) == ("1", "in-progress")
    assert call.history[1].url == service.url + "/twilio/voice/menu?step=1"
    [recorded] = service.posts("/twilio/voice/recorded")
    assert recorded["RecordingUrl"].startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert (recorded["RecordingDuration"], recorded["Digits"]) == ("12", "#")
    assert "RecordingSid" not in recorded
    [recording] = service.posts("/twilio/voice/recording")
    assert recording["RecordingSid"].startswith("RE")
    assert recording["RecordingUrl"] == recorded["RecordingUrl"]
    assert (recording["RecordingStatus"], recording["RecordingDuration"]) == ("completed", "12")
    [ended] = service.posts("/twilio/status")
    assert (ended["CallSid"], ended["CallStatus"]) == (call.call_sid, "completed")
    assert "CallDuration" in ended and "SequenceNumber" in ended and "Timestamp" in ended
    assert "Thank you. Your case number is 1042." in call.transcript


def test_hanging_up_while_recording_ends_the_call(service):
    call = VoiceCall(service.url, DEFAULT_AUTH_TOKEN, CUSTOMER, LINE)
    call.start().press("1").record(duration=7)
    [recorded] = service.posts("/twilio/voice/recorded")
    assert (recorded["Digits"], recorded["CallStatus"]) == ("hangup", "completed")
    assert call.is_hangup()
    with pytest.raises(VoiceError, match="over"):
        call.press("1")


def test_silence_follows_the_redirect_then_an_empty_get_gather_posts_its_action(service):
    call = VoiceCall(service.url, DEFAULT_AUTH_TOKEN, CUSTOMER, LINE)
    call.start()
    call.no_input()  # no actionOnEmptyResult: Twilio goes on to the <Redirect>
    assert call.url == service.url + "/twilio/voice/retry"
    assert call.said() == ["Once more: press 1 or 2."]
    assert call.gather() == {
        "action": "menu?step=2",
        "method": "GET",
        "numDigits": "1",
        "actionOnEmptyResult": "true",
    }
    call.no_input()  # actionOnEmptyResult: a signed GET to the relative action
    assert call.history[-1].method == "GET"
    assert call.history[-1].url == service.url + "/twilio/voice/menu?step=2"
    assert call.said() == ["Goodbye."] and call.is_hangup()
    [path, method, params] = service.received[-1]
    assert (path, method) == ("/twilio/voice/menu", "GET")
    assert params["step"] == ["2"] and params["CallSid"] == [call.call_sid]
    assert "Digits" not in params
    assert service.rejected == []
    assert [p for p, _, _ in service.received] == [
        "/twilio/voice",
        "/twilio/voice/retry",
        "/twilio/voice/menu",
    ]


def test_keys_stop_at_finish_on_key_and_num_digits(service):
    call = VoiceCall(service.url, DEFAULT_AUTH_TOKEN, CUSTOMER, LINE).start()
    call.press("17#")  # numDigits=1 keeps the 1
    assert service.posts("/twilio/voice/menu")[0]["Digits"] == "1"
    call = VoiceCall(service.url, DEFAULT_AUTH_TOKEN, CUSTOMER, LINE).start()
    call.press("#")  # nothing keyed: as a timeout, on to the <Redirect>
    assert call.url == service.url + "/twilio/voice/retry"


def test_the_engineer_hears_the_whisper_accepts_and_the_dial_completes(service):
    call = VoiceCall(service.url, DEFAULT_AUTH_TOKEN, CUSTOMER, LINE).start().press("2")
    assert call.said()[0] == "Connecting you to the on-call engineer."
    assert call.dialed() == [ENGINEER]

    leg = call.whisper(digits="1")
    assert leg.transcript[0] == "Critical case 1042 from Acme. Press 1 to accept."
    assert leg.said() == ["Connecting."]
    [whisper] = service.posts("/twilio/voice/whisper")
    assert whisper["Direction"] == "outbound-dial"
    assert whisper["CallSid"] != call.call_sid and whisper["ParentCallSid"] == call.call_sid
    assert (whisper["To"], whisper["From"]) == (ENGINEER, LINE)  # the Dial's callerId
    assert "CallToken" not in whisper
    assert service.posts("/twilio/voice/accept")[0]["Digits"] == "1"

    call.dial_result("completed", bridged=True, duration=95)
    [dialed] = service.posts("/twilio/voice/dialed")
    assert (dialed["DialCallStatus"], dialed["DialBridged"]) == ("completed", "true")
    assert dialed["DialCallDuration"] == "95" and dialed["DialCallSid"].startswith("CA")
    assert call.said() == ["Dial status completed."] and call.is_hangup()
    assert service.rejected == []


def test_an_unanswered_dial_reports_no_answer(service):
    call = VoiceCall(service.url, DEFAULT_AUTH_TOKEN, CUSTOMER, LINE).start().press("2")
    call.dial_result("no-answer")
    [dialed] = service.posts("/twilio/voice/dialed")
    assert (dialed["DialCallStatus"], dialed["DialBridged"]) == ("no-answer", "false")
    assert "DialCallDuration" not in dialed
    assert call.said() == ["Dial status no-answer."]


def test_the_voice_client_refuses_what_the_call_cannot_do(service):
    call = VoiceCall(service.url, DEFAULT_AUTH_TOKEN, CUSTOMER, LINE).start()
    with pytest.raises(VoiceError, match="expected <Record>, the call is at <Gather>"):
        call.record()
    with pytest.raises(VoiceError, match="expected <Redirect>"):
        call.follow_redirect()
    forged = VoiceCall(service.url, "wrong-token", CUSTOMER, LINE)
    with pytest.raises(VoiceError, match="403"):
        forged.start()
    assert forged.last_response is not None and forged.last_response.status_code == 403
    assert service.rejected == ["/twilio/voice"]


def test_an_answered_page_call_fetches_its_url_and_reports_completion(fake, client, service):
    call = client.calls.create(
        to=ENGINEER,
        from_=LINE,
        url=service.url + "/twilio/page",
        status_callback=service.url + "/twilio/status",
    )
    voice = fake.answer_call(call.sid)
    assert fake.get_call(call.sid)["status"] == "in-progress"
    assert voice.said() == ["Critical case 1042. Press 1 to acknowledge."]
    [answered] = service.posts("/twilio/page")
    assert (answered["CallSid"], answered["Direction"]) == (call.sid, "outbound-api")
    assert (answered["CallStatus"], answered["To"]) == ("in-progress", ENGINEER)
    voice.press("1")
    assert voice.said() == ["Acknowledged."] and voice.is_hangup()
    [ended] = service.posts("/twilio/status")
    assert (ended["CallSid"], ended["CallStatus"]) == (call.sid, "completed")
    assert client.calls(call.sid).fetch().status == "completed"


def test_a_call_with_inline_twiml_plays_it(fake, client):
    call = client.calls.create(
        to=ENGINEER, from_=LINE, twiml="<Response><Say>Critical case 1042.</Say></Response>"
    )
    voice = fake.answer_call(call.sid)
    assert voice.said() == ["Critical case 1042."]
    assert voice.is_hangup()
    assert fake.get_call(call.sid)["status"] == "completed"
