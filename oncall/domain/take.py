"""``TAKE [level] [until <time> | for <duration>]``: what an engineer asks for when they take a
shift from their phone, as a pure parser, and when the shift they take ends.

:func:`parse_take` reads what follows the verb into a :class:`TakeRequest` (or an error reply);
:func:`take_end` turns the request into an instant, given ``now`` and the team's zone. Neither
knows which levels a team has: the service checks that.

The forms (case-insensitive, extra spaces tolerated)::

    TAKE                              the first level, until the current shift of it ends
    TAKE secondary                    a level by name (support/secondary: of one team)
    TAKE primary for 12h              for a duration: 12h, 90m, 1h30m, 2 hours, 1d, an hour
    TAKE until 9am                    until a wall-clock time in the team's zone: 9am, 09:00,
    TAKE primary until tomorrow 9am   21:30, 9.30pm, noon, midnight; with a day: today,
    TAKE until mon 09:00              tonight, tomorrow, or a weekday (mon ... sunday)

A clock time without a day means its next occurrence after now; with ``tomorrow`` the day after
today; with a weekday the next such day on which the time is still ahead. A time that doesn't
exist that day (the spring-forward gap) means the end of the gap, one that happens twice (the
fall-back hour) its first occurrence: the rules rota files follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from oncall.domain.rota.localtime import require_aware, to_instant

__all__ = [
    "MAX_TAKE",
    "TakeRequest",
    "WallTime",
    "parse_take",
    "parse_take_duration",
    "parse_wall_time",
    "requested_end",
    "wall_time_after",
]

#: The longest a TAKE may last: longer swaps belong in the rota file, where they are reviewed.
MAX_TAKE = timedelta(days=14)

TAKE_USAGE = "e.g. TAKE primary for 12h, TAKE until 9am, TAKE secondary"

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS: dict[str, str] = {
    **{day: day[:3] for day in _WEEKDAYS},
    **{day[:3]: day[:3] for day in _WEEKDAYS},
    "tues": "tue",
    "wednes": "wed",
    "thur": "thu",
    "thurs": "thu",
    "today": "today",
    "tonight": "today",
    "tomorrow": "tomorrow",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
}
_LEVEL_RE = re.compile(r"(?:(?P<team>[a-z0-9][\w.-]*)/)?(?P<level>[a-z0-9][\w.-]*)", re.I)
_UNTIL_WORDS = ("until", "till", "til", "untill")
_CLOCK_RE = re.compile(
    r"(?:(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ap>[ap]\.?m\.?|[ap])?|(?P<named>noon|midnight))$",
    re.I,
)
_DURATION_PART_RE = re.compile(
    r"(?P<n>\d{1,4}(?:[.,]\d{1,2})?)\s*"
    r"(?P<u>w(?:ee)?ks?|weeks?|d(?:ays?)?|h(?:ours?|rs?)?|m(?:in(?:ute)?s?)?)(?![a-z])",
    re.I,
)
_ARTICLE_DURATIONS = {
    "an hour": timedelta(hours=1),
    "a day": timedelta(days=1),
    "a week": timedelta(weeks=1),
    "half an hour": timedelta(minutes=30),
}


@dataclass(frozen=True, slots=True)
class WallTime:
    """A wall-clock time in the team's zone, on an optional day."""

    hour: int
    minute: int
    #: None (the next occurrence), "today", "tomorrow", or a weekday "mon" ... "sun".
    day: str | None = None


@dataclass(frozen=True, slots=True)
class TakeRequest:
    """What a TAKE asks for. No ``level``: the team's first level. Neither ``until`` nor
    ``duration``: until the current shift of the level ends."""

    level: str | None = None
    #: ``support/primary`` names the team too (for someone on several teams' rotas).
    team: str | None = None
    until: WallTime | None = None
    duration: timedelta | None = None


