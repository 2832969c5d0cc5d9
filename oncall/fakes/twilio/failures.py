"""Failures programmed per request, and how the REST API consults them.

They apply to the create requests (``Messages.json``, ``Calls.json``) unless said otherwise::

    fake.fail_next(kind="messages", status=500, times=3)    # 500, code 20500, three times
    fake.fail_next(code=21610)                              # status 400 inferred
    fake.fail_next(status=429)                              # code 20429 inferred
    fake.delay_next(2.0, times=1)          # answer late (the message IS created: outcome unknown)
    fake.outage(status=503, seconds=30)    # every API request, GETs included, until it ends
    fake.outage(status="timeout", until=lambda: flag.is_set())  # hold the request, never answer
    fake.recover()                         # end the outage now (held requests are dropped)
    fake.fail_to("+15555550123", code=21610)  # this engineer texted STOP (messages only)
    fake.opt_out(number), fake.opt_in(number), fake.opted_out
    # Magic numbers (Twilio test credentials), on Messages.json: To +15005550001 -> 21211,
    # +15005550002 -> 21612, +15005550003 -> 21408, +15005550004 -> 21610, +15005550009 -> 21614.

``until`` is a callable (the outage lasts until it returns true), an aware ``datetime`` or a
``time.time()`` timestamp; ``seconds`` is a duration. A ``"timeout"`` outage holds each request
until the outage ends, ``hold`` seconds pass or the fake stops, then drops the connection without
an answer, so the request was *not* processed. ``delay_next`` is the other case: the answer comes
late but the message exists, which is what reconciliation (``messages.list``) is for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oncall.fakes.twilio.protocol import (
    CODE_FOR_STATUS,
    MAGIC_TO,
    Reply,
    error_body,
    error_reply,
)
from oncall.fakes.twilio.state import FakeState


class NoAnswer(Exception):
    """Drop the connection without a response (a timeout, as the client sees it)."""


@dataclass
class _Failure:
    kind: str | None
    status: int
    code: int
    message: str | None
    remaining: int
    to: str | None = None


@dataclass
class _Delay:
    kind: str | None
    seconds: float
    remaining: int


@dataclass
class _Outage:
    status: int | str
    code: int | None
    kind: str | None
    over: Callable[[], bool]
    hold: float | None


def _until(until: Any, seconds: float | None) -> Callable[[], bool]:
    if seconds is not None:
        end = time.monotonic() + seconds
        return lambda: time.monotonic() >= end
    if until is None:
        return lambda: False
    if isinstance(until, datetime):
        if until.tzinfo is None:
            raise ValueError("until must be timezone-aware")
        return lambda: datetime.now(UTC) >= until
    if callable(until):
        return lambda: bool(until())
    if isinstance(until, int | float):
        return lambda: time.time() >= until
    raise TypeError(f"until: expected a callable, an aware datetime or a timestamp, not {until!r}")


def _check_kind(kind: str | None) -> None:
    if kind not in (None, "messages", "calls"):
        raise ValueError(f"kind: 'messages', 'calls' or None, not {kind!r}")


class FailureInjection(FakeState):
    """The failure rules of the fake: programmed by a test, consulted by the REST API."""

    magic_numbers: bool  # To numbers of Twilio's test credentials fail as they do there

    def _forget(self) -> None:
        super()._forget()
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self._outage: _Outage | None = None
        self._number_rules: dict[str, list[_Failure]] = {}
        self._opted_out: set[str] = set()

    # -- programming -------------------------------------------------------------------------
    def fail_next(
        self,
        kind: str | None = None,
        *,
        status: int | None = None,
        code: int | None = None,
        times: int = 1,
        message: str | None = None,
        to: str | None = None,
    ) -> None:
        """The next ``times`` create requests of ``kind`` ("messages", "calls", None: either),
        optionally only those to ``to``, fail with ``status``/``code``. A code alone implies
        its status (400, or 429 for 20429); a status alone implies its code (500 -> 20500)."""
        _check_kind(kind)
        if code is None:
            code = CODE_FOR_STATUS.get(status or 500, 20500 if (status or 500) >= 500 else 20001)
        if status is None:
            status = error_body(code)["status"]
        with self._lock:
            self._failures.append(_Failure(kind, status, code, message, times, to))

    def delay_next(self, seconds: float, times: int = 1, *, kind: str | None = None) -> None:
        """Answer the next ``times`` create requests ``seconds`` late. They are processed all
        the same: a client that timed out does not know its message went out."""
        _check_kind(kind)
        with self._lock:
            self._delays.append(_Delay(kind, seconds, times))

    def outage(
        self,
        status: int | str = 500,
        *,
        until: Any = None,
        seconds: float | None = None,
        kind: str | None = None,
        code: int | None = None,
        hold: float | None = None,
    ) -> None:
        """Every API request (of ``kind``, GETs too) fails until ``recover()``, ``until`` or
        ``seconds``. ``status="timeout"``: hold the request (at most ``hold`` seconds) and drop
        it unanswered and unprocessed."""
        _check_kind(kind)
        if status != "timeout" and not isinstance(status, int):
            raise ValueError("status: an HTTP status code or 'timeout'")
        with self._changed:
            self._outage = _Outage(status, code, kind, _until(until, seconds), hold)
            self._bump()

    def recover(self) -> None:
        """End the outage now."""
        with self._changed:
            self._outage = None
            self._bump()

    def fail_to(
        self,
        number: str,
        code: int = 21610,
        *,
        status: int | None = None,
        kind: str | None = None,
        message: str | None = None,
    ) -> None:
        """Refuse every create request to ``number`` with ``code``. ``kind`` None means
        messages only for 21610 (opting out is an SMS matter) and both otherwise."""
        _check_kind(kind)
        if kind is None and code == 21610:
            kind = "messages"
        if status is None:
            status = error_body(code)["status"]
        with self._lock:
            self._number_rules.setdefault(number, []).append(
                _Failure(kind, status, code, message, remaining=-1, to=number)
            )

    def clear_fail_to(self, number: str | None = None) -> None:
        with self._lock:
            if number is None:
                self._number_rules.clear()
            else:
                self._number_rules.pop(number, None)

    def opt_out(self, number: str) -> None:
        """As if ``number`` texted STOP: later messages to it get 21610."""
        with self._lock:
            self._opted_out.add(number)

    def opt_in(self, number: str) -> None:
        with self._lock:
            self._opted_out.discard(number)

    @property
    def opted_out(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._opted_out)

    # -- consulted by the REST API -----------------------------------------------------------
    def _outage_response(self, resource: str) -> Reply | None:
        """The answer an outage gives a request for ``resource``; None without an outage.
        A ``"timeout"`` outage holds the request, then raises :class:`NoAnswer`."""
        with self._changed:
            outage = self._outage
            if outage is None or (outage.kind is not None and outage.kind != resource):
                return None
            if outage.over():
                self._outage = None
                self._bump()
                return None
            if outage.status != "timeout":
                status = int(outage.status)
                code = outage.code or CODE_FOR_STATUS.get(status, 20500)
                return error_reply(code, status)
            started = time.monotonic()
            while not self._stopping.is_set() and self._outage is outage and not outage.over():
                if outage.hold is not None and time.monotonic() - started >= outage.hold:
                    break
                self._changed.wait(0.05)
        raise NoAnswer

    def _delay(self, resource: str) -> None:
        seconds = 0.0
        with self._lock:
            for delay in self._delays:
                if delay.remaining != 0 and delay.kind in (None, resource):
                    delay.remaining -= 1
                    seconds = delay.seconds
                    break
            self._delays = [d for d in self._delays if d.remaining != 0]
        if seconds and self._stopping.wait(seconds):
            raise NoAnswer

    def _take_failure(self, resource: str, to: str | None) -> Reply | None:
        with self._lock:
            for rule in self._failures:
                if rule.remaining != 0 and rule.kind in (None, resource) and rule.to in (None, to):
                    rule.remaining -= 1
                    self._failures = [f for f in self._failures if f.remaining != 0]
                    return error_reply(rule.code, rule.status, rule.message, to=to or "")
        return None

    def _refusal(self, resource: str, to: str) -> Reply | None:
        with self._lock:
            for rule in self._number_rules.get(to, []):
                if rule.kind in (None, resource):
                    return error_reply(rule.code, rule.status, rule.message, to=to)
            if resource == "messages":
                if to in self._opted_out:
                    return error_reply(21610, to=to)
                if self.magic_numbers and to in MAGIC_TO:
                    return error_reply(MAGIC_TO[to], to=to)
        return None
