from datetime import UTC, datetime, timedelta, timezone

import pytest

from oncall.clock import FakeClock, SystemClock, ensure_aware


def test_fake_clock_moves_only_when_told():
    clock = FakeClock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    assert clock.now() == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert clock.advance(minutes=15) == datetime(2026, 11, 24, 8, 15, tzinfo=UTC)
    clock.advance(timedelta(hours=1))
    assert clock.now() == datetime(2026, 11, 24, 9, 15, tzinfo=UTC)


def test_fake_clock_refuses_naive_times_and_going_backwards():
    with pytest.raises(ValueError):
        FakeClock(datetime(2026, 1, 1))
    clock = FakeClock()
    with pytest.raises(ValueError):
        clock.advance(seconds=-1)


def test_fake_clock_normalises_to_utc():
    toronto = timezone(timedelta(hours=-5))
    clock = FakeClock(datetime(2026, 11, 24, 3, 0, tzinfo=toronto))
    assert clock.now().tzinfo is UTC and clock.now().hour == 8


def test_system_clock_is_aware():
    assert SystemClock().now().tzinfo is UTC


def test_ensure_aware():
    naive = datetime(2026, 1, 1, 12)
    assert ensure_aware(naive).tzinfo is UTC
