"""What every request passes through before a view sees it, in one place.

* **Control characters.** Query and form parameters (names and values) lose NUL, the other C0
  controls but tab, line feed and carriage return, DEL and the C1 controls: PostgreSQL refuses a
  NUL in text, and none of them means anything in a phone number, a token or an SMS. They are
  stripped rather than refused so a contact is never lost over one stray byte; the original
  form stays readable (:func:`unsanitised_form`) because Twilio signs the values it sent. A
  *path* with a control character is refused with 400: no route has a use for one.
* **Integers in URLs.** ``<int:…>`` matches only what a database integer column holds (up to
  2^31-1, PostgreSQL's limit), so ``/api/cases/99999999999`` is "no such case" (404) instead of an
  overflow deep in a query.
* **Proxies.** With ``web.trusted_proxies`` set, werkzeug's ``ProxyFix`` takes the client's
  address, scheme and host from that many ``X-Forwarded-For``/``-Proto``/``-Host`` hops (the
  sign-in limiter keys on that address; the CSRF check compares the ``Referer`` with that
  host); without it those headers are ignored, because anyone can send them.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Request, abort, request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from oncall.db.models import INTEGER_MAX

# C0 controls except \t \n \r, then DEL and the C1 controls.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In a path nothing of the kind is allowed, tabs and line breaks included.
PATH_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def strip_controls(value: Any) -> Any:
    """``value`` without control characters, if it is text (uploaded files pass untouched)."""
    if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
        return CONTROL_CHARACTERS.sub("", value)
    return value


class CleanParameters(ImmutableMultiDict):
    """Query or form parameters with control characters stripped from names and values.

    ``unsanitised`` keeps what arrived, for the one reader that needs it: the Twilio signature
    covers the exact values Twilio sent. ``stripped`` says whether anything was removed.
    """

    def __init__(self, mapping: Any = None) -> None:
        received = ImmutableMultiDict(mapping)
        cleaned = [
            (strip_controls(key), strip_controls(value))
            for key, value in received.items(multi=True)
        ]
        super().__init__(cleaned)
        self.unsanitised = received
        self.stripped = cleaned != list(received.items(multi=True))


class EdgeRequest(Request):
    parameter_storage_class = CleanParameters


def unsanitised_form(req: Request) -> MultiDict:
    """The form exactly as it arrived (Twilio's signature covers these values)."""
    return getattr(req.form, "unsanitised", req.form)


class DatabaseInteger(IntegerConverter):
    """``<int:…>``, but only values an integer column can hold: larger ones match no route."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        bound = INTEGER_MAX if max is None or max > INTEGER_MAX else max
        super().__init__(map, fixed_digits, min, bound, signed)


def _refuse_control_characters_in_path() -> None:
    if PATH_CONTROL_CHARACTERS.search(request.path):
        abort(400, "control characters in the URL")


def install(app: Flask, trusted_proxies: int) -> None:
    """Wire the edge into ``app``; call before any blueprint is registered (the converter
    applies to rules added after it)."""
    app.request_class = EdgeRequest
    app.url_map.converters["int"] = DatabaseInteger
    app.before_request(_refuse_control_characters_in_path)
    if trusted_proxies > 0:
        hops = trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
