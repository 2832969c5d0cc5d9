"""Months as the reports count them: ``YYYY-MM``, a calendar month in the service's time zone
(``settings.timezone``), so a case opened at 22:00 on 30 November in Toronto is a November case
even though it is already December in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from oncall.domain.timetext import check_year

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(month: str) -> tuple[int, int]:
    """``(year, month)`` of ``2026-11``; a ValueError saying the expected form otherwise (also
    for years outside 1900-9998: ``0000-01`` or ``9999-12`` would overflow the month's bounds)."""
    match = MONTH_PATTERN.match(month or "")
    if not match:
        raise ValueError(f"{month!r} is not a month like 2026-11")
    check_year(int(match.group(1)), month)
    return int(match.group(1)), int(match.group(2))


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of a calendar month in ``zone``, as UTC instants."""
    year, number = parse_month(month)
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_of(at: datetime, zone: ZoneInfo) -> str:
    """The month ``at`` falls in, in ``zone``."""
    return at.astimezone(zone).strftime("%Y-%m")
