"""A fake Twilio for end-to-end tests and benchmarks: a real HTTP server on loopback.

The service under test talks to it exactly as it talks to Twilio (the official SDK, or plain
HTTP, with ``twilio.api_base`` set to ``fake.base_url``), and the fake calls the service back the
way Twilio does: signed status callbacks, signed inbound SMS, and a voice client that follows
TwiML ``action`` URLs. Nothing here imports pytest, so ``benchmarks/`` can use it too.

Start and stop::

    from oncall.fakes.twilio.server import FakeTwilio, VoiceCall, start_fake_twilio

    with FakeTwilio() as fake:               # ThreadingHTTPServer on 127.0.0.1, port 0
        fake.base_url                        # "http://127.0.0.1:54321"
        fake.account_sid, fake.auth_token    # the credentials it accepts (HTTP Basic)
        client = fake.twilio_client()        # a twilio.rest.Client aimed at the fake;
                                             # its HTTP session is closed by fake.stop()

    # pytest fixture
    @pytest.fixture
    def fake_twilio():
        with start_fake_twilio() as fake:
            yield fake

Pointing the official SDK at it by hand: ``client = Client(sid, token)`` then
``client.api.base_url = fake.base_url`` (``Domain.absolute_url`` reads it on every request, so
``client.messages`` and ``client.calls`` follow). Pass ``http_client=TwilioHttpClient(timeout=…)``
for a client-side timeout, and close ``client.http_client.session`` when done.

The REST API (``/2010-04-01/Accounts/{AccountSid}/…``, form-encoded, HTTP Basic):

- ``POST Messages.json`` / ``POST Calls.json``: 201 with the JSON Twilio returns; 400 with
  Twilio's error JSON for a missing ``To`` (21604 / 21201), ``From`` (21603 / 21213), ``Body``
  (21602), ``Url``/``Twiml``/``ApplicationSid`` (21205), an invalid ``To`` (21211); 401 (20003)
  for wrong credentials or an account SID that does not match the path.
- ``GET Messages.json`` with ``To``, ``From``, ``DateSent``, ``DateSent<``, ``DateSent>``
  (what ``client.messages.list(to=, from_=, date_sent=, date_sent_before=, date_sent_after=)``
  sends), ``PageSize``, ``Page``; ``GET Calls.json`` with ``To``, ``From``, ``Status``. Newest
  first, real paging (``next_page_uri``), so ``list(limit=…)`` works.
- ``GET Messages/{Sid}.json``, ``GET Calls/{Sid}.json``, and ``POST`` to them (update: a call's
  ``Status``/``Url``/``Twiml``, a message's ``Body``/``Status``).

Failures, programmed per request (they apply to the create requests unless said otherwise)::

    fake.fail_next(kind="messages", status=500, times=3)    # 500, code 20500, three times
    fake.fail_next(code=21610)                              # status 400 inferred
    fake.fail_next(status=429)                              # code 20429 inferred
    fake.delay_next(2.0, times=1)          # answer late (the message IS created: outcome unknown)
    fake.outage(status=503, seconds=30)    # every API request, GETs included, until it ends
    fake.outage(status="timeout", until=lambda: flag.is_set())  # hold the request, never answer
    fake.recover()                         # end the outage now (held requests are dropped)
    fake.fail_to("+15555550123", code=21610)  # this engineer texted STOP (messages only)
    # Magic numbers (Twilio test credentials), on Messages.json: To +15005550001 -> 21211,
    # +15005550002 -> 21612, +15005550003 -> 21408, +15005550004 -> 21610, +15005550009 -> 21614.

``until`` is a callable (the outage lasts until it returns true), an aware ``datetime`` or a
``time.time()`` timestamp; ``seconds`` is a duration. A ``"timeout"`` outage holds each request
until the outage ends, ``hold`` seconds pass or the fake stops, then drops the connection without
an answer, so the request was *not* processed. ``delay_next`` is the other case: the answer comes
late but the message exists, which is what reconciliation (``messages.list``) is for.

What happened::

    fake.requests                 # [Recorded(method, path, params, auth_ok, time, response_status,
                                  #           kind, sid, response, monotonic, headers)]
    fake.messages(to="+1555…")    # accepted (201) Messages.json creates: .to .from_ .body .sid
    fake.calls(to=None)           # accepted Calls.json creates
    fake.callbacks                # every request the fake made to the service (Callback records)
    fake.get_message(sid), fake.get_call(sid)   # current resource JSON (status follows callbacks)
    fake.wait_for(lambda: len(fake.messages()) >= 2, timeout=5)
    fake.reset()                  # forget everything, clear rules; the server keeps running

Calling the service back (every request signed with ``X-Twilio-Signature`` over the full URL)::

    fake.send_status_callback(None, sid, "delivered")   # to the StatusCallback given at create
    fake.send_status_callback(None, sid, "undelivered", error_code=30003)
    fake.deliver_all("delivered")
    fake.auto_status = "delivered"      # or ("sent", "delivered"), or a callable(Recorded)
    fake.auto_call_status = "no-answer" # status callback for every accepted call
    fake.send_call_status_callback(None, call_sid, "completed", duration=42)
    fake.send_sms("http://127.0.0.1:5000", "+15555550101", "+15555550500", "ACK 1042")
    fake.answer_call(call_sid)          # a VoiceCall that fetched the call's Url (or inline Twiml)

A phone call to the service::

    call = VoiceCall("http://127.0.0.1:5000", token, from_="+15551230001", to="+15555550500")
    call.start()                        # POST /twilio/voice, CallStatus=ringing
    call.said()                         # ["Welcome to the critical line.", …]
    call.gather()                       # {"action": "…", "numDigits": "1", "timeout": "5"}
    call.press("1")                     # POST to the Gather action with Digits=1
    call.no_input()                     # Gather timed out: actionOnEmptyResult or the next verb
    call.record(duration=12, digits="#")  # POST to <Record action> (RecordingUrl, …)
    call.recording_status_callback()    # POST to recordingStatusCallback (RecordingSid, …)
    leg = call.whisper(digits="1")      # the engineer's leg: <Number url> whisper, press 1
    call.dial_result("completed", bridged=True)  # POST to <Dial action>
    call.follow_redirect()
    call.hangup()                       # status callback CallStatus=completed, if configured
    call.is_hangup()

The verb methods are strict: ``record()`` while the call waits at a <Gather> raises
:class:`VoiceError` (an ``AssertionError``), as does a non-2xx answer from the service. When the
TwiML runs out or reaches <Hangup>, the call is over (``is_hangup()``) and its status callback,
if any, is sent once. Relative URLs resolve against the document that named them.

Behind a proxy: ``VoiceCall(..., public_base_url="https://oncall.example.com")`` and
``fake.route("https://oncall.example.com", "http://127.0.0.1:5000")`` sign the public URL and
deliver to the local one.

``sign(url, params, auth_token)`` is ``RequestValidator(auth_token).compute_signature`` over a
multi-valued parameter mapping. Standalone: ``python -m oncall.fakes.twilio.server --port 8099``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hmac
import json
import math
import queue
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit
from xml.etree import ElementTree as ET

import requests
from twilio.request_validator import RequestValidator

__all__ = [
    "API_VERSION",
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "MAGIC_TO",
    "Callback",
    "FakeTwilio",
    "Recorded",
    "VoiceCall",
    "VoiceError",
    "VoiceStep",
    "error_body",
    "inbound_sms_params",
    "new_sid",
    "num_segments",
    "post_signed",
    "send_sms",
    "sign",
    "start_fake_twilio",
]

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "f4ke0000000000000000000000000000"
TEST_FROM = "+15005550006"  # the "valid From" magic number of Twilio's test credentials

MAGIC_TO: dict[str, int] = {
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}

# code -> (HTTP status, message). Messages follow Twilio's wording where it is known.
_ERRORS: dict[int, tuple[int, str]] = {
    20001: (400, "Invalid parameter"),
    20003: (401, "Authenticate"),
    20004: (405, "Method not allowed"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21201: (400, "No 'To' number is specified"),
    21205: (400, "Url parameter is required."),
    21211: (400, "Invalid 'To' Phone Number: {to}"),
    21213: (400, "No 'From' number is specified"),
    21408: (
        400,
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: {to}.",
    ),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (400, "The 'To' phone number: {to}, is not currently reachable via SMS."),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
}
_CODE_FOR_STATUS = {401: 20003, 404: 20404, 405: 20004, 429: 20429, 503: 20503}

OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

MESSAGE_TERMINAL = frozenset({"delivered", "undelivered", "failed", "read", "canceled"})
_DEFAULT_MESSAGE_ERROR = {"undelivered": 30003, "failed": 30008}
_SIP_CODES = {"completed": 200, "busy": 486, "no-answer": 487, "canceled": 487, "failed": 500}
_CALL_TERMINAL = frozenset(_SIP_CODES)

# Canadian area codes the rota examples use; every other +1 number is reported as US.
_CA_AREA_CODES = frozenset(
    {
        "204",
        "226",
        "236",
        "250",
        "289",
        "306",
        "343",
        "365",
        "403",
        "416",
        "418",
        "431",
        "437",
        "438",
        "450",
        "506",
        "514",
        "519",
        "548",
        "579",
        "581",
        "587",
        "604",
        "613",
        "639",
        "647",
        "672",
        "705",
        "709",
        "778",
        "780",
        "782",
        "807",
        "819",
        "825",
        "867",
        "873",
        "902",
        "905",
    }
)

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("\f^{}\\[~]|€")

_ROUTE = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<resource>Messages|Calls)"
    r"(?:/(?P<sid>[A-Za-z0-9]+))?\.json$"
)
_NUMBER = re.compile(r"^\+?[1-9]\d{6,14}$")


# -- small helpers ---------------------------------------------------------------------------
def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits (``SM…``, ``CA…``, ``RE…``)."""
    return prefix + uuid.uuid4().hex


