"""A phone call to the service, driven the way Twilio drives it (:class:`VoiceCall`): every
request signed, every ``action`` URL followed, relative URLs resolved against the document that
named them, the status callback sent once when the call ends. The package docstring shows a
whole call; the verb methods are strict (``record()`` at a <Gather> raises ``VoiceError``).
"""

from __future__ import annotations

import base64
import math
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

import requests

from oncall.fakes.twilio.protocol import (
    API_VERSION,
    DEFAULT_ACCOUNT_SID,
    SIP_CODES,
    call_params,
    new_sid,
    rfc2822,
)
from oncall.fakes.twilio.signing import post_signed, rewrite
from oncall.fakes.twilio.twiml import (
    Recording,
    VoiceError,
    VoiceStep,
    ends_call,
    numbers_dialed,
    parse_twiml,
    said_in,
    waiting_verb,
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
        self._recording: Recording | None = None
        self._on_end: Callable[[str, int], None] | None = None

    # -- plumbing ----------------------------------------------------------------------------
    def _resolve(self, url: str) -> str:
        if url.startswith(("http://", "https://")):
            return url
        if self.url:  # relative to the document that named it, as Twilio resolves it
            return urljoin(self.url, url)
        return self.public_base_url + "/" + url.lstrip("/")

    def params(self, status: str = "in-progress", **more: str) -> dict[str, str]:
        """The parameters Twilio sends with every request of this call."""
        params = call_params(
            self.account_sid, self.call_sid, status, self.from_, self.to, self.direction
        )
        if self.direction == "inbound":
            params["CallToken"] = self.call_token
            params["StirVerstat"] = "TN-Validation-Passed-A"
        if self.parent_call_sid:
            params["ParentCallSid"] = self.parent_call_sid
        params.update(self.extra_params)
        params.update(more)
        return params

    def _post(self, url: str, params: dict[str, str], method: str = "POST") -> requests.Response:
        return post_signed(
            url,
            params,
            self.auth_token,
            method=method,
            send_to=rewrite(url, self.routes),
            timeout=self.timeout,
        )

    def _request(
        self, url: str, method: str, params: dict[str, str], *, load: bool = True
    ) -> VoiceCall:
        method = (method or "POST").upper()
        response = self._post(url, params, method)
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
        self.root, self.last_twiml = parse_twiml(content, url)
        self.url = url
        self._cursor = 0
        self.transcript.extend(self.said())
        self._settle()

    def _settle(self) -> None:
        """Twilio runs out of TwiML, or reaches <Hangup>: the call is over."""
        if ends_call(self._current()[1]):
            self._end("completed")

    def _current(self) -> tuple[int, ET.Element | None]:
        return waiting_verb(self.root, self._cursor)

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
                SipResponseCode=str(SIP_CODES.get(status, 200)),
            )
            self.last_callback_response = self._post(self._resolve(self.status_callback), params)
        if self._on_end is not None:
            self._on_end(status, duration)

    # -- what the caller hears ---------------------------------------------------------------
    def said(self) -> list[str]:
        """The text of every <Say> of the current document, in document order."""
        return said_in(self.root)

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
        return numbers_dialed(dial)

    def is_hangup(self) -> bool:
        """The call is over: <Hangup>, nothing more to do, or the caller hung up."""
        return self.hung_up or ends_call(self._current()[1])

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
        self._recording = Recording(sid, url, duration, element, self.url, datetime.now(UTC))
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
        callback = self._recording.status_callback(self.public_base_url)
        if callback is None:
            return None
        url, method = callback
        params = self._recording.status_params(self.account_sid, self.call_sid, status, error_code)
        self.last_callback_response = self._post(url, params, method)
        return self.last_callback_response

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
