"""Playing Twilio against a running service, for ``oncall simulate``: requests signed the way
Twilio signs them, and a phone call that follows the service's TwiML step by step (what the
caller hears and presses, the recording, the engineer's leg with its "press 1").
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree as ET

import click
import requests
from twilio.request_validator import RequestValidator

from oncall.config.settings import Settings

API_VERSION = "2010-04-01"
TIMEOUT = 30  # seconds per request: a step that takes longer is a bug worth seeing


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class SigningTwilio:
    """Signs like Twilio over public URLs and sends to where the service really listens."""

    def __init__(self, settings: Settings, url: str | None):
        if not settings.twilio.auth_token:
            raise click.UsageError(
                "simulate signs its requests like Twilio and needs twilio.auth_token: set "
                "TWILIO_AUTH_TOKEN, or write auth_token: ${TWILIO_AUTH_TOKEN:-dev-auth-token} "
                "in config.yaml (the running service must use the same token)"
            )
        self.public = settings.public_url.rstrip("/")
        self.target = (url or settings.public_url).rstrip("/")
        self.validator = RequestValidator(settings.twilio.auth_token)
        self.http = requests.Session()

    def post(self, public_url: str, params: dict[str, str]) -> requests.Response:
        signature = self.validator.compute_signature(public_url, params)
        parts = urlsplit(public_url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.http.post(
            self.target + path,
            data=params,
            headers={"X-Twilio-Signature": signature},
            timeout=TIMEOUT,
            allow_redirects=False,
        )


def twiml(response: requests.Response) -> ET.Element:
    if response.status_code != 200:
        raise click.ClickException(
            f"{response.request.method} {response.url} answered {response.status_code}: "
            f"{response.text[:300]}"
        )
    try:
        # The document comes from the oncall service we are driving, not from a stranger.
        return ET.fromstring(response.content)  # noqa: S314
    except ET.ParseError as exc:
        raise click.ClickException(f"not TwiML from {response.url}: {exc}") from None


def _says(element: ET.Element) -> list[str]:
    return [" ".join((e.text or "").split()) for e in element.iter("Say")]


def play_call(
    twilio: SigningTwilio,
    settings: Settings,
    from_: str,
    *,
    digits: str,
    pin: str | None,
    accept: bool,
    record_seconds: int,
    max_steps: int,
    returning: str = "",
) -> None:
    """Phone the critical line from ``from_`` and follow its TwiML until the call ends."""
    line = settings.twilio.critical_line or "+15555550501"
    call_sid = new_sid("CA")
    base = {
        "CallSid": call_sid,
        "AccountSid": settings.twilio.account_sid or "AC" + "0" * 32,
        "From": from_,
        "To": line,
        "Caller": from_,
        "Called": line,
        "Direction": "inbound",
        "CallStatus": "in-progress",
        "ApiVersion": API_VERSION,
    }
    click.echo(f"{from_} calls the critical line {line} ({call_sid})")
    current_url = twilio.public + "/twilio/voice"
    doc = twiml(twilio.post(current_url, {**base, "CallStatus": "ringing"}))
    for _ in range(max_steps):
        step = _play(
            twilio,
            doc,
            current_url,
            base,
            digits=digits,
            pin=pin,
            accept=accept,
            record_seconds=record_seconds,
            returning=returning,
        )
        if step is None:
            return
        current_url, doc = step
    raise click.ClickException(f"gave up after {max_steps} steps (a loop in the flow?)")


def _play(
    twilio: SigningTwilio,
    doc: ET.Element,
    doc_url: str,
    base: dict[str, str],
    *,
    digits: str,
    pin: str | None,
    accept: bool,
    record_seconds: int,
    returning: str = "",
) -> tuple[str, ET.Element] | None:
    """Play one TwiML document; return the next (url, document) or None when the call ends."""
    for verb in doc:
        if verb.tag == "Say":
            click.echo(f"  caller hears: {' '.join((verb.text or '').split())}")
        elif verb.tag == "Gather":
            for text in _says(verb):
                click.echo(f"  caller hears: {text}")
            action = urljoin(doc_url, verb.get("action") or doc_url)
            if "/pin/" in action:
                keys = pin
            elif action.endswith("/returning"):  # the returning caller's menu
                keys = returning
            else:
                keys = digits
            if not keys:
                click.echo("  caller presses nothing")
                continue  # Twilio moves on to the next verb (our <Redirect>)
            click.echo(f"  caller presses {keys}")
            return action, twiml(twilio.post(action, {**base, "Digits": keys}))
        elif verb.tag == "Record":
            return _record(twilio, verb, doc_url, base, record_seconds)
        elif verb.tag == "Dial":
            return _dial(twilio, verb, doc_url, base, accept)
        elif verb.tag == "Redirect":
            target = urljoin(doc_url, (verb.text or "").strip() or doc_url)
            return target, twiml(twilio.post(target, base))
        elif verb.tag == "Hangup":
            click.echo("  the line hangs up")
            return None
    click.echo("  (no more TwiML: Twilio ends the call)")
    return None


def _record(
    twilio: SigningTwilio, record: ET.Element, doc_url: str, base: dict[str, str], seconds: int
) -> tuple[str, ET.Element]:
    """The caller speaks: post the recording, then its status callback, as Twilio does."""
    recording_sid = new_sid("RE")
    recording_url = f"https://api.twilio.com/{API_VERSION}/Recordings/{recording_sid}"
    action = urljoin(doc_url, record.get("action") or doc_url)
    said = "leaves a note" if action.endswith("/note-recorded") else "describes the problem"
    click.echo(f"  caller {said} ({seconds}s)")
    answer = twiml(
        twilio.post(
            action,
            {
                **base,
                "RecordingUrl": recording_url,
                "RecordingDuration": str(seconds),
                "Digits": "#",
            },
        )
    )
    callback = record.get("recordingStatusCallback")
    if callback:
        twilio.post(
            urljoin(doc_url, callback),
            {
                "AccountSid": base["AccountSid"],
                "CallSid": base["CallSid"],
                "RecordingSid": recording_sid,
                "RecordingUrl": recording_url,
                "RecordingStatus": "completed",
                "RecordingDuration": str(seconds),
                "RecordingChannels": "1",
                "RecordingSource": "RecordVerb",
            },
        )
    return action, answer


def _dial(
    twilio: SigningTwilio, dial: ET.Element, doc_url: str, base: dict[str, str], accept: bool
) -> tuple[str, ET.Element] | None:
    action = urljoin(doc_url, dial.get("action") or doc_url)
    number = dial.find("Number")
    callee = (number.text or "").strip() if number is not None else "?"
    click.echo(f"  ringing the engineer at {callee} (up to {dial.get('timeout', '30')}s)")
    child = new_sid("CA")
    bridged = False
    if accept and number is not None and number.get("url"):
        leg = {
            "CallSid": child,
            "ParentCallSid": base["CallSid"],
            "AccountSid": base["AccountSid"],
            "From": dial.get("callerId") or base["To"],
            "To": callee,
            "Direction": "outbound-dial",
            "CallStatus": "in-progress",
            "ApiVersion": API_VERSION,
        }
        whisper_url = urljoin(doc_url, number.get("url"))
        whisper = twiml(twilio.post(whisper_url, leg))
        for text in _says(whisper):
            click.echo(f"    engineer hears: {text}")
        gather = whisper.find("Gather")
        if gather is not None:
            click.echo("    engineer presses 1")
            result_url = urljoin(whisper_url, gather.get("action") or whisper_url)
            result = twiml(twilio.post(result_url, {**leg, "Digits": "1"}))
            bridged = result.find("Hangup") is None
        click.echo("  connected to the engineer" if bridged else "  the engineer's leg ended")
    else:
        click.echo("  no answer")
    params: dict[str, Any] = {
        **base,
        "DialCallSid": child,
        "DialCallStatus": "completed" if accept else "no-answer",
        "DialBridged": "true" if bridged else "false",
        "DialCallDuration": "60" if bridged else "0",
    }
    return action, twiml(twilio.post(action, params))