def rfc2822(moment: datetime) -> str:
    """``Thu, 24 Aug 2023 05:01:45 +0000``, the format of Twilio's date fields."""
    return format_datetime(moment.astimezone(UTC))


def num_segments(body: str) -> int:
    """SMS segments for ``body``: GSM-7 (160, or 153 per part) else UCS-2 (70, or 67)."""
    if not body:
        return 1
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body):
        septets = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def error_body(
    code: int, status: int | None = None, message: str | None = None, **fmt: str
) -> dict[str, Any]:
    """Twilio's error JSON: ``{"code", "message", "more_info", "status"}``."""
    known_status, template = _ERRORS.get(code, (None, None))
    if status is None:
        status = known_status or (429 if code == 20429 else 400)
    if message is None:
        message = template.format_map(_Blank(fmt)) if template else f"Error {code}"
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


class _Params(dict):
    """name -> list of values, with the ``getlist`` that ``RequestValidator`` looks for."""

    def getlist(self, name: str) -> list[str]:
        return list(self[name])


def _multi(params: Any) -> _Params:
    """Normalise a dict (values str or lists), a MultiDict, or (name, value) pairs."""
    out = _Params()
    if not params:
        return out
    if hasattr(params, "getlist") and hasattr(params, "keys"):
        for name in params.keys():  # noqa: SIM118 - MultiDict iteration order is what we want
            values = [str(v) for v in params.getlist(name) if v is not None]
            if values:
                out.setdefault(name, []).extend(values)
        return out
    items = params.items() if isinstance(params, Mapping) else params
    for name, value in items:
        if value is None:
            continue
        values = list(value) if isinstance(value, list | tuple) else [value]
        strs = [str(v) for v in values if v is not None]
        if strs:
            out.setdefault(str(name), []).extend(strs)
    return out


def _pairs(params: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, values in params.items() for value in values]


def sign(url: str, params: Any, auth_token: str, algorithm: str | None = None) -> str:
    """``X-Twilio-Signature`` for a request to ``url`` (full URL, query included) with the
    POST ``params`` (a dict of str or lists, a MultiDict, or pairs; empty for GET)."""
    return RequestValidator(auth_token).compute_signature(url, _multi(params), algorithm)


