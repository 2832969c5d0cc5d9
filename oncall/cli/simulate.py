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
    oncall simulate call --from +15550009999 --pin 482193 --digits 2 --no-answer
    oncall simulate call --from +15551230002 --returning 9   # escalate the open case
    oncall simulate sms --from +15550100101 "ACK 1001"
    oncall simulate email --from wile@acme.example --subject "Sev 1: down" --body "..."
    oncall simulate email --from wile@acme.example --subject "Re: [Case 1001] Down" --body "1"
    oncall simulate email --from rr@acme.example --unauthenticated --subject "Sev 1: down"
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

import click
import requests

from oncall.cli.twilio_play import (
    API_VERSION,
    TIMEOUT,
    SigningTwilio,
    new_sid,
    play_call,
    twiml,
)
from oncall.config.settings import Settings


def _settings() -> Settings:
    return click.get_current_context().obj.settings


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
    "--returning",
    default="",
    metavar="KEY",
    help="What a caller whose customer has an open case presses at the returning menu "
    "(1 leave a note, 2 be connected, 9 escalate to the duty manager; default: nothing).",
)
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
    returning: str,
    accept: bool,
    record_seconds: int,
    url: str | None,
    max_steps: int,
) -> None:
    """Phone the critical line: follow the TwiML, press keys, speak, and hear the outcome."""
    settings = _settings()
    play_call(
        SigningTwilio(settings, url),
        settings,
        from_,
        digits=digits,
        pin=pin,
        accept=accept,
        record_seconds=record_seconds,
        max_steps=max_steps,
        returning=returning,
    )


@simulate.command("sms")
@click.option(
    "--from",
    "from_",
    required=True,
    metavar="PHONE",
    help="The sender's number (an engineer's, or a customer contact's).",
)
@click.option(
    "--url",
    default=None,
    metavar="URL",
    help="Where the service listens (default: public_url from config).",
)
@click.argument("body")
def sms(from_: str, url: str | None, body: str) -> None:
    """Text the service as an engineer ("ACK 1001") or a customer ("REOPEN 1001", the answer
    to a WAIT) would, and print its reply."""
    settings = _settings()
    twilio = SigningTwilio(settings, url)
    sid = new_sid("SM")
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
    doc = twiml(twilio.post(twilio.public + "/twilio/sms", params))
    replies = [" ".join((m.text or "").split()) for m in doc.iter("Message")]
    click.echo("\n".join(f"reply: {r}" for r in replies) if replies else "(no reply)")


@simulate.command("email")
@click.option("--from", "from_", required=True, metavar="ADDRESS", help="The sender.")
@click.option("--subject", default="", help="Subject line.")
@click.option("--body", default="", help="Plain-text body.")
@click.option("--message-id", default=None, help="Message-ID (default: a new one).")
@click.option("--in-reply-to", default=None, help="In-Reply-To, to answer one of our emails.")
@click.option("--reply-to", default=None, metavar="ADDRESS", help="A Reply-To header.")
@click.option(
    "--unauthenticated",
    is_flag=True,
    help="Post SPF=fail and a failing DKIM verdict, as SendGrid reports a spoofed mail.",
)
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
    reply_to: str | None,
    unauthenticated: bool,
    url: str | None,
) -> None:
    """Send an email to the critical address the way SendGrid Inbound Parse posts it.

    By default SPF and DKIM pass for the sender's domain, as for a real customer's mail;
    --unauthenticated sends the failing verdicts of a forged From.
    """
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
    fields = _inbound_parse_fields(from_, to, subject, body, message_id, in_reply_to, reply_to)
    if unauthenticated:
        fields.update(SPF="fail", dkim=f"{{@{domain} : fail}}")
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


def _inbound_parse_fields(
    from_: str,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None,
    reply_to: str | None = None,
) -> dict[str, str]:
    """A plain-text email as SendGrid Inbound Parse posts it, SPF and DKIM passing."""
    domain = from_.rpartition("@")[2] or "example.com"
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
    if reply_to:
        headers.append(f"Reply-To: {reply_to}")
    headers.append("Content-Type: text/plain; charset=UTF-8")
    return {
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
