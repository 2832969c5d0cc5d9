"""Email over SMTP (``email.transport: smtp``), with smtplib.

The message carries the outbox row's ``Message-ID`` (the sender stores one on the row before
the first attempt, so a resend is the same message to the customer's mail client and a reply
threads to the case either way), and the row's ``In-Reply-To``/``References`` headers.

``Auto-Submitted`` (RFC 3834) tells the customer's auto-responders not to answer us: an email
that replies to something (has ``In-Reply-To``) is ``auto-replied``, any other machine-made
email ``auto-generated``; a value set by whoever enqueued the email wins.

SMTP cannot be asked afterwards whether a message went out, so :meth:`SmtpTransport.lookup`
always says "not found": an email whose outcome was lost is sent again (a duplicate email is
the lesser harm). Replies in 4xx and network errors are transient; 5xx are permanent.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate

from oncall.config.settings import Settings
from oncall.domain.transport import LookupResult, Outgoing, SendResult, TransportError

log = logging.getLogger("oncall.smtp")

# Headers the transport writes itself; copies in the row's headers are ignored.
_OWN_HEADERS = {"from", "to", "subject", "date", "message-id"}


class SmtpTransport:
    def __init__(self, settings: Settings):
        self.smtp = settings.email.smtp
        self.default_from = settings.email.from_address

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = message.from_ or self.default_from
        mail["To"] = message.to
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        message_id = message.headers.get("Message-ID")
        if message_id:
            mail["Message-ID"] = message_id
        for name, value in message.headers.items():
            if name.lower() in _OWN_HEADERS or value in (None, ""):
                continue
            mail[name] = str(value)
        if "Auto-Submitted" not in mail:
            mail["Auto-Submitted"] = "auto-replied" if "In-Reply-To" in mail else "auto-generated"
        mail.set_content(message.body)
        return mail

    def send(self, message: Outgoing) -> SendResult:
        if message.channel != "email":
            raise TransportError(f"SMTP cannot send {message.channel}", transient=False)
        mail = self.build(message)
        try:
            with smtplib.SMTP(
                self.smtp.host, self.smtp.port, timeout=self.smtp.timeout.total_seconds()
            ) as client:
                if self.smtp.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.smtp.username:
                    client.login(self.smtp.username, self.smtp.password)
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            transient = all(400 <= code < 500 for code in codes)
            raise TransportError(
                f"SMTP refused {message.to}: {exc.recipients}",
                transient=transient,
                code=codes[0] if codes else None,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise TransportError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                transient=not 500 <= exc.smtp_code < 600,
                code=exc.smtp_code,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP error: {exc!r}", transient=True) from exc
        return SendResult(provider_id=mail["Message-ID"] or None, status="sent")

    def lookup(self, message: Outgoing, since: datetime) -> LookupResult | None:
        return None  # SMTP keeps no record we could ask; the sender resends (see above)
