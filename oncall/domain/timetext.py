"""Durations and times of day as people write them in the files they edit.

Every duration (``30s``, ``15m``, ``1h``, ``2d``, ``1w``, ``1h30m``) and every time of day
(``"09:00"``, ``"24:00"``) in ``config.yaml``, the rota files and the voice flows is read here,
so one spelling means one thing everywhere.

``"24:00"`` is **the end of the day**, wherever it is written: business hours that end at
``"24:00"`` run until midnight, and a rota window ``until: "24:00"`` (or ``until: sun 24:00``)
runs until the midnight that ends that day. :class:`datetime.time` cannot hold 24:00, so the end
of the day is :data:`END_OF_DAY` (``time.max``, 23:59:59.999999): compared as a time it sorts
after every minute of the day, and :func:`since_midnight` turns it into a whole day.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = time.max

_DURATION_PART = re.compile(r"(\d+)\s*(ms|s|m|h|d|w)")
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_TIME_OF_DAY = re.compile(r"(\d{1,2}):(\d{2})")

# Dates typed into a query or a command (``since=``, ``month=``, ``--month``) are held to these
# years: year 1 or 9999 overflows once shifted to UTC or to the next month, and nothing this
# service records happens outside them.
EARLIEST_YEAR = 1900
LATEST_YEAR = 9998


def check_year(year: int, shown: str) -> None:
    """ValueError naming ``shown`` when ``year`` is outside the years dates may name."""
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"{shown!r} is outside the years {EARLIEST_YEAR}-{LATEST_YEAR}")


def parse_duration(text: Any) -> timedelta:
    """``30s``, ``15m``, ``1h``, ``2d``, ``1w`` (and ``500ms``) to a timedelta.

    Compound forms like ``1h30m`` are accepted too. Raises ValueError with a readable message.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"{text!r} is not a duration like 15m")
    if isinstance(text, int):
        if text == 0:
            return timedelta(0)
        raise ValueError(f"{text!r} is not a duration like 15m (add a unit: s, m, h, d)")
    parts = _DURATION_PART.findall(text)
    written = "".join(f"{count}{unit}" for count, unit in parts)
    if not parts or written != re.sub(r"\s+", "", text):
        raise ValueError(f'"{text}" is not a duration like 15m')
    return sum((int(count) * _UNITS[unit] for count, unit in parts), timedelta(0))


def format_duration(delta: timedelta) -> str:
    """The inverse of :func:`parse_duration` for display (``1h30m``, ``45s``)."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            out.append(f"{count}{unit}")
    return "".join(out)


def parse_time_of_day(value: Any) -> time:
    """``"18:00"`` -> time(18, 0); ``"24:00"`` is the end of the day (:data:`END_OF_DAY`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 18:00 as the base-60 number 1080.
        raise ValueError(
            f'write times in quotes, like "18:00" (YAML reads an unquoted time as the number '
            f"{value})"
        )
    text = str(value).strip()
    match = _TIME_OF_DAY.fullmatch(text)
    hour, minute = (int(match.group(1)), int(match.group(2))) if match else (99, 99)
    if hour == 24 and minute == 0:
        return END_OF_DAY
    if hour > 23 or minute > 59:
        raise ValueError(f'"{text}" is not a time of day like "18:00"')
    return time(hour, minute)


def since_midnight(value: time) -> timedelta:
    """How far into the day ``value`` is; :data:`END_OF_DAY` is the whole day."""
    if value == END_OF_DAY:
        return timedelta(days=1)
    return timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)
