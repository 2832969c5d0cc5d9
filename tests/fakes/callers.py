"""How the app's callers talk to it in tests: Twilio (signed webhooks), SendGrid (Inbound
Parse posts with HTTP Basic), an API client (bearer token) and a manager's browser (the
sign-in form). Values match ``tests/conftest.py``'s ``BASE_CONFIG``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime

from twilio.request_validator import RequestValidator
from werkzeug.security import generate_password_hash

from oncall.cases.opening import numbers_taken_through
from oncall.db.models import OutboundMessage
from tests.fakes import seed

PUBLIC = "https://oncall.vendor.example"
TWILIO_TOKEN = "test-auth-token"
API = {"Authorization": "Bearer test-api-token-0123456789"}
INBOUND = {"Authorization": "Basic " + base64.b64encode(b"sendgrid:inbound-secret").decode()}
ALICE = "+15550100101"  # rotations/support.yaml
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # the conftest clock
PASSWORD = "correct horse battery"
# A cheap hash method keeps the suite fast; production hashes come from `oncall user add`.
MANAGERS = {
    "maria": {
        "role": "manager",
        "password_hash": generate_password_hash(PASSWORD, "pbkdf2:sha256:1000"),
    }
}


def twilio_post(client, path: str, form: dict[str, str]):
    """A POST signed exactly as Twilio signs it (over the values as sent)."""
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def sendgrid_mail(subject: str, sender: str = "wile@acme.example", **extra: str) -> dict:
    """A SendGrid Inbound Parse post from an authenticated contact (SPF and DKIM pass)."""
    message_id = f"<{uuid.uuid4().hex}@acme.example>"
    headers = (
        f"From: Wile E. Coyote <{sender}>\nTo: critical@vendor.example\nSubject: {subject}\n"
        f"Message-ID: {message_id}\nDate: Tue, 24 Nov 2026 08:00:00 +0000\n"
    )
    form = {
        "headers": headers,
        "from": f"Wile E. Coyote <{sender}>",
        "to": "critical@vendor.example",
        "subject": subject,
        "text": "Checkout is down for all users, no workaround.\n",
        "envelope": json.dumps({"to": ["critical@vendor.example"], "from": sender}),
        "SPF": "pass",
        "dkim": "{@acme.example : pass}",
        "charsets": json.dumps({"subject": "UTF-8", "text": "UTF-8", "from": "UTF-8"}),
    }
    form.update(extra)
    return form


def post_mail(client, form: dict):
    return client.post(
        "/email/inbound", data=form, content_type="multipart/form-data", headers=INBOUND
    )


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, address: str = "127.0.0.1") -> str:
    """Sign maria in through the form; returns the CSRF token her pages carry."""
    environ = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=environ).text)
    response = client.post(
        "/login",
        data={"username": "maria", "password": PASSWORD, "csrf_token": token},
        environ_base=environ,
    )
    assert response.status_code == 302, response.text
    return csrf_from(client.get("/cases").text)


def add_paged_case(runtime) -> None:
    """Case 1001, open, with alice paged for it by SMS and by voice (outbox rows 1 and 2)."""
    with runtime.sessions() as session, session.begin():
        case = seed.add_case(session, 1001, opened_at=NOW)
        numbers_taken_through(session, 1001)  # as if intake had opened it: the next is 1002
        for channel in ("sms", "voice"):
            session.add(
                OutboundMessage(
                    case_id=case.id,
                    channel=channel,
                    purpose="page",
                    recipient="alice",
                    to_address=ALICE,
                    body="Case 1001 S1 Acme Corp: checkout down",
                    state="sent",
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
            )
