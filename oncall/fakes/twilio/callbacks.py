"""Status callbacks to the service, signed with ``X-Twilio-Signature`` over the full URL,
sent by the test or automatically after each accepted create::

    fake.send_status_callback(None, sid, "delivered")   # to the StatusCallback given at create
    fake.send_status_callback(None, sid, "undelivered", error_code=30003)
    fake.deliver_all("delivered")
    fake.auto_status = "delivered"      # or ("sent", "delivered"), or a callable(Recorded)
    fake.auto_call_status = "no-answer" # status callback for every accepted call
    fake.send_call_status_callback(None, call_sid, "completed", duration=42)

Each callback is recorded (``fake.callbacks``), and the stored resource takes the new status,
so a later fetch agrees with it. Automatic ones go out from one worker thread,
``auto_status_delay`` seconds after the 201 (so the service stored the SID first).
"""

from __future__ import annotations

import math
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from oncall.fakes.twilio.protocol import (
    API_VERSION,
    CALL_TERMINAL,
    DEFAULT_MESSAGE_ERROR,
    MESSAGE_TERMINAL,
    SIP_CODES,
    call_params,
    rfc2822,
)
from oncall.fakes.twilio.signing import multi, post_signed
from oncall.fakes.twilio.state import Callback, FakeState, Recorded, Resource

_Job = tuple[float, Callable[..., Any], tuple[Any, ...]]


