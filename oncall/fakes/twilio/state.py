"""What the fake saw and holds, and how a test reads it: the records of requests it received
(:class:`Recorded`) and callbacks it made (:class:`Callback`), the Messages and Calls it holds
(:class:`Resource`), and :class:`FakeState`, the lock-guarded state every part of the fake
shares, with the reading side of the fake's API::

    fake.requests                 # [Recorded(method, path, params, auth_ok, time, response_status,
                                  #           kind, sid, response, monotonic, headers)]
    fake.messages(to="+1555…")    # accepted (201) Messages.json creates: .to .from_ .body .sid
    fake.calls(to=None)           # accepted Calls.json creates
    fake.callbacks                # every request the fake made to the service (Callback records)
    fake.get_message(sid), fake.get_call(sid)   # current resource JSON (status follows callbacks)
    fake.wait_for(lambda: len(fake.messages()) >= 2, timeout=5)
    fake.errors                   # tracebacks of the fake's own failures (should stay empty)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oncall.fakes.twilio.signing import rewrite


@dataclass
class Recorded:
    """One request the fake received. ``params`` holds the query and the form body."""

    method: str
    path: str
    params: dict[str, list[str]]
    auth_ok: bool
    time: float  # time.time() when it arrived
    response_status: int | None  # None: not answered (yet, or ever: a "timeout" outage)
    kind: str = "unknown"  # messages.create, messages.list, messages.fetch, calls.create, …
    sid: str | None = None  # the SID a create request got
    response: dict[str, Any] | None = None
    monotonic: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[0] if values else default

    @property
    def to(self) -> str | None:
        return self.get("To")

    @property
    def from_(self) -> str | None:
        return self.get("From")

    @property
    def body(self) -> str | None:
        return self.get("Body")

    @property
    def status_callback(self) -> str | None:
        return self.get("StatusCallback")


@dataclass
class Callback:
    """One request the fake sent to the service."""

    kind: str  # message-status, call-status, sms
    url: str
    params: dict[str, list[str]]
    status_code: int | None
    error: str | None
    time: float


@dataclass
class Resource:
    """A message or a call the fake holds: its JSON as a fetch shows it, and what it was
    created with."""

    kind: str  # "messages" | "calls"
    sid: str
    data: dict[str, Any]
    params: dict[str, list[str]]
    created: datetime
    seq: int
    sent: datetime | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    sequence_number: int = 0


class FakeState:
    """The state every part of the fake shares, behind one re-entrant lock. Each part keeps
    its own state in :meth:`_forget` (extended with ``super()``), so :meth:`_clear_state`
    resets all of it at once. Every change calls :meth:`_bump`, which wakes ``wait_for``."""

    account_sid: str
    auth_token: str

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._generation = 0
        self._stopping = threading.Event()
        self._routes: dict[str, str] = {}
        self._clear_state()

    def _clear_state(self) -> None:
        with self._lock:
            self._forget()
            self._bump()

    def _forget(self) -> None:
        """Drop what was recorded; parts extend this to drop their own state."""
        self._requests: list[Recorded] = []
        self._callbacks: list[Callback] = []
        self._errors: list[str] = []
        self._resources: dict[str, Resource] = {}
        self._seq = 0

    def _bump(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _store(self, res: Resource) -> None:
        with self._lock:
            self._resources[res.sid] = res
            self._bump()

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _record_callback(self, callback: Callback) -> None:
        with self._lock:
            self._callbacks.append(callback)
            self._bump()

    def _send_to(self, url: str) -> str | None:
        """Where a callback to the public ``url`` really goes (see ``route()``)."""
        with self._lock:
            routes: Mapping[str, str] = dict(self._routes)
        return rewrite(url, routes)

    # -- what a test reads -------------------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    @property
    def callbacks(self) -> list[Callback]:
        with self._lock:
            return list(self._callbacks)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected exceptions inside the fake (should stay empty)."""
        with self._lock:
            return list(self._errors)

    def messages(self, to: str | None = None) -> list[Recorded]:
        """Accepted (201) ``Messages.json`` creates, oldest first."""
        return self._accepted("messages.create", to)

    def calls(self, to: str | None = None) -> list[Recorded]:
        """Accepted (201) ``Calls.json`` creates, oldest first."""
        return self._accepted("calls.create", to)

    def _accepted(self, kind: str, to: str | None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self._requests
                if r.kind == kind and r.response_status == 201 and (to is None or r.to == to)
            ]

    def get_message(self, sid: str) -> dict[str, Any]:
        return self._resource_data(sid, "messages")

    def get_call(self, sid: str) -> dict[str, Any]:
        return self._resource_data(sid, "calls")

    def _resource_data(self, sid: str, kind: str) -> dict[str, Any]:
        with self._lock:
            res = self._resources.get(sid)
            if res is None or res.kind != kind:
                raise KeyError(sid)
            return json.loads(json.dumps(res.data))

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05
    ) -> Any:
        """Poll ``predicate()`` (outside the lock) until it is truthy; wake early whenever a
        request or callback is recorded. Returns its value; ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                generation = self._generation
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"condition not met after {timeout}s; the fake saw:\n{self.summary()}"
                )
            with self._changed:
                if self._generation == generation:
                    self._changed.wait(min(interval, remaining))

    def summary(self, last: int = 20) -> str:
        """The last requests and callbacks, one a line, for failure messages."""
        with self._lock:
            lines = [
                f"  {r.method} {r.path} -> {r.response_status} "
                f"To={r.to} Body={(r.body or '')[:60]!r}"
                for r in self._requests[-last:]
            ]
            lines += [
                f"  callback {c.kind} {c.url} -> {c.status_code or c.error}"
                for c in self._callbacks[-last:]
            ]
        return "\n".join(lines) or "  (nothing)"
