"""Windows: when a rotation is active, as spans of local wall-clock time repeating every week.

A :class:`Window` is a set of weekly spans, e.g. weekday nights (Mon-Fri 18:00 until 09:00 the
next morning) or one span "Fri 18:00 until Mon 09:00". Window edges follow the same local-time
rules as handoffs (:mod:`oncall.domain.rota.localtime`). A window and a rotation's shifts are
independent: the rotation's member is still ``k % len(members)`` for the shift that contains
the instant.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from oncall.domain.rota.localtime import to_instant
from oncall.domain.timetext import DAY_NAMES, since_midnight

DAY = timedelta(days=1)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Window:
    """When a rotation is active, as spans of local wall-clock time repeating every week.

    ``spans`` holds ``(offset, length)`` pairs: the span starts ``offset`` after Monday 00:00
    local and lasts ``length`` of wall-clock time. Build windows with :func:`daily_window`,
    :func:`weekly_window` and :func:`combine_windows`, which sort and merge the spans so that
    they never overlap or touch (also across the end of the week); a window that would cover
    the whole week is ``None`` (no window).
    """

    spans: tuple[tuple[timedelta, timedelta], ...]

    def describe(self) -> str:
        parts = []
        for offset, length in self.spans:
            parts.append(f"{_week_position(offset)} until {_week_position(offset + length)}")
        return ", ".join(parts)


def _week_position(offset: timedelta) -> str:
    offset = offset % WEEK
    day, rest = divmod(offset, DAY)
    minutes = int(rest.total_seconds() // 60)
    return f"{DAY_NAMES[day]} {minutes // 60:02d}:{minutes % 60:02d}"


def make_window(spans: Iterable[tuple[timedelta, timedelta]]) -> Window | None:
    """Normalise weekly spans (offset from Monday 00:00, length) into a :class:`Window`.

    Returns None when the spans cover the whole week: such a rotation is simply always active.
    """
    intervals = []
    for offset, length in spans:
        if length <= timedelta(0):
            raise ValueError("a window span must be longer than zero")
        if length >= WEEK:
            return None
        start = offset % WEEK
        intervals.append((start, start + length))
    if not intervals:
        raise ValueError("a window needs at least one span")
    intervals.sort()
    merged: list[tuple[timedelta, timedelta]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    # Spans that run past Sunday night continue into next week's first spans: join them, so
    # that instances of the window never touch (a touching pair would be one period, not two).
    while len(merged) > 1 and merged[-1][1] >= merged[0][0] + WEEK:
        first = merged.pop(0)
        merged[-1] = (merged[-1][0], max(merged[-1][1], first[1] + WEEK))
    if any(end - start >= WEEK for start, end in merged):
        return None
    return Window(tuple((start, end - start) for start, end in merged))


def daily_window(days: Iterable[int], start: time, end: time) -> Window | None:
    """Every listed day (0 = Monday) from ``start`` until ``end`` local time.

    ``end`` at or before ``start`` means the next day (``"24:00"``, the end of the day, is
    midnight at the end of each listed day): ``(mon-fri, 18:00, 09:00)`` is weekday
    nights, Friday night running into Saturday 09:00. ``end == start`` is 24 hours. The days are
    the days the span *starts*.
    """
    begin = since_midnight(start)
    length = (since_midnight(end) - begin) % DAY or DAY
    return make_window((day * DAY + begin, length) for day in sorted(set(days)))


def weekly_window(start_day: int, start: time, end_day: int, end: time) -> Window | None:
    """One span a week, e.g. Friday 18:00 until Monday 09:00 (``(4, 18:00, 0, 09:00)``)."""
    begin = start_day * DAY + since_midnight(start)
    length = (end_day * DAY + since_midnight(end) - begin) % WEEK or WEEK
    return make_window([(begin, length)])


def combine_windows(windows: Iterable[Window | None]) -> Window | None:
    """The union of windows (None, "always", absorbs everything)."""
    spans: list[tuple[timedelta, timedelta]] = []
    for window in windows:
        if window is None:
            return None
        spans.extend(window.spans)
    return make_window(spans)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@functools.lru_cache(maxsize=4096)
def _week_instances(
    window: Window, zone: ZoneInfo, monday: date
) -> tuple[tuple[datetime, datetime], ...]:
    """The window's spans in the week starting ``monday``, as instants; empty ones dropped.

    A span can only become empty if it lies wholly inside a spring-forward gap: those local
    times never happen, so neither does the span.
    """
    base = datetime.combine(monday, time())
    out = []
    for offset, length in window.spans:
        start = to_instant(base + offset, zone)
        end = to_instant(base + offset + length, zone)
        if start < end:
            out.append((start, end))
    return tuple(out)


def _instances_around(
    window: Window, zone: ZoneInfo, at: datetime
) -> tuple[tuple[datetime, datetime], ...]:
    return _three_weeks(window, zone, _monday(at.astimezone(zone).date()))


@functools.lru_cache(maxsize=1024)
def _three_weeks(
    window: Window, zone: ZoneInfo, monday: date
) -> tuple[tuple[datetime, datetime], ...]:
    # A span is shorter than a week, so one covering an instant of this week starts this week
    # or last week; next week is included so a continuation across a DST gap can be joined.
    return tuple(
        instance
        for weeks in (-1, 0, 1)
        for instance in _week_instances(window, zone, monday + timedelta(weeks=weeks))
    )


def window_span(window: Window, zone: ZoneInfo, at: datetime) -> tuple[datetime, datetime] | None:
    """The window period containing ``at`` as ``(start, end)`` instants, or None if outside."""
    instances = _instances_around(window, zone, at)
    for index, (start, end) in enumerate(instances):
        if start <= at < end:
            # Spans never touch in wall-clock time, but two can touch as instants when the
            # wall-clock time between them lies inside a DST gap; then they are one period.
            after = index
            while after + 1 < len(instances) and instances[after + 1][0] == end:
                after += 1
                end = instances[after][1]
            before = index
            while before > 0 and instances[before - 1][1] == start:
                before -= 1
                start = instances[before][0]
            return start, end
    return None


def next_window_start(window: Window, zone: ZoneInfo, after: datetime) -> datetime:
    """The first window period starting strictly after ``after``."""
    monday = _monday(after.astimezone(zone).date())
    for weeks in range(-1, 60):  # normally found within two weeks; empty weeks are gap freaks
        for start, _end in _week_instances(window, zone, monday + timedelta(weeks=weeks)):
            if start > after:
                return start
    raise ValueError("window never opens")  # pragma: no cover - every span is non-empty


def last_window_end(window: Window, zone: ZoneInfo, at: datetime) -> datetime | None:
    """The end of the last window period that ended at or before ``at``."""
    monday = _monday(at.astimezone(zone).date())
    for weeks in range(0, -60, -1):
        for _start, end in reversed(_week_instances(window, zone, monday + timedelta(weeks=weeks))):
            if end <= at:
                return end
    return None  # pragma: no cover


def clear_caches() -> None:
    """Forget memoised window instances (benchmarks measure the cold path with it)."""
    for cached in (_week_instances, _three_weeks):
        cached.cache_clear()
