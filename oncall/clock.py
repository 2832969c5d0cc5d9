"""The one clock everything asks.

Domain functions take ``now`` as an argument; services and the engine take a :class:`Clock`.
Tests use :class:`FakeClock` and move time with :meth:`FakeClock.advance`, so no test ever
sleeps to wait for a deadline.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to. Thread-safe, so a test can drive a running app."""

    def __init__(self, start: datetime | None = None):
        start = start or datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` (or ``timedelta(**kwargs)``); returns the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("time does not go backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FakeClock needs timezone-aware datetimes")
        with self._lock:
            self._now = when.astimezone(UTC)


def ensure_aware(value: datetime) -> datetime:
    """Databases without time zones (SQLite) hand back naive UTC datetimes; make them aware."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
