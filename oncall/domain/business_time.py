"""Business-time arithmetic: durations counted only inside a schedule's open hours.

A support contract says "S2: response within 4 business hours": a 2 h target opened Friday
16:30 with Mon-Fri 09:00-17:00 hours falls due Monday 10:30 (30 minutes on Friday, 90 on
Monday), and a holiday is skipped like a weekend day. The open periods are the schedule's days
at its local ``start``-``end`` in its zone; every instant is converted to UTC before any
arithmetic, so a day on which the clocks change is exact (aware datetimes in one zone subtract
as wall clocks, which would be an hour off across a DST change).

Pure: instants in, instants out, nothing read from a clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from oncall.domain.timetext import DAY_NAMES, END_OF_DAY

# A schedule whose open days are all holidays would make the search below run forever; no
# real contract has a year without a working day, so past this the schedule is refused.
SEARCH_DAYS = 366 * 2


@dataclass(frozen=True)
class Schedule:
    """Open hours: ``days`` (0 = Monday) from ``start`` to ``end`` local time in ``zone``,
    except on ``holidays`` (local dates). ``end`` may be :data:`END_OF_DAY` (``"24:00"``)."""

    days: tuple[int, ...]
    start: time
    end: time
    zone: ZoneInfo
    holidays: tuple[date, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The JSON form kept in a case's targets snapshot (see :func:`schedule_from_dict`)."""
        return {
            "days": [DAY_NAMES[d] for d in self.days],
            "start": self.start.strftime("%H:%M"),
            "end": "24:00" if self.end == END_OF_DAY else self.end.strftime("%H:%M"),
            "timezone": self.zone.key,
            "holidays": [h.isoformat() for h in self.holidays],
        }

    def describe(self) -> str:
        """``Mon-Fri 09:00-17:00 America/Toronto`` for reports and pages."""
        if not self.days:
            return "no open hours"
        names = [DAY_NAMES[d].capitalize() for d in self.days]
        contiguous = list(self.days) == list(range(self.days[0], self.days[-1] + 1))
        days = f"{names[0]}-{names[-1]}" if len(names) > 2 and contiguous else ",".join(names)
        data = self.to_dict()
        return f"{days} {data['start']}-{data['end']} {self.zone.key}"


def schedule_from_dict(data: dict[str, object]) -> Schedule:
    """The inverse of :meth:`Schedule.to_dict`."""
    end_text = str(data["end"])
    return Schedule(
        days=tuple(DAY_NAMES.index(str(d)) for d in data["days"]),  # type: ignore[union-attr]
        start=time.fromisoformat(str(data["start"])),
        end=END_OF_DAY if end_text == "24:00" else time.fromisoformat(end_text),
        zone=ZoneInfo(str(data["timezone"])),
        holidays=tuple(date.fromisoformat(str(h)) for h in data.get("holidays") or ()),  # type: ignore[union-attr]
    )


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``moment`` on ``day``; END_OF_DAY is the next midnight.

    A local time that does not exist (inside a spring-forward gap) is read with the offset in
    force before the gap, which lands just after it: a schedule starting at 02:30 opens at
    03:30 on the day the clocks go forward.
    """
    if moment == END_OF_DAY:
        local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    else:
        local = datetime.combine(day, moment, tzinfo=zone)
    return local.astimezone(UTC)


def periods(schedule: Schedule, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open periods ``(start, end)`` in UTC, in order, from the one containing or
    following ``since``; periods already over at ``since`` are skipped."""
    if not schedule.days:
        raise ValueError("a schedule needs at least one open day")
    day = since.astimezone(schedule.zone).date() - timedelta(days=1)
    empty_days = 0
    while empty_days <= SEARCH_DAYS:
        if day.weekday() in schedule.days and day not in schedule.holidays:
            start, end = (
                _at(day, schedule.start, schedule.zone),
                _at(day, schedule.end, schedule.zone),
            )
            if end > since and end > start:
                empty_days = 0
                yield start, end
        empty_days += 1
        day += timedelta(days=1)
    raise ValueError(f"no open hours within {SEARCH_DAYS} days of {since:%Y-%m-%d}")


def is_open(schedule: Schedule, at: datetime) -> bool:
    """Whether ``at`` is inside the open hours (a period's start is inside, its end is not).
    A schedule with no open day is never open (``business_hours.days: []`` is allowed)."""
    if not schedule.days:
        return False
    start, end = next(periods(schedule, at))
    return start <= at < end


def add_business(schedule: Schedule, at: datetime, duration: timedelta) -> datetime:
    """The instant when ``duration`` of open time has passed since ``at`` (UTC).

    Time before the next opening does not count. A duration that ends exactly when a period
    closes falls due at that close (17:00 Friday, not 09:00 Monday).
    """
    if duration < timedelta(0):
        raise ValueError("a business-time duration cannot be negative")
    at = at.astimezone(UTC)
    remaining = duration
    for start, end in periods(schedule, at):
        begin = max(start, at)
        available = end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("periods() ends only by raising")  # pragma: no cover


def business_between(schedule: Schedule, since: datetime, until: datetime) -> timedelta:
    """How much open time lies between two instants (zero when ``until`` is not later)."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    total = timedelta(0)
    if until <= since:
        return total
    for start, end in periods(schedule, since):
        if start >= until:
            break
        total += min(end, until) - max(start, since)
    return total