class StatusCallbacks(FakeState):
    """Sending status callbacks, by hand and automatically (with the worker thread that the
    fake starts and stops)."""

    # Auto callbacks: a status, a sequence of statuses, or a callable(Recorded) -> either.
    auto_status: Any
    auto_call_status: Any
    auto_status_delay: float  # seconds after the 201
    callback_timeout: float

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__(clock)
        self._worker: threading.Thread | None = None
        self._queue: queue.Queue[_Job | None] = queue.Queue()

    # -- the worker --------------------------------------------------------------------------
    def _start_worker(self) -> None:
        self._queue = queue.Queue()
        self._worker = threading.Thread(
            target=self._work, name="fake-twilio-callbacks", daemon=True
        )
        self._worker.start()

    def _stop_worker(self) -> None:
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            not_before, send, args = item
            wait = not_before - time.monotonic()
            if (wait > 0 and self._stopping.wait(wait)) or self._stopping.is_set():
                continue  # stopping: drop what is left, keep draining until the sentinel
            try:
                send(*args)
            except requests.RequestException:
                pass  # already in self.callbacks with its error
            except Exception:
                self._note_error(traceback.format_exc())

    def _auto(self, spec: Any, rec: Recorded, res: Resource) -> Callable[[], None] | None:
        """What to run once the create is answered: queue the statuses ``spec`` asks for."""
        if spec is None or not res.status_callback:
            return None
        statuses = spec(rec) if callable(spec) else spec
        if not statuses:
            return None
        if isinstance(statuses, str):
            statuses = [statuses]
        send = self._auto_message_status if res.kind == "messages" else self._auto_call_status

        def enqueue() -> None:
            for status in statuses:
                self._queue.put(
                    (time.monotonic() + self.auto_status_delay, send, (res.sid, status))
                )

        return enqueue

    def _auto_message_status(self, sid: str, status: str) -> None:
        self.send_status_callback(None, sid, status)

    def _auto_call_status(self, sid: str, status: str) -> None:
        self.send_call_status_callback(None, sid, status)

    # -- sending -----------------------------------------------------------------------------
    def _post_callback(
        self, kind: str, url: str, params: Mapping[str, Any], method: str = "POST"
    ) -> requests.Response:
        sent = multi(params)
        started = time.time()
        try:
            response = post_signed(
                url,
                sent,
                self.auth_token,
                method=method,
                send_to=self._send_to(url),
                timeout=self.callback_timeout,
            )
        except requests.RequestException as exc:
            self._record_callback(Callback(kind, url, sent, None, repr(exc), started))
            raise
        self._record_callback(Callback(kind, url, sent, response.status_code, None, started))
        return response

    def _callback_url(self, res: Resource | None, sid: str, url: str | None) -> str:
        if url is not None:
            return url
        if res is None or not res.status_callback:
            raise ValueError(f"{sid}: no StatusCallback to send to")
        return res.status_callback

    def send_status_callback(
        self,
        url: str | None,
        message_sid: str,
        status: str,
        error_code: int | None = None,
        *,
        extra: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST a signed message status callback; ``url`` None: the message's StatusCallback.
        ``ErrorCode`` goes only with failed/undelivered (default 30008/30003). The stored
        message takes the new status, so a later fetch agrees with the callback."""
        now = self._clock()
        with self._lock:
            res = self._resources.get(message_sid)
            url = self._callback_url(res, message_sid, url)
            data = res.data if res is not None else {}
            params: dict[str, Any] = {
                "SmsSid": message_sid,
                "SmsStatus": status,
                "MessageStatus": status,
                "To": data.get("to"),
                "MessagingServiceSid": data.get("messaging_service_sid"),
                "MessageSid": message_sid,
                "AccountSid": self.account_sid,
                "From": data.get("from"),
                "ApiVersion": API_VERSION,
            }
            if status in ("failed", "undelivered"):
                error_code = error_code or DEFAULT_MESSAGE_ERROR[status]
                params["ErrorCode"] = str(error_code)
            if status == "delivered":
                params["RawDlrDoneDate"] = now.astimezone(UTC).strftime("%y%m%d%H%M")
            params.update(extra or {})
            if res is not None:
                data["status"] = status
                data["date_updated"] = rfc2822(now)
                if status in ("failed", "undelivered"):
                    data["error_code"] = error_code
                    data["error_message"] = f"Error {error_code}"
            method = res.status_callback_method if res is not None else "POST"
        return self._post_callback("message-status", url, params, method)

    def deliver_all(self, status: str = "delivered") -> list[requests.Response]:
        """A status callback for every accepted outbound message that named a StatusCallback
        and is not in a final state yet (so calling it twice sends nothing twice)."""
        with self._lock:
            sids = [
                r.sid
                for r in sorted(self._resources.values(), key=lambda r: r.seq)
                if r.kind == "messages"
                and r.status_callback
                and r.data.get("direction") == "outbound-api"
                and r.data.get("status") not in MESSAGE_TERMINAL
            ]
        return [self.send_status_callback(None, sid, status) for sid in sids]

    def send_call_status_callback(
        self,
        url: str | None,
        call_sid: str,
        status: str,
        *,
        duration: int | None = None,
        answered_by: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST a signed call status callback (``url`` None: the call's StatusCallback).
        Final statuses carry CallDuration, SipResponseCode, Timestamp and SequenceNumber."""
        now = self._clock()
        with self._lock:
            res = self._resources.get(call_sid)
            url = self._callback_url(res, call_sid, url)
            sequence = 0
            if res is not None:
                sequence = res.sequence_number
                res.sequence_number += 1
            params = self._call_status_params(res, call_sid, status, sequence, now)
            if status in CALL_TERMINAL:
                seconds = duration if duration is not None else 0
                params["CallDuration"] = str(seconds)
                params["Duration"] = str(math.ceil(seconds / 60))
                params["SipResponseCode"] = str(SIP_CODES[status])
            if answered_by:
                params["AnsweredBy"] = answered_by
            params.update(extra or {})
            if res is not None:
                self._set_call_status(res, status, duration, now)
            method = res.status_callback_method if res is not None else "POST"
        return self._post_callback("call-status", url, params, method)

    def _call_status_params(
        self, res: Resource | None, call_sid: str, status: str, sequence: int, now: datetime
    ) -> dict[str, Any]:
        data = res.data if res is not None else {}
        to, from_ = data.get("to") or "", data.get("from") or ""
        direction = data.get("direction", "outbound-api")
        params: dict[str, Any] = call_params(
            self.account_sid, call_sid, status, from_, to, direction
        )
        params["CallbackSource"] = "call-progress-events"
        params["Timestamp"] = rfc2822(now)
        params["SequenceNumber"] = str(sequence)
        return params

    def _set_call_status(
        self, res: Resource, status: str, duration: int | None, now: datetime
    ) -> None:
        with self._lock:
            res.data["status"] = status
            res.data["date_updated"] = rfc2822(now)
            if status == "in-progress" and res.data.get("start_time") is None:
                res.data["start_time"] = rfc2822(now)
            if status in CALL_TERMINAL:
                res.data["end_time"] = rfc2822(now)
                res.data["duration"] = str(duration or 0)
            self._bump()
