"""Every ``/twilio/*`` request must carry a valid ``X-Twilio-Signature``.

The signature covers the full URL Twilio requested, so it is checked against the configured
``public_url`` plus the request's path and query, not ``request.url``: behind a proxy that
terminates TLS, ``request.url`` says ``http://`` and every real request would fail. A missing
or wrong signature gets 403 and the view never runs, so nothing changes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import abort, request
from twilio.request_validator import RequestValidator

from oncall.web.context import runtime
from oncall.web.edge import unsanitised_form

log = logging.getLogger("oncall.web.twilio")


def public_request_url() -> str:
    """The URL Twilio used: configured public base + the path and query we received."""
    settings = runtime().settings
    query = request.query_string.decode("latin-1")
    path = (request.script_root or "") + request.path
    return settings.public_url + path + (f"?{query}" if query else "")


def public_url_for(path: str) -> str:
    """An absolute URL for Twilio to call back (``action=``, ``StatusCallback``)."""
    settings = runtime().settings
    return settings.public_url + path


def signature_is_valid() -> bool:
    settings = runtime().settings
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.twilio.auth_token:
        return False
    validator = RequestValidator(settings.twilio.auth_token)
    # The values Twilio signed, before the edge stripped any control characters.
    params = unsanitised_form(request) if request.method == "POST" else {}
    return validator.validate(public_request_url(), params, signature)


def twilio_signed(view: Callable) -> Callable:
    """Decorator: 403 unless the request is signed by Twilio with our auth token."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not signature_is_valid():
            log.warning(
                "rejected unsigned or forged Twilio request to %s",
                request.path,
                extra={"remote": request.remote_addr or "-"},
            )
            abort(403)
        return view(*args, **kwargs)

    return wrapper
