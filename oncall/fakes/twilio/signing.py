"""Requests signed the way Twilio signs them: ``X-Twilio-Signature`` over the full URL and the
POST parameters, and the webhook request itself (status callbacks, inbound SMS, every step of
a voice call all go through :func:`post_signed`).

``sign(url, params, auth_token)`` is ``RequestValidator(auth_token).compute_signature`` over a
multi-valued parameter mapping. Behind a proxy, the signed URL (the one Twilio believes it
requests) and the URL the request really goes to differ: ``post_signed(..., send_to=…)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator


class Params(dict):
    """name -> list of values, with the ``getlist`` that ``RequestValidator`` looks for."""

    def getlist(self, name: str) -> list[str]:
        return list(self[name])


def multi(params: Any) -> Params:
    """Normalise a dict (values str or lists), a MultiDict, or (name, value) pairs."""
    out = Params()
    if not params:
        return out
    if hasattr(params, "getlist") and hasattr(params, "keys"):
        for name in params.keys():  # noqa: SIM118 - MultiDict iteration order is what we want
            values = [str(v) for v in params.getlist(name) if v is not None]
            if values:
                out.setdefault(name, []).extend(values)
        return out
    items = params.items() if isinstance(params, Mapping) else params
    for name, value in items:
        if value is None:
            continue
        values = list(value) if isinstance(value, list | tuple) else [value]
        strs = [str(v) for v in values if v is not None]
        if strs:
            out.setdefault(str(name), []).extend(strs)
    return out


def _pairs(params: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, values in params.items() for value in values]


def sign(url: str, params: Any, auth_token: str, algorithm: str | None = None) -> str:
    """``X-Twilio-Signature`` for a request to ``url`` (full URL, query included) with the
    POST ``params`` (a dict of str or lists, a MultiDict, or pairs; empty for GET)."""
    return RequestValidator(auth_token).compute_signature(url, multi(params), algorithm)


def post_signed(
    url: str,
    params: Any,
    auth_token: str,
    *,
    method: str = "POST",
    send_to: str | None = None,
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """Send a webhook request the way Twilio does and return the response.

    ``url`` is the URL Twilio believes it requests (the one that is signed); ``send_to`` is
    where the request really goes, when a proxy sits in between (default: ``url``). For GET the
    parameters go into the query string and the signature covers that full URL."""
    flat = multi(params)
    method = method.upper()
    target = send_to or url
    data: list[tuple[str, str]] | None = None
    if method == "GET":
        query = urlencode(_pairs(flat))
        if query:
            url = url + ("&" if "?" in url else "?") + query
            target = target + ("&" if "?" in target else "?") + query
        signature = sign(url, {}, auth_token)
    else:
        signature = sign(url, flat, auth_token)
        data = _pairs(flat)
    sent_headers = {
        "X-Twilio-Signature": signature,
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        "Accept": "*/*",
    }
    sent_headers.update(headers or {})
    return requests.request(
        method, target, data=data, headers=sent_headers, timeout=timeout, allow_redirects=False
    )


def rewrite(url: str, routes: Mapping[str, str]) -> str | None:
    """Where a request for the public ``url`` really goes: the first of ``routes`` (public
    prefix -> actual prefix) that ``url`` starts with, rewritten; None when none applies."""
    for public, actual in routes.items():
        if url.startswith(public):
            return actual + url[len(public) :]
    return None