def post_signed(
    url: str,
    params: Any,
    auth_token: str,
    *,
    method: str = "POST",
    send_to: str | None = None,
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """Send a webhook request the way Twilio does and return the response.

    ``url`` is the URL Twilio believes it requests (the one that is signed); ``send_to`` is
    where the request really goes, when a proxy sits in between (default: ``url``). For GET the
    parameters go into the query string and the signature covers that full URL."""
    flat = _multi(params)
    method = method.upper()
    target = send_to or url
    data: list[tuple[str, str]] | None = None
    if method == "GET":
        query = urlencode(_pairs(flat))
        if query:
            url = url + ("&" if "?" in url else "?") + query
            target = target + ("&" if "?" in target else "?") + query
        signature = sign(url, {}, auth_token)
    else:
        signature = sign(url, flat, auth_token)
        data = _pairs(flat)
    sent_headers = {
        "X-Twilio-Signature": signature,
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "Accept": "*/*",
    }
    sent_headers.update(headers or {})
    return requests.request(
        method, target, data=data, headers=sent_headers, timeout=timeout, allow_redirects=False
    )


def _geo(number: str) -> dict[str, str]:
    """City/State/Zip/Country as Twilio reports them; unknown parts are empty strings."""
    country = ""
    if number.startswith("+1") and len(number) == 12:
        country = "CA" if number[2:5] in _CA_AREA_CODES else "US"
    return {"City": "", "State": "", "Zip": "", "Country": country}


def _geo_params(prefix: str, number: str) -> dict[str, str]:
    return {prefix + key: value for key, value in _geo(number).items()}


def _formatted(number: str) -> str:
    if number.startswith("+1") and len(number) == 12 and number[1:].isdigit():
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def _valid_to(to: str, *, voice: bool) -> bool:
    if voice and to.split(":", 1)[0] in ("client", "sip"):
        return True
    if ":" in to:  # whatsapp:+1555…, messenger:…
        to = to.split(":", 1)[1]
    return bool(_NUMBER.match(to))


def inbound_sms_params(
    from_: str,
    to: str,
    body: str,
    *,
    account_sid: str = DEFAULT_ACCOUNT_SID,
    message_sid: str | None = None,
    messaging_service_sid: str | None = None,
    media: Sequence[tuple[str, str]] = (),
    opt_out_type: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every parameter of Twilio's incoming-message webhook. ``media`` is (url, content type)
    pairs; ``opt_out_type`` (STOP/START/HELP) is what Advanced Opt-Out adds."""
    sid = message_sid or new_sid("MM" if media else "SM")
    params: dict[str, str] = {
        "ToCountry": "",
        "ToState": "",
        "ToCity": "",
        "ToZip": "",
        "FromCountry": "",
        "FromState": "",
        "FromCity": "",
        "FromZip": "",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": str(num_segments(body)),
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": API_VERSION,
    }
    params.update(_geo_params("To", to))
    params.update(_geo_params("From", from_))
    if messaging_service_sid:
        params["MessagingServiceSid"] = messaging_service_sid
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    if opt_out_type:
        params["OptOutType"] = opt_out_type
    params.update(extra or {})
    return params


def send_sms(
    url: str,
    from_: str,
    to: str,
    body: str,
    auth_token: str,
    *,
    send_to: str | None = None,
    timeout: float = 10.0,
    **kwargs: Any,
) -> requests.Response:
    """POST a signed inbound SMS to ``url`` (the service's ``/twilio/sms``). ``kwargs`` go to
    :func:`inbound_sms_params` (``account_sid``, ``message_sid``, ``media``, ``extra``…)."""
    params = inbound_sms_params(from_, to, body, **kwargs)
    return post_signed(url, params, auth_token, send_to=send_to, timeout=timeout)


# -- records ---------------------------------------------------------------------------------
@dataclass
class Recorded:
    """One request the fake received. ``params`` holds the query and the form body."""

    method: str
    path: str
    params: dict[str, list[str]]
    auth_ok: bool
    time: float  # time.time() when it arrived
    response_status: int | None  # None: not answered (yet, or ever: a "timeout" outage)
    kind: str = "unknown"  # messages.create, messages.list, messages.fetch, calls.create, …
    sid: str | None = None  # the SID a create request got
    response: dict[str, Any] | None = None
    monotonic: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[0] if values else default

    @property
    def to(self) -> str | None:
        return self.get("To")

    @property
    def from_(self) -> str | None:
        return self.get("From")

    @property
    def body(self) -> str | None:
        return self.get("Body")

    @property
    def status_callback(self) -> str | None:
        return self.get("StatusCallback")


@dataclass
class Callback:
    """One request the fake sent to the service."""

    kind: str  # message-status, call-status, sms
    url: str
    params: dict[str, list[str]]
    status_code: int | None
    error: str | None
    time: float


@dataclass
class _Resource:
    kind: str  # "messages" | "calls"
    sid: str
    data: dict[str, Any]
    params: dict[str, list[str]]
    created: datetime
    seq: int
    sent: datetime | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    sequence_number: int = 0


@dataclass
class _Failure:
    kind: str | None
    status: int
    code: int
    message: str | None
    remaining: int
    to: str | None = None


@dataclass
class _Delay:
    kind: str | None
    seconds: float
    remaining: int


@dataclass
class _Outage:
    status: int | str
    code: int | None
    kind: str | None
    over: Callable[[], bool]
    hold: float | None


@dataclass
class _Route:
    resource: str  # messages | calls
    account: str
    sid: str | None
    action: str  # create | list | fetch | update | other

    @property
    def kind(self) -> str:
        return f"{self.resource}.{self.action}"


class _NoAnswer(Exception):
    """Drop the connection without a response (a timeout, as the client sees it)."""


def _parse_route(method: str, path: str) -> _Route | None:
    match = _ROUTE.match(path)
    if not match:
        return None
    sid = match["sid"]
    if method == "POST":
        action = "update" if sid else "create"
    elif method == "GET":
        action = "fetch" if sid else "list"
    else:
        action = "other"
    return _Route(match["resource"].lower(), match["account"], sid, action)


def _until(until: Any, seconds: float | None) -> Callable[[], bool]:
    if seconds is not None:
        end = time.monotonic() + seconds
        return lambda: time.monotonic() >= end
    if until is None:
        return lambda: False
    if isinstance(until, datetime):
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        return lambda: datetime.now(UTC) >= until
    if callable(until):
        return lambda: bool(until())
    if isinstance(until, int | float):
        return lambda: time.time() >= until
    raise TypeError(f"until: expected a callable, an aware datetime or a timestamp, not {until!r}")


def _parse_when(value: str) -> date:
    value = value.strip()
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when_matches(sent: datetime, bound: date, op: str) -> bool:
    """``DateSent`` is a day filter (the SDK sends a date as midnight ``…T00:00:00Z``);
    ``DateSent>``/``DateSent<`` are inclusive and use the time when one is given."""
    if op == "=" or not isinstance(bound, datetime):
        day = bound.astimezone(UTC).date() if isinstance(bound, datetime) else bound
        left: date = sent.astimezone(UTC).date()
        bound = day
    else:
        left = sent.replace(microsecond=0)
    if op == "=":
        return left == bound
    if op == ">":
        return left >= bound
    return left <= bound


# -- the HTTP server -------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    # ThreadingMixIn joins its handler threads in server_close(); we make sure they end by
    # shutting down every open connection first (keep-alive readers would wait forever).
    block_on_close = True
    request_queue_size = 512  # bursts of connections must not wait for SYN retries
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeTwilio) -> None:
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # the client went away (timed out, reset): not our bug
            return
        self.fake._note_error(traceback.format_exc())
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


# -- the fake --------------------------------------------------------------------------------
class FakeTwilio:
    """A fake Twilio REST API on loopback that records everything and calls back. Thread-safe."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
        messaging_service_sid: str | None = None,
        messaging_service_number: str = TEST_FROM,
        magic_numbers: bool = True,
        handle_opt_out: bool = True,
        advanced_opt_out: bool = False,
        callback_timeout: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self._port = port
        self._clock = clock or (lambda: datetime.now(UTC))
        # MessagingServiceSid carried by inbound SMS (None: the number is in no service).
        self.messaging_service_sid = messaging_service_sid or new_sid("MG")
        # The sender Twilio picks when a message names only a MessagingServiceSid.
        self.messaging_service_number = messaging_service_number
        self.magic_numbers = magic_numbers
        self.handle_opt_out = handle_opt_out  # inbound STOP/START change who gets 21610
        self.advanced_opt_out = advanced_opt_out  # adds OptOutType to inbound keywords
        self.callback_timeout = callback_timeout
        # Auto callbacks: a status, a sequence of statuses, or a callable(Recorded) -> either.
        self.auto_status: Any = None
        self.auto_call_status: Any = None
        self.auto_status_delay = 0.1  # seconds after the 201, so the service stored the SID

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._generation = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._queue: queue.Queue[tuple[float, Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.Queue()
        )
        self._sessions: list[requests.Session] = []
        self._routes: dict[str, str] = {}
        self._clear_state()

    def _clear_state(self) -> None:
        with self._lock:
            self._requests: list[Recorded] = []
            self._callbacks: list[Callback] = []
            self._errors: list[str] = []
            self._resources: dict[str, _Resource] = {}
            self._seq = 0
            self._failures: list[_Failure] = []
            self._delays: list[_Delay] = []
            self._outage: _Outage | None = None
            self._number_rules: dict[str, list[_Failure]] = {}
            self._opted_out: set[str] = set()
            self._bump()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeTwilio:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self._port), self)
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-twilio-http",
            daemon=True,
        )
        self._serve_thread.start()
        self._queue = queue.Queue()
        self._worker = threading.Thread(
            target=self._work, name="fake-twilio-callbacks", daemon=True
        )
        self._worker.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        server.shutdown()
        server.close_connections()
        server.server_close()  # joins the handler threads
        if self._serve_thread is not None:
            self._serve_thread.join()
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join()
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._server = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake Twilio is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def twilio_client(self, timeout: float | None = None) -> Any:
        """A ``twilio.rest.Client`` aimed at this fake; ``stop()`` closes its HTTP session."""
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        http_client = TwilioHttpClient(timeout=timeout)
        client = Client(self.account_sid, self.auth_token, http_client=http_client)
        client.edge = client.region = None  # TWILIO_EDGE/TWILIO_REGION would rewrite the host
        client.api.base_url = self.base_url
        if http_client.session is not None:
            with self._lock:
                self._sessions.append(http_client.session)
        return client

    def route(self, public_prefix: str, actual_prefix: str) -> None:
        """Callbacks to URLs under ``public_prefix`` (signed as such) really go to
        ``actual_prefix``: the service behind a TLS-terminating proxy."""
        with self._lock:
            self._routes[public_prefix.rstrip("/")] = actual_prefix.rstrip("/")

    def _send_to(self, url: str) -> str | None:
        with self._lock:
            for public, actual in self._routes.items():
                if url.startswith(public):
                    return actual + url[len(public) :]
        return None

    # -- programmable failures ---------------------------------------------------------------
    def fail_next(
        self,
        kind: str | None = None,
        *,
        status: int | None = None,
        code: int | None = None,
        times: int = 1,
        message: str | None = None,
        to: str | None = None,
    ) -> None:
        """The next ``times`` create requests of ``kind`` ("messages", "calls", None: either),
        optionally only those to ``to``, fail with ``status``/``code``. A code alone implies
        its status (400, or 429 for 20429); a status alone implies its code (500 -> 20500)."""
        _check_kind(kind)
        if code is None:
            code = _CODE_FOR_STATUS.get(status or 500, 20500 if (status or 500) >= 500 else 20001)
        if status is None:
            status = error_body(code)["status"]
        with self._lock:
            self._failures.append(_Failure(kind, status, code, message, times, to))

    def delay_next(self, seconds: float, times: int = 1, *, kind: str | None = None) -> None:
        """Answer the next ``times`` create requests ``seconds`` late. They are processed all
        the same: a client that timed out does not know its message went out."""
        _check_kind(kind)
        with self._lock:
            self._delays.append(_Delay(kind, seconds, times))

    def outage(
        self,
        status: int | str = 500,
        *,
        until: Any = None,
        seconds: float | None = None,
        kind: str | None = None,
        code: int | None = None,
        hold: float | None = None,
    ) -> None:
        """Every API request (of ``kind``, GETs too) fails until ``recover()``, ``until`` or
        ``seconds``. ``status="timeout"``: hold the request (at most ``hold`` seconds) and drop
        it unanswered and unprocessed."""
        _check_kind(kind)
        if status != "timeout" and not isinstance(status, int):
            raise ValueError("status: an HTTP status code or 'timeout'")
        with self._changed:
            self._outage = _Outage(status, code, kind, _until(until, seconds), hold)
            self._bump()

    def recover(self) -> None:
        """End the outage now."""
        with self._changed:
            self._outage = None
            self._bump()

    def fail_to(
        self,
        number: str,
        code: int = 21610,
        *,
        status: int | None = None,
        kind: str | None = None,
        message: str | None = None,
    ) -> None:
        """Refuse every create request to ``number`` with ``code``. ``kind`` None means
        messages only for 21610 (opting out is an SMS matter) and both otherwise."""
        _check_kind(kind)
        if kind is None and code == 21610:
            kind = "messages"
        if status is None:
            status = error_body(code)["status"]
        with self._lock:
            self._number_rules.setdefault(number, []).append(
                _Failure(kind, status, code, message, remaining=-1, to=number)
            )

    def clear_fail_to(self, number: str | None = None) -> None:
        with self._lock:
            if number is None:
                self._number_rules.clear()
            else:
                self._number_rules.pop(number, None)

    def opt_out(self, number: str) -> None:
        """As if ``number`` texted STOP: later messages to it get 21610."""
        with self._lock:
            self._opted_out.add(number)

    def opt_in(self, number: str) -> None:
        with self._lock:
            self._opted_out.discard(number)

    @property
    def opted_out(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._opted_out)

    # -- inspection --------------------------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    @property
    def callbacks(self) -> list[Callback]:
        with self._lock:
            return list(self._callbacks)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected exceptions inside the fake (should stay empty)."""
        with self._lock:
            return list(self._errors)

    def messages(self, to: str | None = None) -> list[Recorded]:
        """Accepted (201) ``Messages.json`` creates, oldest first."""
        return self._accepted("messages.create", to)

    def calls(self, to: str | None = None) -> list[Recorded]:
        """Accepted (201) ``Calls.json`` creates, oldest first."""
        return self._accepted("calls.create", to)

    def _accepted(self, kind: str, to: str | None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self._requests
                if r.kind == kind and r.response_status == 201 and (to is None or r.to == to)
            ]

    def get_message(self, sid: str) -> dict[str, Any]:
        return self._resource_data(sid, "messages")

    def get_call(self, sid: str) -> dict[str, Any]:
        return self._resource_data(sid, "calls")

    def _resource_data(self, sid: str, kind: str) -> dict[str, Any]:
        with self._lock:
            res = self._resources.get(sid)
            if res is None or res.kind != kind:
                raise KeyError(sid)
            return json.loads(json.dumps(res.data))

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05
    ) -> Any:
        """Poll ``predicate()`` (outside the lock) until it is truthy; wake early whenever a
        request or callback is recorded. Returns its value; ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                generation = self._generation
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"condition not met after {timeout}s; the fake saw:\n{self.summary()}"
                )
            with self._changed:
                if self._generation == generation:
                    self._changed.wait(min(interval, remaining))

    def summary(self, last: int = 20) -> str:
        """The last requests and callbacks, one a line, for failure messages."""
        with self._lock:
            lines = [
                f"  {r.method} {r.path} -> {r.response_status} "
                f"To={r.to} Body={(r.body or '')[:60]!r}"
                for r in self._requests[-last:]
            ]
            lines += [
                f"  callback {c.kind} {c.url} -> {c.status_code or c.error}"
                for c in self._callbacks[-last:]
            ]
        return "\n".join(lines) or "  (nothing)"

    def reset(self) -> None:
        """Forget requests, resources, callbacks and every rule; keep running."""
        self._clear_state()
        with self._lock:
            self.auto_status = None
            self.auto_call_status = None

    # -- serving -----------------------------------------------------------------------------
    def _bump(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        params = parse_qs(split.query, keep_blank_values=True)
        if raw:
            form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
            for name, values in form.items():
                params.setdefault(name, []).extend(values)
        route = _parse_route(handler.command, split.path)
        rec = Recorded(
            method=handler.command,
            path=split.path,
            params=params,
            auth_ok=False,
            time=time.time(),
            response_status=None,
            kind=route.kind if route else "unknown",
            monotonic=time.monotonic(),
            headers=dict(handler.headers.items()),
        )
        with self._lock:
            self._requests.append(rec)
            self._bump()
        after: Callable[[], None] | None = None
        try:
            status, payload, after = self._respond(handler, rec, route)
        except _NoAnswer:
            handler.close_connection = True
            return
        with self._lock:
            rec.response_status = status
            rec.response = payload
            self._bump()
        try:
            self._write(handler, status, payload)
        finally:
            if after is not None:
                after()

    def _write(self, handler: _Handler, status: int, payload: dict[str, Any] | None) -> None:
        body = json.dumps(payload).encode("utf-8") if payload is not None else b""
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Twilio-Request-Id", new_sid("RQ"))
        if status == 401:
            handler.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

    def _respond(
        self, handler: _Handler, rec: Recorded, route: _Route | None
    ) -> tuple[int, dict[str, Any] | None, Callable[[], None] | None]:
        if route is None:
            return self._error(20404, path=rec.path)
        auth_ok = self._auth_ok(handler.headers.get("Authorization"), route.account)
        with self._lock:
            rec.auth_ok = auth_ok
        if not auth_ok:
            body = error_body(20003)
            body["detail"] = "Your AccountSid or AuthToken was incorrect."
            return 401, body, None
        failed = self._outage_response(route)
        if failed is not None:
            return failed
        if route.action == "create":
            self._delay(route.resource)
            failed = self._take_failure(route.resource, rec.to)
            if failed is not None:
                return failed
            if route.resource == "messages":
                return self._create_message(rec)
            return self._create_call(rec)
        if route.action == "list":
            return self._list(rec, route)
        if route.action in ("fetch", "update"):
            return self._fetch_or_update(rec, route)
        return self._error(20004)

    def _error(
        self, code: int, status: int | None = None, message: str | None = None, **fmt: str
    ) -> tuple[int, dict[str, Any], None]:
        body = error_body(code, status, message, **fmt)
        return body["status"], body, None

    def _auth_ok(self, header: str | None, path_account: str) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        same = hmac.compare_digest
        return bool(sep) and (
            same(user.encode(), path_account.encode())
            & same(user.encode(), self.account_sid.encode())
            & same(password.encode(), self.auth_token.encode())
        )

    def _outage_response(self, route: _Route) -> tuple[int, dict[str, Any], None] | None:
        with self._changed:
            outage = self._outage
            if outage is None or (outage.kind is not None and outage.kind != route.resource):
                return None
            if outage.over():
                self._outage = None
                self._bump()
                return None
            if outage.status != "timeout":
                status = int(outage.status)
                code = outage.code or _CODE_FOR_STATUS.get(status, 20500)
                return self._error(code, status)
            started = time.monotonic()
            while not self._stopping.is_set() and self._outage is outage and not outage.over():
                if outage.hold is not None and time.monotonic() - started >= outage.hold:
                    break
                self._changed.wait(0.05)
        raise _NoAnswer

    def _delay(self, resource: str) -> None:
        seconds = 0.0
        with self._lock:
            for delay in self._delays:
                if delay.remaining != 0 and delay.kind in (None, resource):
                    delay.remaining -= 1
                    seconds = delay.seconds
                    break
            self._delays = [d for d in self._delays if d.remaining != 0]
        if seconds and self._stopping.wait(seconds):
            raise _NoAnswer

    def _take_failure(
        self, resource: str, to: str | None
    ) -> tuple[int, dict[str, Any], None] | None:
        with self._lock:
            for rule in self._failures:
                if rule.remaining != 0 and rule.kind in (None, resource) and rule.to in (None, to):
                    rule.remaining -= 1
                    self._failures = [f for f in self._failures if f.remaining != 0]
                    return self._error(rule.code, rule.status, rule.message, to=to or "")
        return None

    def _refusal(self, resource: str, to: str) -> tuple[int, dict[str, Any], None] | None:
        with self._lock:
            for rule in self._number_rules.get(to, []):
                if rule.kind in (None, resource):
                    return self._error(rule.code, rule.status, rule.message, to=to)
            if resource == "messages":
                if to in self._opted_out:
                    return self._error(21610, to=to)
                if self.magic_numbers and to in MAGIC_TO:
                    return self._error(MAGIC_TO[to], to=to)
        return None

    def _store(self, res: _Resource) -> None:
        with self._lock:
            self._resources[res.sid] = res
            self._bump()

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _create_message(
        self, rec: Recorded
    ) -> tuple[int, dict[str, Any] | None, Callable[[], None] | None]:
        to = rec.get("To", "") or ""
        from_ = rec.get("From", "") or ""
        service = rec.get("MessagingServiceSid", "") or ""
        body = rec.get("Body", "") or ""
        media = rec.params.get("MediaUrl", [])
        if not to:
            return self._error(21604)
        if not from_ and not service:
            return self._error(21603)
        if not body and not media and not rec.get("ContentSid"):
            return self._error(21602)
        if len(body) > 1600:
            return self._error(21617)
        if not _valid_to(to, voice=False):
            return self._error(21211, to=to)
        refused = self._refusal("messages", to)
        if refused is not None:
            return refused
        now = self._clock()
        sid = new_sid("MM" if media else "SM")
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        data: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": rfc2822(now),
            "date_sent": None,
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_ or None,
            "messaging_service_sid": service or None,
            "num_media": str(len(media)),
            "num_segments": str(num_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if from_ else "accepted",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }
        response = json.loads(json.dumps(data))
        # What a later fetch shows: Twilio picked a sender and handed the message on.
        data["from"] = from_ or self.messaging_service_number
        data["date_sent"] = rfc2822(now)
        res = _Resource(
            "messages",
            sid,
            data,
            rec.params,
            now,
            self._next_seq(),
            sent=now,
            status_callback=rec.get("StatusCallback") or None,
        )
        self._store(res)
        with self._lock:
            rec.sid = sid
        return 201, response, self._auto(self.auto_status, rec, res, self._auto_message_status)

    def _create_call(
        self, rec: Recorded
    ) -> tuple[int, dict[str, Any] | None, Callable[[], None] | None]:
        to = rec.get("To", "") or ""
        from_ = rec.get("From", "") or ""
        if not to:
            return self._error(21201)
        if not from_:
            return self._error(21213)
        if not (rec.get("Url") or rec.get("Twiml") or rec.get("ApplicationSid")):
            return self._error(21205)
        url = rec.get("Url")
        if url and not url.startswith(("http://", "https://")):
            return self._error(21205, message=f"Url is not a valid URL: {url}")
        if not _valid_to(to, voice=True):
            return self._error(21211, to=to)
        refused = self._refusal("calls", to)
        if refused is not None:
            return refused
        now = self._clock()
        sid = new_sid("CA")
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json"
        base = uri[: -len(".json")]
        data: dict[str, Any] = {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(now),
            "date_updated": rfc2822(now),
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": from_,
            "from_formatted": _formatted(from_),
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                name: f"{base}/{name.title().replace('_', '')}.json"
                for name in ("notifications", "recordings", "payments", "events", "siprec")
            },
            "to": to,
            "to_formatted": _formatted(to),
            "trunk_sid": None,
            "uri": uri,
        }
        res = _Resource(
            "calls",
            sid,
            data,
            rec.params,
            now,
            self._next_seq(),
            status_callback=rec.get("StatusCallback") or None,
            status_callback_method=(rec.get("StatusCallbackMethod") or "POST").upper(),
        )
        self._store(res)
        with self._lock:
            rec.sid = sid
        response = json.loads(json.dumps(data))
        return 201, response, self._auto(self.auto_call_status, rec, res, self._auto_call_status)

    def _list(
        self, rec: Recorded, route: _Route
    ) -> tuple[int, dict[str, Any] | None, Callable[[], None] | None]:
        params = rec.params
        try:
            page_size = max(1, min(int(rec.get("PageSize") or 50), 1000))
            page = max(0, int(rec.get("Page") or 0))
            bounds = [
                (op, _parse_when(value))
                for name, op in (("DateSent", "="), ("DateSent>", ">"), ("DateSent<", "<"))
                for value in params.get(name, [])
            ]
        except ValueError as exc:
            return self._error(20001, message=f"Invalid parameter: {exc}")
        filter_names = (
            ("To", "From", "DateSent", "DateSent>", "DateSent<")
            if route.resource == "messages"
            else ("To", "From", "Status")
        )
        wanted = {name: rec.get(name) for name in ("To", "From", "Status") if rec.get(name)}
        with self._lock:
            items = [
                r
                for r in self._resources.values()
                if r.kind == route.resource
                and all(r.data.get(name.lower()) == value for name, value in wanted.items())
                and all(_when_matches(r.sent or r.created, b, op) for op, b in bounds)
            ]
            items.sort(key=lambda r: (r.created, r.seq), reverse=True)
            chunk = items[page * page_size : (page + 1) * page_size]
            records = [json.loads(json.dumps(r.data)) for r in chunk]
        base = f"/{API_VERSION}/Accounts/{route.account}/{route.resource.title()}.json"
        filters = [(name, value) for name in filter_names for value in params.get(name, [])]

        def page_uri(number: int, token: str | None = None) -> str:
            pairs = [*filters, ("PageSize", str(page_size)), ("Page", str(number))]
            if token:
                pairs.append(("PageToken", token))
            return f"{base}?{urlencode(pairs)}"

        has_next = len(items) > (page + 1) * page_size
        payload = {
            route.resource: records,
            "end": page * page_size + max(len(records) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1, "PA" + chunk[-1].sid) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": (
                page_uri(page - 1, "PB" + chunk[0].sid) if page > 0 and chunk else None
            ),
            "start": page * page_size,
            "uri": page_uri(page, rec.get("PageToken")),
        }
        return 200, payload, None

    def _fetch_or_update(
        self, rec: Recorded, route: _Route
    ) -> tuple[int, dict[str, Any] | None, Callable[[], None] | None]:
        with self._lock:
            res = self._resources.get(route.sid or "")
            if res is None or res.kind != route.resource:
                return self._error(20404, path=rec.path)
            if route.action == "update":
                now = rfc2822(self._clock())
                if route.resource == "calls":
                    status = rec.get("Status")
                    if status:
                        res.data["status"] = status
                        res.data["end_time"] = now
                    for name in ("Url", "Twiml", "Method"):
                        if rec.get(name) is not None:
                            res.params[name] = [rec.get(name) or ""]
                else:
                    if rec.get("Body") is not None:
                        res.data["body"] = rec.get("Body")
                    if rec.get("Status"):
                        res.data["status"] = rec.get("Status")
                res.data["date_updated"] = now
            return 200, json.loads(json.dumps(res.data)), None

    # -- callbacks to the service ------------------------------------------------------------
    def _auto(
        self,
        spec: Any,
        rec: Recorded,
        res: _Resource,
        send: Callable[[str, str], None],
    ) -> Callable[[], None] | None:
        if spec is None or not res.status_callback:
            return None
        statuses = spec(rec) if callable(spec) else spec
        if not statuses:
            return None
        if isinstance(statuses, str):
            statuses = [statuses]

        def enqueue() -> None:
            for status in statuses:
                self._queue.put(
                    (time.monotonic() + self.auto_status_delay, send, (res.sid, status))
                )

        return enqueue

    def _auto_message_status(self, sid: str, status: str) -> None:
        self.send_status_callback(None, sid, status)

    def _auto_call_status(self, sid: str, status: str) -> None:
        self.send_call_status_callback(None, sid, status)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            not_before, send, args = item
            wait = not_before - time.monotonic()
            if (wait > 0 and self._stopping.wait(wait)) or self._stopping.is_set():
                continue  # stopping: drop what is left, keep draining until the sentinel
            try:
                send(*args)
            except requests.RequestException:
                pass  # already in self.callbacks with its error
            except Exception:
                self._note_error(traceback.format_exc())

    def _post_callback(
        self, kind: str, url: str, params: Mapping[str, Any], method: str = "POST"
    ) -> requests.Response:
        sent = _multi(params)
        started = time.time()
        try:
            response = post_signed(
                url,
                sent,
                self.auth_token,
                method=method,
                send_to=self._send_to(url),
                timeout=self.callback_timeout,
            )
        except requests.RequestException as exc:
            with self._lock:
                self._callbacks.append(Callback(kind, url, sent, None, repr(exc), started))
                self._bump()
            raise
        with self._lock:
            self._callbacks.append(Callback(kind, url, sent, response.status_code, None, started))
            self._bump()
        return response

    def send_status_callback(
        self,
        url: str | None,
        message_sid: str,
        status: str,
        error_code: int | None = None,
        *,
        extra: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST a signed message status callback; ``url`` None: the message's StatusCallback.
        ``ErrorCode`` goes only with failed/undelivered (default 30008/30003). The stored
        message takes the new status, so a later fetch agrees with the callback."""
        now = self._clock()
        with self._lock:
            res = self._resources.get(message_sid)
            if url is None:
                if res is None or not res.status_callback:
                    raise ValueError(f"{message_sid}: no StatusCallback to send to")
                url = res.status_callback
            data = res.data if res is not None else {}
            params: dict[str, Any] = {
                "SmsSid": message_sid,
                "SmsStatus": status,
                "MessageStatus": status,
                "To": data.get("to"),
                "MessagingServiceSid": data.get("messaging_service_sid"),
                "MessageSid": message_sid,
                "AccountSid": self.account_sid,
                "From": data.get("from"),
                "ApiVersion": API_VERSION,
            }
            if status in ("failed", "undelivered"):
                error_code = error_code or _DEFAULT_MESSAGE_ERROR[status]
                params["ErrorCode"] = str(error_code)
            if status == "delivered":
                params["RawDlrDoneDate"] = now.astimezone(UTC).strftime("%y%m%d%H%M")
            params.update(extra or {})
            if res is not None:
                data["status"] = status
                data["date_updated"] = rfc2822(now)
                if status in ("failed", "undelivered"):
                    data["error_code"] = error_code
                    data["error_message"] = f"Error {error_code}"
            method = res.status_callback_method if res is not None else "POST"
        return self._post_callback("message-status", url, params, method)

    def deliver_all(self, status: str = "delivered") -> list[requests.Response]:
        """A status callback for every accepted outbound message that named a StatusCallback
        and is not in a final state yet (so calling it twice sends nothing twice)."""
        with self._lock:
            sids = [
                r.sid
                for r in sorted(self._resources.values(), key=lambda r: r.seq)
                if r.kind == "messages"
                and r.status_callback
                and r.data.get("direction") == "outbound-api"
                and r.data.get("status") not in MESSAGE_TERMINAL
            ]
        return [self.send_status_callback(None, sid, status) for sid in sids]

    def send_call_status_callback(
        self,
        url: str | None,
        call_sid: str,
        status: str,
        *,
        duration: int | None = None,
        answered_by: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST a signed call status callback (``url`` None: the call's StatusCallback).
        Final statuses carry CallDuration, SipResponseCode, Timestamp and SequenceNumber."""
        now = self._clock()
        with self._lock:
            res = self._resources.get(call_sid)
            if url is None:
                if res is None or not res.status_callback:
                    raise ValueError(f"{call_sid}: no StatusCallback to send to")
                url = res.status_callback
            data = res.data if res is not None else {}
            to, from_ = data.get("to") or "", data.get("from") or ""
            sequence = 0
            if res is not None:
                sequence = res.sequence_number
                res.sequence_number += 1
            params: dict[str, Any] = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "CallSid": call_sid,
                "CallStatus": status,
                "Called": to,
                "Caller": from_,
                "Direction": data.get("direction", "outbound-api"),
                "From": from_,
                "To": to,
                "CallbackSource": "call-progress-events",
                "Timestamp": rfc2822(now),
                "SequenceNumber": str(sequence),
                **_geo_params("From", from_),
                **_geo_params("To", to),
                **_geo_params("Caller", from_),
                **_geo_params("Called", to),
            }
            if status in _CALL_TERMINAL:
                seconds = duration if duration is not None else 0
                params["CallDuration"] = str(seconds)
                params["Duration"] = str(math.ceil(seconds / 60))
                params["SipResponseCode"] = str(_SIP_CODES[status])
            if answered_by:
                params["AnsweredBy"] = answered_by
            params.update(extra or {})
            if res is not None:
                self._set_call_status(res, status, duration, now)
            method = res.status_callback_method if res is not None else "POST"
        return self._post_callback("call-status", url, params, method)

    def _set_call_status(
        self, res: _Resource, status: str, duration: int | None, now: datetime
    ) -> None:
        with self._lock:
            res.data["status"] = status
            res.data["date_updated"] = rfc2822(now)
            if status == "in-progress" and res.data.get("start_time") is None:
                res.data["start_time"] = rfc2822(now)
            if status in _CALL_TERMINAL:
                res.data["end_time"] = rfc2822(now)
                res.data["duration"] = str(duration or 0)
            self._bump()

    def send_sms(
        self,
        service_url: str,
        from_: str,
        to: str,
        body: str,
        auth_token: str | None = None,
        *,
        media: Sequence[tuple[str, str]] = (),
        extra: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> requests.Response:
        """POST a signed inbound SMS to the service. ``service_url`` is the webhook URL; a bare
        base URL gets ``/twilio/sms``. STOP/START keywords update who gets 21610, as Twilio's
        own opt-out handling does, before the webhook is sent."""
        if urlsplit(service_url).path in ("", "/"):
            service_url = service_url.rstrip("/") + "/twilio/sms"
        keyword = body.strip().upper()
        opt_out_type = None
        if keyword in OPT_OUT_KEYWORDS:
            opt_out_type = "STOP"
        elif keyword in OPT_IN_KEYWORDS:
            opt_out_type = "START"
        elif keyword in HELP_KEYWORDS:
            opt_out_type = "HELP"
        if self.handle_opt_out and opt_out_type == "STOP":
            self.opt_out(from_)
        elif self.handle_opt_out and opt_out_type == "START":
            self.opt_in(from_)
        params = inbound_sms_params(
            from_,
            to,
            body,
            account_sid=self.account_sid,
            messaging_service_sid=self.messaging_service_sid,
            media=media,
            opt_out_type=opt_out_type if self.advanced_opt_out else None,
            extra=extra,
        )
        now = self._clock()
        sid = params["MessageSid"]
        data = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": rfc2822(now),
            "date_sent": rfc2822(now),
            "date_updated": rfc2822(now),
            "direction": "inbound",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(len(media)),
            "num_segments": params["NumSegments"],
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "received",
            "to": to,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self._store(_Resource("messages", sid, data, _multi(params), now, self._next_seq(), now))
        token = auth_token or self.auth_token
        started = time.time()
        try:
            response = post_signed(
                service_url, params, token, send_to=self._send_to(service_url), timeout=timeout
            )
        except requests.RequestException as exc:
            with self._lock:
                self._callbacks.append(
                    Callback("sms", service_url, _multi(params), None, repr(exc), started)
                )
            raise
        with self._lock:
            self._callbacks.append(
                Callback("sms", service_url, _multi(params), response.status_code, None, started)
            )
            self._bump()
        return response

    def answer_call(
        self, call_sid: str, *, answered_by: str | None = None, timeout: float = 10.0
    ) -> VoiceCall:
        """The callee picks up a call the service placed: fetch its ``Url`` (or read its
        inline ``Twiml``) as Twilio does, and return the :class:`VoiceCall` to drive it."""
        with self._lock:
            res = self._resources.get(call_sid)
            if res is None or res.kind != "calls":
                raise KeyError(call_sid)
            url = (res.params.get("Url") or [""])[0]
            twiml = (res.params.get("Twiml") or [""])[0]
            method = (res.params.get("Method") or ["POST"])[0]
            from_, to = res.data["from"], res.data["to"]
            status_callback = res.status_callback
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url)) if url else ""
        voice = VoiceCall(
            origin,
            self.auth_token,
            from_,
            to,
            call_sid,
            account_sid=self.account_sid,
            direction="outbound-api",
            status_callback=status_callback,
            extra_params={"AnsweredBy": answered_by} if answered_by else None,
            timeout=timeout,
            routes=dict(self._routes),
        )

        def ended(status: str, duration: int) -> None:
            self._set_call_status(res, status, duration, self._clock())

        voice._on_end = ended
        self._set_call_status(res, "in-progress", None, self._clock())
        if url:
            voice.start(url, method=method, status="in-progress")
        else:
            voice.load_twiml(twiml)
        return voice


