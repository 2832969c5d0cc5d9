"""The fake Twilio itself (:class:`FakeTwilio`): its settings, starting and stopping the
loopback server and the callback worker, the SDK client aimed at it, proxy routes, and reset.

What it does is assembled from the parts of this package: the REST API (:mod:`.rest`) with
its programmed failures (:mod:`.failures`), status callbacks (:mod:`.callbacks`), inbound
SMS and answered calls (:mod:`.inbound`), the records a test reads (:mod:`.state`) and the
expectations it checks (:mod:`.expectations`). Thread-safe: one re-entrant lock guards it all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from oncall.fakes.twilio.expectations import Expectations
from oncall.fakes.twilio.inbound import InboundTraffic
from oncall.fakes.twilio.loopback import LoopbackServer
from oncall.fakes.twilio.protocol import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TEST_FROM, new_sid
from oncall.fakes.twilio.rest import RestApi


class FakeTwilio(RestApi, InboundTraffic, Expectations):
    """A fake Twilio REST API on loopback that records everything and calls back."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
        messaging_service_sid: str | None = None,
        messaging_service_number: str = TEST_FROM,
        magic_numbers: bool = True,
        handle_opt_out: bool = True,
        advanced_opt_out: bool = False,
        callback_timeout: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self._port = port
        # MessagingServiceSid carried by inbound SMS (None: the number is in no service).
        self.messaging_service_sid = messaging_service_sid or new_sid("MG")
        # The sender Twilio picks when a message names only a MessagingServiceSid.
        self.messaging_service_number = messaging_service_number
        self.magic_numbers = magic_numbers
        self.handle_opt_out = handle_opt_out  # inbound STOP/START change who gets 21610
        self.advanced_opt_out = advanced_opt_out  # adds OptOutType to inbound keywords
        self.callback_timeout = callback_timeout
        # Auto callbacks: a status, a sequence of statuses, or a callable(Recorded) -> either.
        self.auto_status: Any = None
        self.auto_call_status: Any = None
        self.auto_status_delay = 0.1  # seconds after the 201, so the service stored the SID
        self._server: LoopbackServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._sessions: list[requests.Session] = []
        super().__init__(clock or (lambda: datetime.now(UTC)))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeTwilio:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = LoopbackServer((self.host, self._port), self)
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-twilio-http",
            daemon=True,
        )
        self._serve_thread.start()
        self._start_worker()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        server.shutdown()
        server.close_connections()
        server.server_close()  # joins the handler threads
        if self._serve_thread is not None:
            self._serve_thread.join()
        self._stop_worker()
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._server = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake Twilio is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def twilio_client(self, timeout: float | None = None) -> Any:
        """A ``twilio.rest.Client`` aimed at this fake; ``stop()`` closes its HTTP session."""
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        http_client = TwilioHttpClient(timeout=timeout)
        client = Client(self.account_sid, self.auth_token, http_client=http_client)
        client.edge = client.region = None  # TWILIO_EDGE/TWILIO_REGION would rewrite the host
        client.api.base_url = self.base_url
        if http_client.session is not None:
            with self._lock:
                self._sessions.append(http_client.session)
        return client

    def route(self, public_prefix: str, actual_prefix: str) -> None:
        """Callbacks to URLs under ``public_prefix`` (signed as such) really go to
        ``actual_prefix``: the service behind a TLS-terminating proxy."""
        with self._lock:
            self._routes[public_prefix.rstrip("/")] = actual_prefix.rstrip("/")

    def reset(self) -> None:
        """Forget requests, resources, callbacks, every rule and expectation; keep running."""
        self._clear_state()
        with self._lock:
            self.auto_status = None
            self.auto_call_status = None


def start_fake_twilio(**kwargs: Any) -> FakeTwilio:
    """A started :class:`FakeTwilio`; use it as a context manager (``with … as fake``) or call
    ``stop()``. Keyword arguments go to the constructor."""
    return FakeTwilio(**kwargs).start()
