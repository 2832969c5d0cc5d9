"""Durations and times of day, as written in every file: one parser each, one meaning each."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from oncall.domain.timetext import (
    END_OF_DAY,
    format_duration,
    parse_duration,
    parse_time_of_day,
    since_midnight,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        (0, timedelta(0)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["15 minutes", "m15", "15", 15, "1.5h", "", True, None, "1h 2x"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["1h30m", "45s", "2d", "1d12h", "0s"])
def test_format_duration_is_the_inverse(text):
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("18:00", time(18)), ("9:05", time(9, 5)), (" 00:00 ", time(0)), ("23:59", time(23, 59))],
)
def test_times_of_day(text, expected):
    assert parse_time_of_day(text) == expected


def test_24_00_is_the_end_of_the_day():
    assert parse_time_of_day("24:00") == END_OF_DAY
    assert all(time(h, m) < END_OF_DAY for h in range(24) for m in range(60))
    assert since_midnight(END_OF_DAY) == timedelta(days=1)
    assert since_midnight(time(18, 30)) == timedelta(hours=18, minutes=30)


@pytest.mark.parametrize("text", ["24:30", "25:00", "12:60", "noon", "18.00", "1800", ""])
def test_bad_times_of_day(text):
    with pytest.raises(ValueError, match='is not a time of day like "18:00"'):
        parse_time_of_day(text)


def test_unquoted_time_gets_a_hint():
    # YAML 1.1 reads an unquoted 18:00 as the base-60 number 1080.
    with pytest.raises(ValueError, match=r'write times in quotes, like "18:00" .*1080'):
        parse_time_of_day(1080)