def parse_take(rest: str) -> TakeRequest | str:
    """What follows ``TAKE``: a request, or a short error reply (GSM-7, under 160)."""
    words = rest.strip().strip(".!").split()
    level = team = None
    if words and words[0].lower() not in (*_UNTIL_WORDS, "for"):
        match = _LEVEL_RE.fullmatch(words[0])
        if match is None:
            return f"TAKE needs a level name, {TAKE_USAGE}"
        level, team = match.group("level").lower(), (match.group("team") or "").lower() or None
        words = words[1:]
    if not words:
        return TakeRequest(level, team)
    keyword, phrase = words[0].lower(), " ".join(words[1:]).lower()
    if keyword == "for":
        duration = parse_take_duration(phrase)
        if duration is None:
            return f"TAKE for needs a length like 12h, 90m or 2 hours, {TAKE_USAGE}"
        return TakeRequest(level, team, duration=duration)
    if keyword in _UNTIL_WORDS:
        until = parse_wall_time(phrase)
        if until is None:
            return f"TAKE until needs a time like 9am, 21:30 or tomorrow 09:00, {TAKE_USAGE}"
        return TakeRequest(level, team, until=until)
    return f"Sorry, TAKE [level] [until <time> | for <duration>], {TAKE_USAGE}"


def parse_take_duration(text: str) -> timedelta | None:
    """``12h``, ``90m``, ``1h30m``, ``1h 30m``, ``2 hours``, ``1.5h``, ``1d``, ``an hour``."""
    text = " ".join(text.split()).lower()
    if text in _ARTICLE_DURATIONS:
        return _ARTICLE_DURATIONS[text]
    total, position = timedelta(0), 0
    for match in _DURATION_PART_RE.finditer(text):
        if text[position : match.start()].strip(" ,") not in ("", "and"):
            return None
        amount = float(match.group("n").replace(",", "."))
        unit = match.group("u").lower()
        if unit.startswith("w"):
            total += timedelta(weeks=amount)
        elif unit.startswith("d"):
            total += timedelta(days=amount)
        elif unit.startswith("h"):
            total += timedelta(hours=amount)
        else:
            total += timedelta(minutes=amount)
        position = match.end()
    if position == 0 or text[position:].strip() or total <= timedelta(0):
        return None
    return total


def parse_wall_time(text: str) -> WallTime | None:
    """``9am``, ``09:00``, ``21:30``, ``9.30pm``, ``noon``, with an optional day before or
    after (``tomorrow 9am``, ``mon at 09:00``, ``9am tomorrow``, ``9am on fri``)."""
    words = [w for w in " ".join(text.split()).lower().split(" ") if w not in ("at", "on", "@")]
    day = None
    for index in (0, -1):
        if len(words) > 1 and words[index] in _DAY_WORDS:
            day = _DAY_WORDS[words.pop(index)]
            break
    clock = _CLOCK_RE.match(" ".join(words)) if words else None
    if clock is None:
        return None
    if clock.group("named"):
        return WallTime(12 if clock.group("named") == "noon" else 0, 0, day)
    hour, minute, ampm = int(clock.group("h")), int(clock.group("m") or 0), clock.group("ap")
    if minute > 59:
        return None
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    elif clock.group("m") is None or hour > 23:
        return None  # a bare "9" could be morning or evening: ask for 9am or 21:00
    return WallTime(hour, minute, day)


def requested_end(request: TakeRequest, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The end ``request`` names, as an instant (None: it names none, so the TAKE lasts until
    the current shift of the level ends). Raises ValueError, worded for the engineer, when it
    names a time that is not ahead (``until 9am today`` at 10:00)."""
    require_aware(now)
    if request.duration is not None:
        return now + request.duration
    if request.until is None:
        return None
    end = wall_time_after(request.until, now, zone)
    if end is None:
        raise ValueError("That time has passed today: say until tomorrow 9am, or for 8h.")
    return end


def wall_time_after(wall: WallTime, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant ``wall`` means, strictly after ``now`` (None: ``today`` and already past)."""
    require_aware(now)
    today = now.astimezone(zone).date()
    clock = time(wall.hour, wall.minute)
    if wall.day == "tomorrow":
        candidates = [today + timedelta(days=1)]
    elif wall.day == "today":
        candidates = [today]
    elif wall.day is not None:
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(wall.day)
        first = today + timedelta(days=(weekday - today.weekday()) % 7)
        candidates = [first, first + timedelta(weeks=1)]
    else:
        candidates = [today, today + timedelta(days=1)]
    for day in candidates:
        instant = to_instant(datetime.combine(day, clock), zone)
        if instant > now:
            return instant
    return None
