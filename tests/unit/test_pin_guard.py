"""When a caller number's PIN lockout starts and ends (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oncall.domain.pin_guard import PIN_LIMITS, PinLimits, lockout_until

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def at(*minutes: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in minutes]


def test_the_limits_of_the_issue():
    assert (PIN_LIMITS.per_number, PIN_LIMITS.line_wide) == (5, 20)
    assert PIN_LIMITS.window == timedelta(hours=1)


def test_four_failures_do_not_lock():
    assert lockout_until(at(0, 1, 2, 3), T0 + timedelta(minutes=4)) is None


def test_the_fifth_failure_within_an_hour_locks_for_an_hour_from_it():
    failures = at(0, 10, 20, 30, 40)
    assert lockout_until(failures, T0 + timedelta(minutes=41)) == T0 + timedelta(minutes=100)
    assert lockout_until(failures, T0 + timedelta(minutes=99)) is not None
    assert lockout_until(failures, T0 + timedelta(minutes=100)) is None  # over


def test_failures_spread_over_more_than_an_hour_do_not_lock():
    assert lockout_until(at(0, 20, 40, 60, 61), T0 + timedelta(minutes=62)) is None


def test_order_does_not_matter_and_the_latest_lockout_wins():
    failures = list(reversed(at(0, 1, 2, 3, 4, 70, 71, 72, 73, 74)))
    assert lockout_until(failures, T0 + timedelta(minutes=75)) == T0 + timedelta(minutes=134)


def test_other_limits():
    strict = PinLimits(per_number=2, line_wide=3, window=timedelta(minutes=10))
    assert lockout_until(at(0, 5), T0 + timedelta(minutes=6), strict) == T0 + timedelta(minutes=15)
