"""``oncall simulate``: play a customer or an engineer against a running service.

The service checks every ``/twilio/*`` request's signature against ``twilio.auth_token`` and
``public_url``, so these commands sign exactly like Twilio does: over the *public* URL (the one
in config and in the TwiML's ``action=`` URLs), while the HTTP request itself goes to ``--url``
(by default the same public URL). That needs ``twilio.auth_token`` set; the shipped
``config.yaml`` has ``auth_token: ${TWILIO_AUTH_TOKEN:-dev-auth-token}`` for this reason.
Email is posted in SendGrid's Inbound Parse format with the ``email.inbound`` Basic
credentials.

Try it with ``make run`` in another terminal::

    oncall simulate call --from +15551230001 --digits 1
    oncall simulate call --from +15550009999 --pin 4821 --digits 2 --no-answer
    oncall simulate sms --from +15550100101 "ACK 1001"
    oncall simulate email --from wile@acme.example --subject "Sev 1: down" --body "..."
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree as ET

import click
import requests
from twilio.request_validator import RequestValidator

from oncall.config.settings import Settings

API_VERSION = "2010-04-01"
TIMEOUT = 30  # seconds per request: a step that takes longer is a bug worth seeing


def _settings() -> Settings:
    return click.get_current_context().obj.settings


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class _Twilio:
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


def _twiml(response: requests.Response) -> ET.Element:
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


@click.group("simulate")
def simulate() -> None:
    """Drive a running service as Twilio and SendGrid would (no accounts needed)."""


@simulate.command("call")
@click.option("--from", "from_", required=True, metavar="PHONE", help="The caller's number.")
@click.option(
    "--digits",
    default="1",
    show_default=True,
    help="What the caller presses at the menu (1 S1, 2 S2, 3 other).",
)
@click.option("--pin", default=None, help="The account PIN, keyed if the line asks for it.")
@click.option(
    "--accept/--no-answer",
    default=True,
    show_default=True,
    help="Whether the engineer answers and presses 1, or lets it ring out.",
)
@click.option(
    "--record-seconds",
    default=12,
    show_default=True,
    type=int,
    help="Length of the described problem.",
)
@click.option(
    "--url",
    default=None,
    metavar="URL",
    help="Where the service listens (default: public_url from config).",
)
@click.option("--max-steps", default=40, show_default=True, type=int, hidden=True)
def call(
    from_: str,
    digits: str,
    pin: str | None,
    accept: bool,
    record_seconds: int,
    url: str | None,
    max_steps: int,
) -> None:
    """Phone the critical line: follow the TwiML, press keys, speak, and hear the outcome."""
    settings = _settings()
    twilio = _Twilio(settings, url)
    line = settings.twilio.critical_line or "+15555550501"
    call_sid = _sid("CA")
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
    doc = _twiml(twilio.post(current_url, {**base, "CallStatus": "ringing"}))
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
        )
        if step is None:
            return
        current_url, doc = step
    raise click.ClickException(f"gave up after {max_steps} steps (a loop in the flow?)")


def _play(
    twilio: _Twilio,
    doc: ET.Element,
    doc_url: str,
    base: dict[str, str],
    *,
    digits: str,
    pin: str | None,
    accept: bool,
    record_seconds: int,
) -> tuple[str, ET.Element] | None:
    """Play one TwiML document; return the next (url, document) or None when the call ends."""
    for verb in doc:
        if verb.tag == "Say":
            click.echo(f"  caller hears: {' '.join((verb.text or '').split())}")
        elif verb.tag == "Gather":
            for text in _says(verb):
                click.echo(f"  caller hears: {text}")
            action = urljoin(doc_url, verb.get("action") or doc_url)
            keys = pin if "/pin/" in action else digits
            if not keys:
                click.echo("  caller presses nothing")
                continue  # Twilio moves on to the next verb (our <Redirect>)
            click.echo(f"  caller presses {keys}")
            return action, _twiml(twilio.post(action, {**base, "Digits": keys}))
        elif verb.tag == "Record":
            recording_sid = _sid("RE")
            recording_url = f"https://api.twilio.com/{API_VERSION}/Recordings/{recording_sid}"
            click.echo(f"  caller describes the problem ({record_seconds}s)")
            action = urljoin(doc_url, verb.get("action") or doc_url)
            answer = _twiml(
                twilio.post(
                    action,
                    {
                        **base,
                        "RecordingUrl": recording_url,
                        "RecordingDuration": str(record_seconds),
                        "Digits": "#",
                    },
                )
            )
            callback = verb.get("recordingStatusCallback")
            if callback:
                twilio.post(
                    urljoin(doc_url, callback),
                    {
                        "AccountSid": base["AccountSid"],
                        "CallSid": base["CallSid"],
                        "RecordingSid": recording_sid,
                        "RecordingUrl": recording_url,
                        "RecordingStatus": "completed",
                        "RecordingDuration": str(record_seconds),
                        "RecordingChannels": "1",
                        "RecordingSource": "RecordVerb",
                    },
                )
            return action, answer
        elif verb.tag == "Dial":
            return _dial(twilio, verb, doc_url, base, accept)
        elif verb.tag == "Redirect":
            target = urljoin(doc_url, (verb.text or "").strip() or doc_url)
            return target, _twiml(twilio.post(target, base))
        elif verb.tag == "Hangup":
            click.echo("  the line hangs up")
            return None
    click.echo("  (no more TwiML: Twilio ends the call)")
    return None


def _dial(
    twilio: _Twilio, dial: ET.Element, doc_url: str, base: dict[str, str], accept: bool
) -> tuple[str, ET.Element] | None:
    action = urljoin(doc_url, dial.get("action") or doc_url)
    number = dial.find("Number")
    callee = (number.text or "").strip() if number is not None else "?"
    click.echo(f"  ringing the engineer at {callee} (up to {dial.get('timeout', '30')}s)")
    child = _sid("CA")
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
        whisper = _twiml(twilio.post(whisper_url, leg))
        for text in _says(whisper):
            click.echo(f"    engineer hears: {text}")
        gather = whisper.find("Gather")
        if gather is not None:
            click.echo("    engineer presses 1")
            result_url = urljoin(whisper_url, gather.get("action") or whisper_url)
            result = _twiml(twilio.post(result_url, {**leg, "Digits": "1"}))
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
    return action, _twiml(twilio.post(action, params))


@simulate.command("sms")
@click.option("--from", "from_", required=True, metavar="PHONE", help="The engineer's number.")
@click.option(
    "--url",
    default=None,
    metavar="URL",
    help="Where the service listens (default: public_url from config).",
)
@click.argument("body")
def sms(from_: str, url: str | None, body: str) -> None:
    """Text the service as an engineer would (e.g. "ACK 1001") and print its reply."""
    settings = _settings()
    twilio = _Twilio(settings, url)
    sid = _sid("SM")
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": settings.twilio.account_sid or "AC" + "0" * 32,
        "From": from_,
        "To": settings.twilio.critical_line or "+15555550501",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": API_VERSION,
    }
    doc = _twiml(twilio.post(twilio.public + "/twilio/sms", params))
    replies = [" ".join((m.text or "").split()) for m in doc.iter("Message")]
    click.echo("\n".join(f"reply: {r}" for r in replies) if replies else "(no reply)")


@simulate.command("email")
@click.option("--from", "from_", required=True, metavar="ADDRESS", help="The sender.")
@click.option("--subject", default="", help="Subject line.")
@click.option("--body", default="", help="Plain-text body.")
@click.option("--message-id", default=None, help="Message-ID (default: a new one).")
@click.option("--in-reply-to", default=None, help="In-Reply-To, to answer one of our emails.")
@click.option(
    "--url",
    default=None,
    metavar="URL",
    help="Where the service listens (default: public_url from config).",
)
def email(
    from_: str,
    subject: str,
    body: str,
    message_id: str | None,
    in_reply_to: str | None,
    url: str | None,
) -> None:
    """Send an email to the critical address the way SendGrid Inbound Parse posts it."""
    settings = _settings()
    inbound = settings.email.inbound
    if not inbound.password:
        raise click.UsageError(
            "email.inbound.password is empty: the service refuses every inbound email "
            "(set ONCALL_INBOUND_PASSWORD)"
        )
    target = (url or settings.public_url).rstrip("/") + "/email/inbound"
    to = settings.email.critical_address
    domain = from_.rpartition("@")[2] or "example.com"
    message_id = message_id or make_msgid(domain=domain)
    headers = [
        "MIME-Version: 1.0",
        f"From: {from_}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {format_datetime(datetime.now(UTC))}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    headers.append("Content-Type: text/plain; charset=UTF-8")
    fields = {
        "headers": "\n".join(headers) + "\n",
        "from": from_,
        "to": to,
        "subject": subject,
        "text": body,
        "envelope": json.dumps({"to": [to], "from": from_}),
        "charsets": json.dumps({k: "UTF-8" for k in ("to", "from", "subject", "text")}),
        "SPF": "pass",
        "dkim": f"{{@{domain} : pass}}",
        "sender_ip": "127.0.0.1",
        "spam_score": "0",
        "attachments": "0",
    }
    # SendGrid always posts multipart/form-data; (None, value) makes requests send a field.
    response = requests.post(
        target,
        files={name: (None, value.encode("utf-8")) for name, value in fields.items()},
        auth=(inbound.username, inbound.password),
        timeout=TIMEOUT,
    )
    if response.status_code != 200:
        raise click.ClickException(
            f"POST {target} answered {response.status_code}: {response.text[:300]}"
        )
    click.echo(f"{message_id}: {json.dumps(response.json())}")
