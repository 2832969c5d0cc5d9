"""SendGrid Inbound Parse, as the security tests play it: real multipart posts with the fields
SendGrid sends, including its SPF and DKIM verdicts for the sender's domain.

    post(client, inbound(from_="rr@acme.example"))                    # SPF and DKIM pass
    post(client, inbound(from_="rr@acme.example", spf="fail", dkim="{@acme.example : fail}"))
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

AUTH = "Basic " + base64.b64encode(b"sendgrid:inbound-secret").decode()  # tests/conftest.py
CRITICAL = "critical@vendor.example"


def inbound(
    from_: str = "Road Runner <rr@acme.example>",
    subject: str = "Sev 1: checkout down for all users",
    text: str = "Checkout is down for all users since 02:00.\n",
    *,
    spf: str = "pass",
    dkim: str | None = None,
    envelope_from: str | None = None,
    message_id: str | None = None,
    extra_headers: str = "",
) -> dict[str, str]:
    """A parsed-variant post. By default the verdicts of a legitimate mail: SPF passes for an
    envelope sender of the From's domain and DKIM passes for that domain."""
    address = from_.rpartition("<")[2].rstrip(">") if "<" in from_ else from_
    domain = address.rpartition("@")[2]
    message_id = message_id or f"<{uuid.uuid4().hex}@mail.{domain}>"
    headers = (
        f"Received: from mail.{domain} (mail.{domain} [192.0.2.25])\n"
        f"\tby mx.sendgrid.net with ESMTP id {uuid.uuid4().hex[:12]}\n"
        f"MIME-Version: 1.0\nFrom: {from_}\nDate: Tue, 24 Nov 2026 08:00:00 +0000\n"
        f"Message-ID: {message_id}\nSubject: {subject}\nTo: {CRITICAL}\n"
        f"{extra_headers}Content-Type: text/plain; charset=UTF-8\n"
    )
    return {
        "headers": headers,
        "dkim": dkim if dkim is not None else f"{{@{domain} : pass}}",
        "to": CRITICAL,
        "from": from_,
        "subject": subject,
        "text": text,
        "sender_ip": "192.0.2.25",
        "envelope": json.dumps(
            {"to": [CRITICAL], "from": envelope_from if envelope_from is not None else address}
        ),
        "charsets": json.dumps(
            {"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "UTF-8"}
        ),
        "SPF": spf,
        "spam_score": "0.1",
        "attachments": "0",
    }


def spoofed(from_: str = "Road Runner <rr@acme.example>", **kwargs: Any) -> dict[str, str]:
    """The attack of issue 10: a forged From, and SendGrid's verdicts say so."""
    address = from_.rpartition("<")[2].rstrip(">") if "<" in from_ else from_
    domain = address.rpartition("@")[2]
    kwargs.setdefault("spf", "fail")
    kwargs.setdefault("dkim", f"{{@{domain} : fail}}")
    return inbound(from_, **kwargs)


def raw(message: str, **fields: str) -> dict[str, str]:
    """A "Send Raw" post: the whole MIME message in ``email``, beside the form fields."""
    return {
        "email": message,
        "to": CRITICAL,
        "charsets": json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}),
        "spam_score": "0.1",
        **fields,
    }


def multipart(form: dict[str, str | bytes]) -> tuple[bytes, str]:
    """Encode like SendGrid: one part per field, raw bytes, no per-part charset."""
    boundary = "xYzZY" + uuid.uuid4().hex
    out = bytearray()
    for name, value in form.items():
        data = value if isinstance(value, bytes) else value.encode("utf-8")
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def post(client, form: dict[str, str | bytes]):
    body, content_type = multipart(form)
    return client.post(
        "/email/inbound", data=body, content_type=content_type, headers={"Authorization": AUTH}
    )
