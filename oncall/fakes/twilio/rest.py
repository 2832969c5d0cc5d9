"""The REST API (``/2010-04-01/Accounts/{AccountSid}/…``, form-encoded, HTTP Basic), as the
service reaches it through the official SDK or plain HTTP:

- ``POST Messages.json`` / ``POST Calls.json``: 201 with the JSON Twilio returns; 400 with
  Twilio's error JSON for a missing ``To`` (21604 / 21201), ``From`` (21603 / 21213), ``Body``
  (21602), ``Url``/``Twiml``/``ApplicationSid`` (21205), an invalid ``To`` (21211); 401 (20003)
  for wrong credentials or an account SID that does not match the path.
- ``GET Messages.json`` / ``GET Calls.json``: filtered, newest first, paged
  (:class:`~oncall.fakes.twilio.resources.ListQuery`), so ``list(limit=…)`` works.
- ``GET Messages/{Sid}.json``, ``GET Calls/{Sid}.json``, and ``POST`` to them (update: a call's
  ``Status``/``Url``/``Twiml``, a message's ``Body``/``Status``).

Every request is recorded first; programmed failures (:mod:`.failures`) are consulted before
anything is created, and an accepted create schedules its automatic status callbacks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from dataclasses import dataclass

from oncall.fakes.twilio.callbacks import StatusCallbacks
from oncall.fakes.twilio.failures import FailureInjection, NoAnswer
from oncall.fakes.twilio.loopback import RequestHandler, read_request, write_json
from oncall.fakes.twilio.protocol import (
    Reply,
    error_body,
    error_reply,
    new_sid,
    num_segments,
    rfc2822,
    valid_to,
)
from oncall.fakes.twilio.resources import ListQuery, call_json, copy, message_json
from oncall.fakes.twilio.state import Recorded, Resource

_ROUTE = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<resource>Messages|Calls)"
    r"(?:/(?P<sid>[A-Za-z0-9]+))?\.json$"
)


@dataclass
class _Route:
    resource: str  # messages | calls
    account: str
    sid: str | None
    action: str  # create | list | fetch | update | other

    @property
    def kind(self) -> str:
        return f"{self.resource}.{self.action}"


def _parse_route(method: str, path: str) -> _Route | None:
    match = _ROUTE.match(path)
    if not match:
        return None
    sid = match["sid"]
    if method == "POST":
        action = "update" if sid else "create"
    elif method == "GET":
        action = "fetch" if sid else "list"
    else:
        action = "other"
    return _Route(match["resource"].lower(), match["account"], sid, action)


class RestApi(FailureInjection, StatusCallbacks):
    """Answers the requests the loopback server hands over."""

    messaging_service_number: str  # the sender Twilio picks for a MessagingServiceSid alone

    def _serve(self, handler: RequestHandler) -> None:
        path, params = read_request(handler)
        route = _parse_route(handler.command, path)
        rec = Recorded(
            method=handler.command,
            path=path,
            params=params,
            auth_ok=False,
            time=time.time(),
            response_status=None,
            kind=route.kind if route else "unknown",
            monotonic=time.monotonic(),
            headers=dict(handler.headers.items()),
        )
        with self._lock:
            self._requests.append(rec)
            self._bump()
        try:
            status, payload, after = self._respond(handler, rec, route)
        except NoAnswer:
            handler.close_connection = True
            return
        with self._lock:
            rec.response_status = status
            rec.response = payload
            self._bump()
        try:
            write_json(handler, status, payload)
        finally:
            if after is not None:
                after()

    def _respond(self, handler: RequestHandler, rec: Recorded, route: _Route | None) -> Reply:
        if route is None:
            return error_reply(20404, path=rec.path)
        auth_ok = self._auth_ok(handler.headers.get("Authorization"), route.account)
        with self._lock:
            rec.auth_ok = auth_ok
        if not auth_ok:
            body = error_body(20003)
            body["detail"] = "Your AccountSid or AuthToken was incorrect."
            return 401, body, None
        failed = self._outage_response(route.resource)
        if failed is not None:
            return failed
        if route.action == "create":
            self._delay(route.resource)
            failed = self._take_failure(route.resource, rec.to)
            if failed is not None:
                return failed
            if route.resource == "messages":
                return self._create_message(rec)
            return self._create_call(rec)
        if route.action == "list":
            return self._list(rec, route)
        if route.action in ("fetch", "update"):
            return self._fetch_or_update(rec, route)
        return error_reply(20004)

    def _auth_ok(self, header: str | None, path_account: str) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        same = hmac.compare_digest
        return bool(sep) and (
            same(user.encode(), path_account.encode())
            & same(user.encode(), self.account_sid.encode())
            & same(password.encode(), self.auth_token.encode())
        )

    def _create_message(self, rec: Recorded) -> Reply:
        to = rec.get("To", "") or ""
        from_ = rec.get("From", "") or ""
        service = rec.get("MessagingServiceSid", "") or ""
        body = rec.get("Body", "") or ""
        media = rec.params.get("MediaUrl", [])
        if not to:
            return error_reply(21604)
        if not from_ and not service:
            return error_reply(21603)
        if not body and not media and not rec.get("ContentSid"):
            return error_reply(21602)
        if len(body) > 1600:
            return error_reply(21617)
        if not valid_to(to, voice=False):
            return error_reply(21211, to=to)
        refused = self._refusal("messages", to)
        if refused is not None:
            return refused
        now = self._clock()
        sid = new_sid("MM" if media else "SM")
        data = message_json(
            self.account_sid,
            sid,
            to=to,
            from_=from_,
            service=service,
            body=body,
            num_media=len(media),
            segments=str(num_segments(body)),
            now=now,
        )
        response = copy(data)
        # What a later fetch shows: Twilio picked a sender and handed the message on.
        data["from"] = from_ or self.messaging_service_number
        data["date_sent"] = rfc2822(now)
        res = Resource(
            "messages",
            sid,
            data,
            rec.params,
            now,
            self._next_seq(),
            sent=now,
            status_callback=rec.get("StatusCallback") or None,
        )
        self._store(res)
        with self._lock:
            rec.sid = sid
        return 201, response, self._auto(self.auto_status, rec, res)

    def _create_call(self, rec: Recorded) -> Reply:
        to = rec.get("To", "") or ""
        from_ = rec.get("From", "") or ""
        if not to:
            return error_reply(21201)
        if not from_:
            return error_reply(21213)
        if not (rec.get("Url") or rec.get("Twiml") or rec.get("ApplicationSid")):
            return error_reply(21205)
        url = rec.get("Url")
        if url and not url.startswith(("http://", "https://")):
            return error_reply(21205, message=f"Url is not a valid URL: {url}")
        if not valid_to(to, voice=True):
            return error_reply(21211, to=to)
        refused = self._refusal("calls", to)
        if refused is not None:
            return refused
        now = self._clock()
        sid = new_sid("CA")
        data = call_json(self.account_sid, sid, to=to, from_=from_, now=now)
        res = Resource(
            "calls",
            sid,
            data,
            rec.params,
            now,
            self._next_seq(),
            status_callback=rec.get("StatusCallback") or None,
            status_callback_method=(rec.get("StatusCallbackMethod") or "POST").upper(),
        )
        self._store(res)
        with self._lock:
            rec.sid = sid
        return 201, copy(data), self._auto(self.auto_call_status, rec, res)

    def _list(self, rec: Recorded, route: _Route) -> Reply:
        try:
            query = ListQuery.parse(route.resource, route.account, rec)
        except ValueError as exc:
            return error_reply(20001, message=f"Invalid parameter: {exc}")
        with self._lock:
            payload = query.page_of([r for r in self._resources.values() if query.matches(r)])
        return 200, payload, None

    def _fetch_or_update(self, rec: Recorded, route: _Route) -> Reply:
        with self._lock:
            res = self._resources.get(route.sid or "")
            if res is None or res.kind != route.resource:
                return error_reply(20404, path=rec.path)
            if route.action == "update":
                self._update(res, rec)
            return 200, copy(res.data), None

    def _update(self, res: Resource, rec: Recorded) -> None:
        now = rfc2822(self._clock())
        if res.kind == "calls":
            status = rec.get("Status")
            if status:
                res.data["status"] = status
                res.data["end_time"] = now
            for name in ("Url", "Twiml", "Method"):
                if rec.get(name) is not None:
                    res.params[name] = [rec.get(name) or ""]
        else:
            if rec.get("Body") is not None:
                res.data["body"] = rec.get("Body")
            if rec.get("Status"):
                res.data["status"] = rec.get("Status")
        res.data["date_updated"] = now
