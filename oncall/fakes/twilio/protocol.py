"""Twilio's vocabulary, as the fake speaks it: the API version, the test credentials and their
magic numbers, error codes and Twilio's error JSON, SIDs, dates, SMS segments, the geo fields
of webhooks, opt-out keywords and the final statuses of messages and calls.

Plain values and functions; everything else in :mod:`oncall.fakes.twilio` builds on them.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

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
CODE_FOR_STATUS = {401: 20003, 404: 20404, 405: 20004, 429: 20429, 503: 20503}

OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

MESSAGE_TERMINAL = frozenset({"delivered", "undelivered", "failed", "read", "canceled"})
DEFAULT_MESSAGE_ERROR = {"undelivered": 30003, "failed": 30008}
SIP_CODES = {"completed": 200, "busy": 486, "no-answer": 487, "canceled": 487, "failed": 500}
CALL_TERMINAL = frozenset(SIP_CODES)

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

_NUMBER = re.compile(r"^\+?[1-9]\d{6,14}$")

# What the REST API answers: HTTP status, JSON body (None: empty), and what to do once the
# answer is written (schedule automatic status callbacks), if anything.
Reply = tuple[int, dict[str, Any] | None, Callable[[], None] | None]


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


def error_reply(
    code: int, status: int | None = None, message: str | None = None, **fmt: str
) -> Reply:
    """The REST API's answer for an error: its status and :func:`error_body`."""
    body = error_body(code, status, message, **fmt)
    return body["status"], body, None


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _geo(number: str) -> dict[str, str]:
    """City/State/Zip/Country as Twilio reports them; unknown parts are empty strings."""
    country = ""
    if number.startswith("+1") and len(number) == 12:
        country = "CA" if number[2:5] in _CA_AREA_CODES else "US"
    return {"City": "", "State": "", "Zip": "", "Country": country}


def geo_params(prefix: str, number: str) -> dict[str, str]:
    """The geo fields of a webhook for ``number``: ``FromCity``, ``FromCountry``, …"""
    return {prefix + key: value for key, value in _geo(number).items()}


def call_params(
    account_sid: str, call_sid: str, status: str, from_: str, to: str, direction: str
) -> dict[str, str]:
    """What Twilio sends with every request about a call: webhooks and status callbacks."""
    return {
        "AccountSid": account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": call_sid,
        "CallStatus": status,
        "Called": to,
        "Caller": from_,
        "Direction": direction,
        "From": from_,
        "To": to,
        **geo_params("Called", to),
        **geo_params("Caller", from_),
        **geo_params("From", from_),
        **geo_params("To", to),
    }


def formatted(number: str) -> str:
    """``(555) 555-0101`` for a North American number, as ``to_formatted`` shows it."""
    if number.startswith("+1") and len(number) == 12 and number[1:].isdigit():
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


def valid_to(to: str, *, voice: bool) -> bool:
    """Whether Twilio would accept ``to`` (calls may also go to ``client:`` and ``sip:``)."""
    if voice and to.split(":", 1)[0] in ("client", "sip"):
        return True
    if ":" in to:  # whatsapp:+1555…, messenger:…
        to = to.split(":", 1)[1]
    return bool(_NUMBER.match(to))
