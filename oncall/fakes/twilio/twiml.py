"""Reading TwiML as Twilio's voice engine does: parse a document, find the verb the call waits
at (the next interactive one after a cursor), what the caller hears (every ``<Say>``), and
the numbers a ``<Dial>`` rings, what ``recordingStatusCallback`` gets once a ``<Record>``
ends. Also the errors and steps of the voice client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

from oncall.fakes.twilio.protocol import rfc2822

# The verbs a call stops at; <Say>, <Play>, <Pause> are heard on the way to them.
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
_ENDS_CALL = ("Hangup", "Reject")


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


def parse_twiml(content: bytes | str, url: str | None) -> tuple[ET.Element, str]:
    """The ``<Response>`` root of a TwiML document and its text; an empty document is an
    empty ``<Response>``. :class:`VoiceError` (Twilio's 12100) for anything else."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    try:
        # The TwiML comes from the service under test on loopback, not from a stranger.
        root = ET.fromstring(content) if text.strip() else ET.Element("Response")  # noqa: S314
    except ET.ParseError as exc:
        raise VoiceError(f"12100 document parse failure at {url}: {exc}: {text[:500]}") from exc
    if root.tag != "Response":
        raise VoiceError(f"12100 the root element is <{root.tag}>, not <Response>")
    return root, text


def waiting_verb(root: ET.Element | None, cursor: int) -> tuple[int, ET.Element | None]:
    """The first interactive verb at or after ``cursor`` and its index; ``(len, None)`` when
    the document runs out."""
    if root is None:
        return 0, None
    verbs = list(root)
    for index in range(cursor, len(verbs)):
        if verbs[index].tag in _INTERACTIVE:
            return index, verbs[index]
    return len(verbs), None


def ends_call(verb: ET.Element | None) -> bool:
    """Twilio ends the call here: no verb left to wait at, or <Hangup>/<Reject>."""
    return verb is None or verb.tag in _ENDS_CALL


def said_in(root: ET.Element | None) -> list[str]:
    """The text of every <Say> of the document, in document order."""
    if root is None:
        return []
    return ["".join(el.itertext()).strip() for el in root.iter("Say")]


def numbers_dialed(dial: ET.Element) -> list[str]:
    """The numbers a <Dial> rings: its <Number> children, or its text."""
    numbers = [(n.text or "").strip() for n in dial.findall("Number")]
    return numbers or [(dial.text or "").strip()]


@dataclass
class Recording:
    """A ``<Record>`` the caller finished, and where its ``recordingStatusCallback`` goes."""

    sid: str
    url: str
    duration: int
    element: ET.Element
    document_url: str | None  # the document holding the <Record>: relative URLs start there
    started: datetime

    def status_callback(self, public_base_url: str) -> tuple[str, str] | None:
        """The callback's absolute URL and method; None when the <Record> names none."""
        callback = self.element.get("recordingStatusCallback")
        if not callback:
            return None
        base = self.document_url or public_base_url + "/"
        url = callback if callback.startswith(("http://", "https://")) else urljoin(base, callback)
        return url, self.element.get("recordingStatusCallbackMethod", "POST")

    def status_params(
        self, account_sid: str, call_sid: str, status: str, error_code: int | None
    ) -> dict[str, str]:
        params = {
            "AccountSid": account_sid,
            "CallSid": call_sid,
            "RecordingSid": self.sid,
            "RecordingUrl": self.url,
            "RecordingStatus": status,
            "RecordingDuration": str(self.duration),
            "RecordingChannels": "1",
            "RecordingStartTime": rfc2822(self.started),
            "RecordingSource": "RecordVerb",
            "RecordingTrack": "both",
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params
