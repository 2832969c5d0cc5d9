"""``POST /email/inbound``: the critical address, as SendGrid Inbound Parse delivers it.

HTTP Basic credentials from ``email.inbound`` (SendGrid sends them from the destination URL,
``https://sendgrid:PASSWORD@host/email/inbound``); anything else is 401. The body limit is
``email.max_bytes`` for this route only (413 above it). Once a message is accepted the answer
is always 2xx, because SendGrid retries anything else for days; the service is idempotent on
the Message-ID, so a retry changes nothing. A post that cannot be read at all is 400.
"""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, jsonify, request

from oncall.domain.mail.inbound import EmailParseError
from oncall.domain.mail.sendgrid import form_is_exact, parse_sendgrid, raw_form_fields
from oncall.services.email_intake import handle_inbound_email
from oncall.web.context import runtime
from oncall.web.edge import unsanitised_form

log = logging.getLogger("oncall.web.email")

bp = Blueprint("email_inbound", __name__)


@bp.before_request
def _email_size_limit() -> None:
    # Emails with attachments are far larger than any other webhook: this route alone gets
    # email.max_bytes instead of the app-wide web.max_request_bytes. The raw variant carries
    # the whole MIME message in one form field, so the per-field limit (500 kB by default)
    # is raised to match, or a large raw message would be refused.
    limit = runtime().settings.email.max_bytes
    request.max_content_length = limit
    request.max_form_memory_size = limit


def _authorised() -> bool:
    expected = runtime().settings.email.inbound
    auth = request.authorization
    if not expected.password or auth is None or auth.type != "basic":
        return False
    # Compare both parts, always, in constant time: no early exit that times the username.
    user_ok = hmac.compare_digest(
        (auth.username or "").encode("utf-8"), expected.username.encode("utf-8")
    )
    password_ok = hmac.compare_digest(
        (auth.password or "").encode("utf-8"), expected.password.encode("utf-8")
    )
    return user_ok and password_ok


def _form() -> dict[str, str | bytes]:
    """The post's fields, as :func:`parse_sendgrid` reads them."""
    # Read the body before request.form: werkzeug decodes fields as UTF-8 and would turn an
    # ISO-8859-1 body into U+FFFD; the raw bytes let the parser use SendGrid's charsets.
    data = request.get_data(cache=True)
    form: dict[str, str | bytes] = request.form.to_dict(flat=True)
    # Re-parsing the body for its bytes costs a third of an intake; most posts do not need it.
    # The bytes keep the control characters the edge strips (ISO-2022-JP's escapes), so
    # werkzeug's form stands in for them only as it arrived, and only when no field's name
    # lost one (the cleaned name is read too, beside the bytes under the name as sent).
    received = unsanitised_form(request)
    values = [value for _, value in received.items(multi=True)]
    parts = len(values) + sum(1 for _ in request.files.items(multi=True))
    boundary = request.mimetype_params.get("boundary")
    same_names = set(received) == set(request.form)
    if same_names and form_is_exact(data, boundary, received, values, parts):
        return received.to_dict(flat=True)
    return form | raw_form_fields(data, request.content_type)


@bp.post("/email/inbound")
def inbound_email():
    if not _authorised():
        return Response(
            "authentication required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Basic realm="oncall inbound email"'},
        )
    form = _form()
    try:
        mail = parse_sendgrid(form, request.files)
    except EmailParseError as exc:
        log.warning("unreadable inbound email post: %s", exc)
        return Response(f"bad request: {exc}\n", status=400, mimetype="text/plain")
    rt = runtime()
    outcome = handle_inbound_email(rt, mail, rt.clock.now())
    return jsonify(outcome.to_json()), 200
