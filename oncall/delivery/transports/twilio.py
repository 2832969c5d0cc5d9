"""SMS and voice calls through Twilio's REST API, with the official SDK.

**The API base URL is configurable** (``twilio.api_base``, default ``https://api.twilio.com``)
so the whole service can run against a fake Twilio on loopback. The SDK builds every URL of
the ``api`` domain (Messages.json, Calls.json, and the ``next_page_uri`` of list pages) from
``client.api.base_url`` (``twilio.base.domain.Domain.absolute_url``), so setting that one
attribute routes all our calls. Two more things would silently send traffic elsewhere, and
both are switched off: the client reads ``TWILIO_EDGE``/``TWILIO_REGION`` from the environment
and then rewrites the host (``ClientBase.get_hostname``), so ``edge`` and ``region`` are
cleared; and the SDK's HTTP client is built here with our timeout (``twilio.timeout``) and no
automatic retries (the outbox does the retrying, with backoff and a record of each attempt).

Errors become :class:`~oncall.domain.transport.TransportError`:

* transient (retry with backoff): HTTP 5xx, HTTP 429 / Twilio 20429 (too many requests), and
  network errors (connection refused or reset, timeouts);
* permanent (fail and fall back): every other 4xx, e.g. 21211 invalid ``To``, 21610 the
  recipient texted STOP, 21614 not a mobile number, 21612 / 21408 cannot route there.

Callers' recordings are deleted here too (:meth:`TwilioTransport.delete_recording`), for the
retention pass (:mod:`oncall.engine.retention`).

A timeout or reset *after the request went out* is **ambiguous**: Twilio may have created the
message. Such errors carry ``ambiguous = True`` so the sender looks the message up (see
:meth:`TwilioTransport.lookup`) before sending it again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from oncall.config.settings import Settings
from oncall.domain.transport import LookupResult, Outgoing, SendResult, TransportError

log = logging.getLogger("oncall.twilio")

TRANSIENT_CODES = frozenset({20429})
#: How long a voice page rings before Twilio gives up (then "no-answer" → next target).
RING_TIMEOUT = 30
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
LOOKUP_PAGE = 200  # messages per list request when reconciling


class TwilioTransport:
    def __init__(self, settings: Settings, http_client: TwilioHttpClient | None = None):
        twilio = settings.twilio
        self.settings = settings
        self.messaging_service_sid = twilio.messaging_service_sid
        self.default_from = twilio.critical_line
        self.client = Client(
            twilio.account_sid,
            twilio.auth_token,
            http_client=http_client or TwilioHttpClient(timeout=twilio.timeout.total_seconds()),
        )
        # Never let the environment move our traffic to another host (see the module doc).
        self.client.edge = None
        self.client.region = None
        self.client.api.base_url = twilio.api_base.rstrip("/")

    def cannot_send(self) -> str | None:
        """Why no SMS or call can go out, if that is known without trying (for /healthz)."""
        missing = [
            name
            for name, value in (
                ("account SID", self.client.username),
                ("auth token", self.client.password),
            )
            if not value
        ]
        if missing:
            return f"transport cannot send: the Twilio transport has no {' or '.join(missing)}"
        return None

    # -- sending ---------------------------------------------------------------------------
    def send(self, message: Outgoing) -> SendResult:
        if message.channel == "sms":
            return self._call(lambda: self._send_sms(message))
        if message.channel == "voice":
            return self._call(lambda: self._send_call(message))
        raise TransportError(f"Twilio cannot send {message.channel}", transient=False)

    def _send_sms(self, message: Outgoing) -> SendResult:
        kwargs = {}
        if self.messaging_service_sid:
            kwargs["messaging_service_sid"] = self.messaging_service_sid
        else:
            kwargs["from_"] = message.from_ or self.default_from
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        created = self.client.messages.create(to=message.to, body=message.body, **kwargs)
        return SendResult(provider_id=created.sid, status=str(created.status or "queued"))

    def _send_call(self, message: Outgoing) -> SendResult:
        if not message.voice_url:
            raise TransportError("a voice page needs its TwiML URL", transient=False)
        kwargs = {}
        if message.status_callback:
            kwargs.update(
                status_callback=message.status_callback,
                status_callback_event=CALL_EVENTS,
                status_callback_method="POST",
            )
        created = self.client.calls.create(
            to=message.to,
            from_=message.from_ or self.default_from,
            url=message.voice_url,
            method="POST",
            timeout=RING_TIMEOUT,
            **kwargs,
        )
        return SendResult(provider_id=created.sid, status=str(created.status or "queued"))

    @staticmethod
    def _call(action):
        try:
            return action()
        except TwilioRestException as exc:
            raise _rest_error(exc) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError(f"Twilio connect timeout: {exc}", transient=True) from exc
        except requests.exceptions.ConnectionError as exc:
            error = TransportError(f"Twilio connection error: {exc}", transient=True)
            error.ambiguous = not _never_connected(exc)  # type: ignore[attr-defined]
            raise error from exc
        except requests.exceptions.Timeout as exc:
            error = TransportError(f"Twilio timeout: {exc}", transient=True)
            error.ambiguous = True  # type: ignore[attr-defined]
            raise error from exc
        except (requests.exceptions.RequestException, TwilioException) as exc:
            # e.g. a proxy returning HTML: nothing usable came back; try again later.
            raise TransportError(f"Twilio request failed: {exc!r}", transient=True) from exc

    # -- recordings ------------------------------------------------------------------------
    def delete_recording(self, recording_sid: str) -> None:
        """``DELETE {api_base}/2010-04-01/Accounts/{sid}/Recordings/{RecordingSid}.json``.

        204: deleted. 404: Twilio no longer has it (deleted before, maybe by another engine):
        just as good. Anything else raises :class:`TransportError` and is tried again later.
        """
        try:
            self._call(lambda: self.client.api.v2010.account.recordings(recording_sid).delete())
        except TransportError as exc:
            if exc.http_status == 404:
                log.info("recording %s was already gone at Twilio", recording_sid)
                return
            raise

    # -- reconciliation --------------------------------------------------------------------
    def lookup(self, message: Outgoing, since: datetime) -> LookupResult | None:
        """Find a message or call we may have created at or after ``since``.

        SMS: messages filtered by ``To``, ``From`` and ``DateSent>`` (Twilio compares the date
        only), walked newest first through every page until one matches the body or is older
        than ``since``. Calls carry no body: the newest call to that number from our number
        created since then.
        Raises TransportError when Twilio cannot be asked (the caller tries again later).
        """
        since = since.astimezone(UTC)
        return self._call(lambda: self._lookup(message, since))

    def _lookup(self, message: Outgoing, since: datetime) -> LookupResult | None:
        from_ = message.from_ or self.default_from
        if message.channel == "voice":
            for call in self.client.calls.stream(to=message.to, from_=from_, page_size=50):
                created = call.date_created
                if created is not None and created < since:
                    return None  # newest first: everything further is older
                return LookupResult(call.sid, str(call.status or "queued"))
            return None
        filters: dict = {"to": message.to, "date_sent_after": since, "page_size": LOOKUP_PAGE}
        if not self.messaging_service_sid:  # with a service Twilio picks the From number
            filters["from_"] = from_
        # Every page, not just the first: after a burst one engineer has hundreds of messages
        # from us today, and missing ours here would send a page twice. Twilio lists newest
        # first, so the walk stops at the first message created before ``since``.
        for found in self.client.messages.stream(**filters):
            created = found.date_created
            if created is not None and created < since:
                return None
            if (found.body or "").strip() == message.body.strip():
                return LookupResult(found.sid, str(found.status or "sent"))
        return None


def _rest_error(exc: TwilioRestException) -> TransportError:
    status = int(exc.status or 0)
    code = int(exc.code) if exc.code is not None else None
    transient = status >= 500 or status == 429 or code in TRANSIENT_CODES
    return TransportError(
        f"Twilio {status} {code or ''}: {exc.msg}".replace("  ", " "),
        transient=transient,
        code=code,
        http_status=status,
    )


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was refused or the name did not resolve: nothing was sent."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "Connection refused", "NameResolutionError")
    )