def _check_kind(kind: str | None) -> None:
    if kind not in (None, "messages", "calls"):
        raise ValueError(f"kind: 'messages', 'calls' or None, not {kind!r}")


def start_fake_twilio(**kwargs: Any) -> FakeTwilio:
    """A started :class:`FakeTwilio`; use it as a context manager (``with … as fake``) or call
    ``stop()``. Keyword arguments go to the constructor."""
    return FakeTwilio(**kwargs).start()


# -- the voice client ------------------------------------------------------------------------
class VoiceError(AssertionError):
    """The call cannot do what the test asked (wrong verb, error answer, bad TwiML)."""


@dataclass
class VoiceStep:
    """One request the voice client made and what came back."""

    url: str
    method: str
    params: dict[str, str]
    status_code: int
    twiml: str


_INTERACTIVE = frozenset(
    {
        "Gather",
        "Record",
        "Dial",
        "Redirect",
        "Hangup",
        "Reject",
        "Enqueue",
        "Connect",
        "Pay",
        "Refer",
        "Leave",
    }
)


class VoiceCall:
    """A caller (or a callee) on a Twilio call to the service.

    ``service_base_url`` is where requests really go; ``public_base_url`` (default: the same)
    is the URL Twilio knows the service by, which relative paths and signatures use. Every
    request carries ``X-Twilio-Signature`` over the full public URL. Flow methods return
    ``self``; ``said()``, ``gather()``, ``last_twiml`` describe the current TwiML document."""

    def __init__(
        self,
        service_base_url: str,
        auth_token: str,
        from_: str,
        to: str,
        call_sid: str | None = None,
        *,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        direction: str = "inbound",
        status_callback: str | None = None,
        public_base_url: str | None = None,
        parent_call_sid: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        routes: Mapping[str, str] | None = None,
    ) -> None:
        self.service_base_url = service_base_url.rstrip("/")
        self.public_base_url = (public_base_url or service_base_url).rstrip("/")
        self.auth_token = auth_token
        self.from_ = from_
        self.to = to
        self.call_sid = call_sid or new_sid("CA")
        self.account_sid = account_sid
        self.direction = direction
        self.status_callback = status_callback
        self.parent_call_sid = parent_call_sid
        self.extra_params = dict(extra_params or {})
        self.timeout = timeout
        self.routes = dict(routes or {})
        if self.public_base_url != self.service_base_url:
            self.routes[self.public_base_url] = self.service_base_url
        self.call_token = base64.urlsafe_b64encode(uuid.uuid4().bytes * 3).decode().rstrip("=")

        self.url: str | None = None  # public URL of the current TwiML document
        self.last_twiml: str | None = None
        self.last_response: requests.Response | None = None
        self.last_callback_response: requests.Response | None = None
        self.root: ET.Element | None = None
        self.history: list[VoiceStep] = []
        self.transcript: list[str] = []  # every <Say> of every document, in order
        self.hung_up = False
        self._cursor = 0
        self._sequence = 0
        self._started = time.monotonic()
        self._recording: dict[str, Any] | None = None
        self._on_end: Callable[[str, int], None] | None = None

    # -- plumbing ----------------------------------------------------------------------------
    def _resolve(self, url: str) -> str:
        if url.startswith(("http://", "https://")):
            return url
        if self.url:  # relative to the document that named it, as Twilio resolves it
            return urljoin(self.url, url)
        return self.public_base_url + "/" + url.lstrip("/")

    def _wire(self, url: str) -> str | None:
        for public, actual in self.routes.items():
            if url.startswith(public):
                return actual + url[len(public) :]
        return None

    def params(self, status: str = "in-progress", **more: str) -> dict[str, str]:
        """The parameters Twilio sends with every request of this call."""
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.call_sid,
            "CallStatus": status,
            "Called": self.to,
            "Caller": self.from_,
            "Direction": self.direction,
            "From": self.from_,
            "To": self.to,
            **_geo_params("Called", self.to),
            **_geo_params("Caller", self.from_),
            **_geo_params("From", self.from_),
            **_geo_params("To", self.to),
        }
        if self.direction == "inbound":
            params["CallToken"] = self.call_token
            params["StirVerstat"] = "TN-Validation-Passed-A"
        if self.parent_call_sid:
            params["ParentCallSid"] = self.parent_call_sid
        params.update(self.extra_params)
        params.update(more)
        return params

    def _request(
        self, url: str, method: str, params: dict[str, str], *, load: bool = True
    ) -> VoiceCall:
        method = (method or "POST").upper()
        response = post_signed(
            url,
            params,
            self.auth_token,
            method=method,
            send_to=self._wire(url),
            timeout=self.timeout,
        )
        self.last_response = response
        self.history.append(
            VoiceStep(url, method, dict(params), response.status_code, response.text)
        )
        if not 200 <= response.status_code < 300:
            raise VoiceError(
                f"{method} {url} answered {response.status_code}: {response.text[:500]}"
            )
        if load:
            self._load(response.content, url)
        return self

    def _load(self, content: bytes | str, url: str | None) -> None:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        try:
            # The TwiML comes from the service under test on loopback, not from a stranger.
            root = ET.fromstring(content) if text.strip() else ET.Element("Response")  # noqa: S314
        except ET.ParseError as exc:
            raise VoiceError(f"12100 document parse failure at {url}: {exc}: {text[:500]}") from exc
        if root.tag != "Response":
            raise VoiceError(f"12100 the root element is <{root.tag}>, not <Response>")
        self.root = root
        self.last_twiml = text
        self.url = url
        self._cursor = 0
        self.transcript.extend(self.said())
        self._settle()

    def _settle(self) -> None:
        """Twilio runs out of TwiML, or reaches <Hangup>: the call is over."""
        _, verb = self._current()
        if verb is None or verb.tag in ("Hangup", "Reject"):
            self._end("completed")

    def _current(self) -> tuple[int, ET.Element | None]:
        if self.root is None:
            return 0, None
        verbs = list(self.root)
        for index in range(self._cursor, len(verbs)):
            if verbs[index].tag in _INTERACTIVE:
                return index, verbs[index]
        return len(verbs), None

    def _expect(self, tag: str) -> tuple[int, ET.Element]:
        if self.hung_up:
            raise VoiceError(f"the call is over; expected <{tag}>. Last TwiML: {self.last_twiml}")
        index, verb = self._current()
        if verb is None or verb.tag != tag:
            where = f"<{verb.tag}>" if verb is not None else "the end of the document"
            raise VoiceError(f"expected <{tag}>, the call is at {where}: {self.last_twiml}")
        return index, verb

    def _continue(self, after: int) -> VoiceCall:
        """Go on with the verbs after index ``after``, as Twilio does."""
        self._cursor = after + 1
        _, verb = self._current()
        if verb is not None and verb.tag == "Redirect":
            return self.follow_redirect()
        self._settle()
        return self

    def _end(self, status: str) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        duration = int(time.monotonic() - self._started)
        if self.status_callback:
            self._sequence += 1
            params = self.params(
                status,
                CallDuration=str(duration),
                Duration=str(math.ceil(duration / 60)),
                Timestamp=rfc2822(datetime.now(UTC)),
                SequenceNumber=str(self._sequence),
                CallbackSource="call-progress-events",
                SipResponseCode=str(_SIP_CODES.get(status, 200)),
            )
            url = self._resolve(self.status_callback)
            self.last_callback_response = post_signed(
                url, params, self.auth_token, send_to=self._wire(url), timeout=self.timeout
            )
        if self._on_end is not None:
            self._on_end(status, duration)

    # -- what the caller hears ---------------------------------------------------------------
    def said(self) -> list[str]:
        """The text of every <Say> of the current document, in document order."""
        if self.root is None:
            return []
        return ["".join(el.itertext()).strip() for el in self.root.iter("Say")]

    def text(self) -> str:
        return " ".join(self.said())

    def current_verb(self) -> str | None:
        """The verb the call waits at (Gather, Record, Dial, Redirect…), or None."""
        _, verb = self._current()
        return verb.tag if verb is not None else None

    def gather(self) -> dict[str, str] | None:
        """The attributes of the <Gather> the call waits at, or None."""
        _, verb = self._current()
        return dict(verb.attrib) if verb is not None and verb.tag == "Gather" else None

    def verb(self, tag: str) -> ET.Element | None:
        """The first <tag> of the current document, anywhere."""
        return None if self.root is None else self.root.find(f".//{tag}")

    def dialed(self) -> list[str]:
        """The numbers of the <Dial> the call waits at."""
        _, dial = self._current()
        if dial is None or dial.tag != "Dial":
            return []
        numbers = [(n.text or "").strip() for n in dial.findall("Number")]
        return numbers or [(dial.text or "").strip()]

    def is_hangup(self) -> bool:
        """The call is over: <Hangup>, nothing more to do, or the caller hung up."""
        if self.hung_up:
            return True
        _, verb = self._current()
        return verb is None or verb.tag in ("Hangup", "Reject")

    # -- what the caller does ----------------------------------------------------------------
    def start(
        self, path: str = "/twilio/voice", *, method: str = "POST", status: str | None = None
    ) -> VoiceCall:
        """The call arrives: request ``path`` (relative to the public base URL, or absolute)."""
        self._started = time.monotonic()
        if status is None:
            status = "ringing" if self.direction == "inbound" else "in-progress"
        url = (
            path
            if path.startswith(("http://", "https://"))
            else (self.public_base_url + "/" + path.lstrip("/"))
        )
        return self._request(url, method, self.params(status))

    def load_twiml(self, twiml: str, url: str | None = None) -> VoiceCall:
        """Run inline TwiML (a call created with ``Twiml=``); relative URLs need ``url``."""
        self._started = time.monotonic()
        self._load(twiml, url)
        return self

    def press(self, digits: str) -> VoiceCall:
        """Key ``digits`` into the current <Gather>: ``finishOnKey`` (default ``#``) ends the
        input, ``numDigits`` caps it; an empty result behaves like :meth:`no_input`."""
        _, gather = self._expect("Gather")
        finish = gather.get("finishOnKey", "#")
        finished_on = ""
        if finish and finish in digits:
            digits = digits[: digits.index(finish)]
            finished_on = finish
        if gather.get("numDigits"):
            digits = digits[: int(gather.get("numDigits", "0"))]
        if not digits:
            return self.no_input()
        params = self.params(Digits=digits, FinishedOnKey=finished_on)
        target = self._resolve(gather.get("action") or self.url or "")
        return self._request(target, gather.get("method", "POST"), params)

    def speak(self, text: str, confidence: float = 0.92) -> VoiceCall:
        """Answer a speech <Gather> with ``SpeechResult``/``Confidence``."""
        _, gather = self._expect("Gather")
        params = self.params(SpeechResult=text, Confidence=f"{confidence:.8f}")
        target = self._resolve(gather.get("action") or self.url or "")
        return self._request(target, gather.get("method", "POST"), params)

    def no_input(self) -> VoiceCall:
        """The <Gather> times out: its action is requested only with ``actionOnEmptyResult``;
        otherwise Twilio goes on with the next verb (following a <Redirect>; ending the call
        at <Hangup> or at the end of the document)."""
        index, gather = self._expect("Gather")
        if gather.get("actionOnEmptyResult", "false").lower() == "true":
            target = self._resolve(gather.get("action") or self.url or "")
            return self._request(target, gather.get("method", "POST"), self.params())
        return self._continue(index)

    def follow_redirect(self) -> VoiceCall:
        _, redirect = self._expect("Redirect")
        target = self._resolve((redirect.text or "").strip() or self.url or "")
        return self._request(target, redirect.get("method", "POST"), self.params())

    def record(
        self,
        url: str | None = None,
        duration: int = 12,
        digits: str = "hangup",
        *,
        recording_sid: str | None = None,
    ) -> VoiceCall:
        """Finish the current <Record>: POST its action (the current URL without one) with
        RecordingUrl, RecordingDuration and Digits (``hangup`` when the caller hung up, which
        ends the call: the answer's TwiML is then ignored, as Twilio does)."""
        _, element = self._expect("Record")
        sid = recording_sid or new_sid("RE")
        url = (
            url
            or f"https://api.twilio.com/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{sid}"
        )
        self._recording = {
            "sid": sid,
            "url": url,
            "duration": duration,
            "element": element,
            "doc": self.url,
            "started": datetime.now(UTC),
        }
        hung_up = digits == "hangup"
        params = self.params(
            "completed" if hung_up else "in-progress",
            RecordingUrl=url,
            RecordingDuration=str(duration),
            Digits=digits,
        )
        target = self._resolve(element.get("action") or self.url or "")
        self._request(target, element.get("method", "POST"), params, load=not hung_up)
        if hung_up:
            self._end("completed")
        return self

    def recording_status_callback(
        self, status: str = "completed", *, error_code: int | None = None
    ) -> requests.Response | None:
        """POST the last recording's status to the <Record recordingStatusCallback>, if any."""
        if self._recording is None:
            raise VoiceError("no recording yet: call record() first")
        element: ET.Element = self._recording["element"]
        callback = element.get("recordingStatusCallback")
        if not callback:
            return None
        params = {
            "AccountSid": self.account_sid,
            "CallSid": self.call_sid,
            "RecordingSid": self._recording["sid"],
            "RecordingUrl": self._recording["url"],
            "RecordingStatus": status,
            "RecordingDuration": str(self._recording["duration"]),
            "RecordingChannels": "1",
            "RecordingStartTime": rfc2822(self._recording["started"]),
            "RecordingSource": "RecordVerb",
            "RecordingTrack": "both",
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        base = self._recording["doc"] or self.public_base_url + "/"
        url = callback if callback.startswith(("http://", "https://")) else urljoin(base, callback)
        method = element.get("recordingStatusCallbackMethod", "POST")
        response = post_signed(
            url,
            params,
            self.auth_token,
            method=method,
            send_to=self._wire(url),
            timeout=self.timeout,
        )
        self.last_callback_response = response
        return response

    def dial_result(
        self,
        status: str = "no-answer",
        bridged: bool = False,
        *,
        duration: int | None = None,
        dial_call_sid: str | None = None,
    ) -> VoiceCall:
        """The current <Dial> ends: POST its action with DialCallStatus, DialCallSid,
        DialCallDuration (answered calls) and DialBridged; without an action Twilio goes on
        with the verbs after the <Dial>."""
        index, dial = self._expect("Dial")
        action = dial.get("action")
        if not action:
            return self._continue(index)
        params = self.params(
            DialCallStatus=status,
            DialCallSid=dial_call_sid or new_sid("CA"),
            DialBridged="true" if bridged else "false",
        )
        if status in ("completed", "answered"):
            params["DialCallDuration"] = str(duration if duration is not None else 30)
        return self._request(self._resolve(action), dial.get("method", "POST"), params)

    def whisper(self, number_url: str | None = None, digits: str | None = None) -> VoiceCall:
        """The callee's leg of the current <Dial>: fetch the <Number url=…> TwiML as Twilio does
        (Direction=outbound-dial, a new CallSid, To=the number), press ``digits`` if given, and
        return that leg's :class:`VoiceCall`."""
        _, dial = self._expect("Dial")
        numbers = [n for n in dial.findall("Number") if n.get("url")]
        if number_url is not None:
            numbers = [
                n
                for n in numbers
                if n.get("url") == number_url or self._resolve(n.get("url") or "") == number_url
            ]
        if not numbers:
            raise VoiceError(f"no <Number url=…> to whisper to in: {self.last_twiml}")
        number = numbers[0]
        leg = VoiceCall(
            self.service_base_url,
            self.auth_token,
            from_=dial.get("callerId") or self.from_,
            to=(number.text or "").strip(),
            account_sid=self.account_sid,
            direction="outbound-dial",
            public_base_url=self.public_base_url,
            parent_call_sid=self.call_sid,
            timeout=self.timeout,
            routes=self.routes,
        )
        target = self._resolve(number.get("url") or "")
        leg._request(target, number.get("method", "POST"), leg.params())
        if digits is not None:
            leg.press(digits)
        return leg

    def hangup(self) -> VoiceCall:
        """The caller hangs up: status callback CallStatus=completed, if one is configured."""
        self._end("completed")
        return self


# -- standalone ------------------------------------------------------------------------------
def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a fake Twilio REST API on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--auto-status", default=None, help="e.g. delivered")
    args = parser.parse_args(argv)
    fake = FakeTwilio(args.account_sid, args.auth_token, host=args.host, port=args.port)
    fake.auto_status = args.auto_status
    signal.signal(signal.SIGTERM, _interrupt)
    with fake:
        print(f"fake Twilio at {fake.base_url} (account {fake.account_sid})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
