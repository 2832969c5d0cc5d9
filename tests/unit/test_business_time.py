"""Business-time arithmetic (oncall.domain.business_time): tables across a weekend, holidays and
both DST changes in America/Toronto and America/Vancouver, and properties (hypothesis) over
random schedules, zones and instants, drawn on purpose near the 2026 DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import takewhile
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.domain.business_time import (
    Schedule,
    add_business,
    business_between,
    is_open,
    periods,
    schedule_from_dict,
)
from oncall.domain.timetext import END_OF_DAY

TORONTO = ZoneInfo("America/Toronto")
VANCOUVER = ZoneInfo("America/Vancouver")
WEEKDAYS = (0, 1, 2, 3, 4)
H = timedelta(hours=1)


def office(zone: ZoneInfo, holidays: tuple[date, ...] = ()) -> Schedule:
    return Schedule(WEEKDAYS, time(9), time(17), zone, holidays)


def local(zone: ZoneInfo, text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold)


# -- tables -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("zone", "opened", "duration", "due"),
    [
        # The example: 30 minutes on Friday, 90 on Monday.
        (TORONTO, "2026-11-20T16:30", 2 * H, "2026-11-23T10:30"),
        # Ending exactly at the close falls due at the close, not the next opening.
        (TORONTO, "2026-11-20T15:00", 2 * H, "2026-11-20T17:00"),
        # Opened before the doors open: the count starts at 09:00.
        (TORONTO, "2026-11-18T06:00", 2 * H, "2026-11-18T11:00"),
        # Opened on a Saturday: Monday.
        (VANCOUVER, "2026-11-21T12:00", 30 * timedelta(minutes=1), "2026-11-23T09:30"),
        # Half a business day (4 h) across a night.
        (VANCOUVER, "2026-11-18T15:00", 4 * H, "2026-11-19T11:00"),
        # A whole business week.
        (TORONTO, "2026-11-16T09:00", 40 * H, "2026-11-20T17:00"),
        # Spring forward (Sunday 8 March 2026, 02:00 -> 03:00): Friday EST to Monday EDT.
        (TORONTO, "2026-03-06T16:00", 2 * H, "2026-03-09T10:00"),
        (VANCOUVER, "2026-03-06T16:00", 2 * H, "2026-03-09T10:00"),
        # Fall back (Sunday 1 November 2026, 02:00 -> 01:00): Friday EDT to Monday EST.
        (TORONTO, "2026-10-30T16:30", 2 * H, "2026-11-02T10:30"),
        (VANCOUVER, "2026-10-30T16:30", 2 * H, "2026-11-02T10:30"),
    ],
)
def test_due_dates_in_business_time(zone, opened, duration, due):
    schedule = office(zone)
    result = add_business(schedule, local(zone, opened), duration)
    assert result == local(zone, due)
    assert result.tzinfo is UTC
    assert business_between(schedule, local(zone, opened), result) == duration


def test_dst_changes_keep_the_real_elapsed_time_across_the_weekend():
    # Friday 16:00 EST to Monday 10:00 EDT is 65 hours of real time, not 66.
    opened = local(TORONTO, "2026-03-06T16:00")
    due = add_business(office(TORONTO), opened, 2 * H)
    assert due - opened == 65 * H
    # And in autumn 67 hours (the Sunday has 25).
    opened = local(TORONTO, "2026-10-30T16:00")
    due = add_business(office(TORONTO), opened, 2 * H)
    assert due - opened == 67 * H


@pytest.mark.parametrize("zone", [TORONTO, VANCOUVER])
def test_hours_spanning_the_change_count_real_time(zone):
    always = Schedule(tuple(range(7)), time(0), END_OF_DAY, zone)
    # The spring Sunday has 23 hours and the autumn one 25: business time is real time.
    spring = local(zone, "2026-03-08T00:00")
    autumn = local(zone, "2026-11-01T00:00")
    assert business_between(always, spring, local(zone, "2026-03-09T00:00")) == 23 * H
    assert business_between(always, autumn, local(zone, "2026-11-02T00:00")) == 25 * H
    assert add_business(always, spring, 3 * H) == local(zone, "2026-03-08T04:00")
    assert add_business(always, autumn, 3 * H) == local(zone, "2026-11-01T02:00")
    # Hours from 01:00 to 03:00 on the autumn Sunday are three real hours (01:00-02:00 twice).
    night = Schedule((6,), time(1), time(3), zone)
    assert business_between(night, autumn, local(zone, "2026-11-02T00:00")) == 3 * H
    # On the spring Sunday they are one (02:00-03:00 does not exist).
    assert business_between(night, spring, local(zone, "2026-03-09T00:00")) == H


def test_holidays_are_skipped_like_a_weekend():
    schedule = office(TORONTO, (date(2026, 12, 25), date(2026, 12, 28)))
    # Thursday 24 December 16:30: 30 min, then Friday (holiday), the weekend, Monday
    # (holiday), so Tuesday 10:30.
    due = add_business(schedule, local(TORONTO, "2026-12-24T16:30"), 2 * H)
    assert due == local(TORONTO, "2026-12-29T10:30")
    assert not is_open(schedule, local(TORONTO, "2026-12-25T12:00"))
    assert is_open(schedule, local(TORONTO, "2026-12-24T12:00"))
    assert (
        business_between(
            schedule, local(TORONTO, "2026-12-24T00:00"), local(TORONTO, "2026-12-30T00:00")
        )
        == 2 * 8 * H
    )  # Thursday 24 and Tuesday 29


def test_is_open_at_the_edges_and_in_another_zone():
    schedule = office(VANCOUVER)
    assert is_open(schedule, local(VANCOUVER, "2026-11-18T09:00"))
    assert not is_open(schedule, local(VANCOUVER, "2026-11-18T17:00"))
    # 10:00 in Toronto is 07:00 in Vancouver: closed there.
    assert not is_open(schedule, local(TORONTO, "2026-11-18T10:00"))
    assert is_open(office(TORONTO), local(TORONTO, "2026-11-18T10:00"))


def test_a_schedule_without_days_is_never_open_and_cannot_count():
    empty = Schedule((), time(9), time(17), TORONTO)
    assert not is_open(empty, local(TORONTO, "2026-11-18T10:00"))
    with pytest.raises(ValueError, match="at least one open day"):
        add_business(empty, local(TORONTO, "2026-11-18T10:00"), H)


def test_schedules_round_trip_through_their_json_form():
    schedule = Schedule((0, 2, 4), time(8, 30), END_OF_DAY, VANCOUVER, (date(2026, 12, 25),))
    assert schedule_from_dict(schedule.to_dict()) == schedule
    assert office(TORONTO).describe() == "Mon-Fri 09:00-17:00 America/Toronto"


# -- properties ---------------------------------------------------------------------------------
ZONES = [TORONTO, VANCOUVER, ZoneInfo("UTC"), ZoneInfo("Europe/London")]
DST_EDGES = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
]
FAST = settings(max_examples=200, deadline=None)


@st.composite
def schedules(draw) -> Schedule:
    days = tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1))))
    start_minute = draw(st.integers(0, 23 * 60 + 30))
    end_minute = draw(st.integers(start_minute + 15, 24 * 60))
    start = time(start_minute // 60, start_minute % 60)
    end = END_OF_DAY if end_minute == 24 * 60 else time(end_minute // 60, end_minute % 60)
    holidays = tuple(
        sorted(draw(st.sets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=6)))
    )
    return Schedule(days, start, end, draw(st.sampled_from(ZONES)), holidays)


instants = st.one_of(
    st.integers(0, 365 * 24 * 3600).map(
        lambda s: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
    ),
    st.tuples(st.sampled_from(DST_EDGES), st.integers(-3 * 86400, 3 * 86400)).map(
        lambda p: p[0] + timedelta(seconds=p[1])
    ),
)
durations = st.integers(0, 200 * 60).map(lambda m: timedelta(minutes=m))


@FAST
@given(schedules(), instants, durations)
def test_adding_then_measuring_gives_the_duration_back(schedule, at, duration):
    due = add_business(schedule, at, duration)
    assert due >= at
    assert business_between(schedule, at, due) == duration


@FAST
@given(schedules(), instants, durations, durations)
def test_later_or_longer_never_falls_due_earlier(schedule, at, first, second):
    shorter, longer = sorted((first, second))
    assert add_business(schedule, at, shorter) <= add_business(schedule, at, longer)
    later = at + abs(second - first)
    assert add_business(schedule, at, first) <= add_business(schedule, later, first)


@FAST
@given(schedules(), instants, durations.filter(lambda d: d > timedelta(0)))
def test_a_due_time_is_inside_the_hours_or_exactly_at_a_close(schedule, at, duration):
    due = add_business(schedule, at, duration)
    tick = timedelta(microseconds=1)
    # periods() runs on forever: stop at the first period that opens after the due time.
    nearby = takewhile(lambda period: period[0] <= due, periods(schedule, due - tick))
    closes = {end for _start, end in nearby}
    assert is_open(schedule, due) or (is_open(schedule, due - tick) and due in closes)


@FAST
@given(schedules(), instants, durations, durations.filter(lambda d: d > timedelta(0)))
def test_adding_in_two_steps_is_adding_once(schedule, at, first, second):
    once = add_business(schedule, at, first + second)
    assert add_business(schedule, add_business(schedule, at, first), second) == once


@FAST
@given(schedules(), instants, durations, durations)
def test_measuring_is_additive_and_never_more_than_the_wall_clock(schedule, at, one, two):
    middle, end = at + one, at + one + two
    total = business_between(schedule, at, end)
    assert total == business_between(schedule, at, middle) + business_between(schedule, middle, end)
    assert timedelta(0) <= total <= end - at
    assert business_between(schedule, end, at) == timedelta(0)


@FAST
@given(schedules(), instants)
def test_open_means_an_instant_counts(schedule, at):
    minute = timedelta(minutes=1)
    counted = business_between(schedule, at, at + minute)
    if is_open(schedule, at) and is_open(schedule, at + minute - timedelta(microseconds=1)):
        assert counted == minute
    if counted == timedelta(0):
        assert not is_open(schedule, at)
