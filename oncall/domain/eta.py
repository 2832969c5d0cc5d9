"""ETAs in the engineers' status texts, as a pure parser.

:func:`find_eta_phrase` finds the first ETA phrase that parses (``ETA 2h``, ``ETA 03:30``,
``ETA tomorrow 9am``); :func:`parse_eta` turns it into an instant, given ``now`` and the zone
the engineer's wall-clock times are in. Neither raises on any text (``parse_eta`` does refuse
a naive ``now``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

__all__ = ["find_eta_phrase", "parse_eta"]

# The forms an ETA may take after its keyword; find_eta_phrase's docstring lists them.
_NUM = r"\d{1,3}(?:[.,]\d{1,2})?"
_UNIT = r"(?:d(?:ays?)?|h(?:ours?|rs?)?|m(?:in(?:ute)?s?|ins?)?)(?![^\W\d_])"
_COMPONENT = rf"{_NUM}\s*{_UNIT}"
_DAY = (
    r"(?:tomorrow|tomorow|tommorow|tommorrow|tmrw|tmr|tmw|2morrow|2moro"
    r"|today|tonight|this\s+(?:morning|afternoon|evening))"
)
_CLOCK = (
    r"(?:(?P<h>\d{1,2})(?:[:.](?P<mi>\d{2}))?\s*(?P<ap>[ap]\.?m\b\.?|[ap](?![^\W\d_]))?"
    r"|(?P<named>noon|midday|midnight))"
    r"(?P<utc>\s*(?:utc|gmt)\b|z\b)?"
)
_FILLER = (
    r"(?:\s*(?:[:=~≈<@]|-(?!\d)|\b(?:is|in|at|by|of|approx(?:imately)?\.?|about|around|abt"
    r"|roughly|under|within|another|maybe|probably|now|est(?:imated)?|apx|appx)\b))*\s*"
)
_ETA_RE = re.compile(
    rf"\b(?:ETA|ETR|E\.T\.A)\b\.?{_FILLER}"
    r"(?:"
    rf"(?P<hm_h>\d{{1,2}})\s*h(?P<hm_m>[0-5]\d)(?![\w:])"  # 1h30
    rf"|(?P<lo>{_NUM})\s*(?:-|–|to)\s*(?P<hi>{_NUM})\s*(?P<range_unit>{_UNIT})"  # 2-3h
    rf"|(?P<dur>{_COMPONENT}(?:\s*(?:,\s*|and\s+)?{_COMPONENT})*)"  # 1h 30m, 90 min
    r"|(?P<half>half\s+an?\s+hour)|(?P<hour>(?:an?|one)\s+hour)(?![^\W\d_])"
    rf"|(?P<day1>{_DAY})\s+(?:at\s+|@\s*)?{_CLOCK.replace('?P<', '?P<a_')}"
    rf"|{_CLOCK.replace('?P<', '?P<b_')}(?:\s+(?:on\s+)?(?P<day2>{_DAY}))?"
    r")(?![\w:])",
    re.IGNORECASE,
)
_COMPONENT_RE = re.compile(rf"(?P<n>{_NUM})\s*(?P<u>{_UNIT})", re.IGNORECASE)
_MAX_ETA = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class _Clock:
    hour: int
    minute: int
    tomorrow: bool
    utc: bool


def _number(text: str) -> float:
    return float(unicodedata.normalize("NFKC", text).replace(",", "."))


def _unit_delta(amount: float, unit: str) -> timedelta:
    unit = unit.lower()
    if unit.startswith("d"):
        return timedelta(days=amount)
    if unit.startswith("h"):
        return timedelta(hours=amount)
    return timedelta(minutes=amount)


def _clock(match: re.Match[str], prefix: str, day: str | None) -> _Clock | None:
    named = match.group(f"{prefix}named")
    utc = bool(match.group(f"{prefix}utc"))
    tomorrow = day is not None and not day.lower().startswith(("today", "tonight", "this"))
    if named:
        hour = 12 if named.lower() in ("noon", "midday") else 0
        return _Clock(hour, 0, tomorrow, utc)
    hour_text, minute_text, ampm = (
        match.group(f"{prefix}h"),
        match.group(f"{prefix}mi"),
        match.group(f"{prefix}ap"),
    )
    if minute_text is None and ampm is None:
        return None  # a bare "3" is not a time
    hour, minute = int(hour_text), int(minute_text or 0)
    if minute > 59:
        return None
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.lower().startswith("p") else 0)
    elif hour > 23:
        return None
    return _Clock(hour, minute, tomorrow, utc)


def _interpret(match: re.Match[str]) -> timedelta | _Clock | None:
    if match.group("hm_h") is not None:
        delta = timedelta(hours=int(match.group("hm_h")), minutes=int(match.group("hm_m")))
    elif match.group("hi") is not None:  # a range: the honest answer is its upper end
        delta = _unit_delta(_number(match.group("hi")), match.group("range_unit"))
    elif match.group("dur") is not None:
        delta = timedelta()
        for part in _COMPONENT_RE.finditer(match.group("dur")):
            delta += _unit_delta(_number(part.group("n")), part.group("u"))
    elif match.group("half") is not None:
        delta = timedelta(minutes=30)
    elif match.group("hour") is not None:
        delta = timedelta(hours=1)
    elif match.group("day1") is not None:
        return _clock(match, "a_", match.group("day1"))
    else:
        return _clock(match, "b_", match.group("day2"))
    return delta if delta <= _MAX_ETA else None


def _find(text: str) -> tuple[str, timedelta | _Clock] | None:
    for match in _ETA_RE.finditer(text):
        value = _interpret(match)
        if value is not None:
            return match.group(0).strip(), value
    return None


def find_eta_phrase(text: str) -> str | None:
    """The first ETA phrase in ``text`` that parses, as written (e.g. ``"ETA 1h30m"``), or None.

    The keyword is ``ETA`` (or ``ETR``, ``E.T.A.``), any case, optionally followed by fillers
    such as ``:``, ``~``, ``is``, ``in``, ``at``, ``by``, ``about``, ``approx``. Then one of:

    * a duration: ``2h``, ``45m``, ``1h30m``, ``1h 30m``, ``1h30``, ``90 min``, ``2 hours``,
      ``1.5h``, ``1 hour 30 minutes``, ``2d``, ``half an hour``, ``an hour``; a range
      ``2-3h`` / ``2 to 3 hours`` counts as its upper end; at most 30 days;
    * a clock time: ``03:30``, ``3:30am``, ``3pm``, ``3.30pm``, ``noon``, ``midnight``,
      optionally followed by ``UTC``/``GMT``/``Z``;
    * a clock time with a day: ``15:00 tomorrow``, ``tomorrow 09:00``, ``tomorrow at 9am``
      (also ``tmrw``, ``tmr``); ``today``/``tonight`` are accepted and change nothing.
    """
    found = _find(text)
    return found[0] if found else None


def parse_eta(text: str, now: datetime, zone: ZoneInfo | tzinfo) -> datetime | None:
    """The ETA in ``text`` as an aware UTC datetime, or None if there is none that parses.

    Durations count from ``now``. Clock times are wall-clock times in ``zone`` (in UTC when
    written with ``UTC``/``GMT``/``Z``) and mean their next occurrence strictly after ``now``:
    within 24 hours (25 across a daylight-saving change). With ``tomorrow`` they mean that time on
    the calendar day after ``now``'s date in ``zone`` (so within 48 hours, 49 across a change).
    Ambiguous wall times (the repeated hour in autumn) take the earlier instant that is still
    ahead; times that do not exist (skipped in spring) are read with the offset before the
    change. ``now`` must be timezone-aware.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("parse_eta needs a timezone-aware now")
    found = _find(text)
    if found is None:
        return None
    value = found[1]
    now = now.astimezone(UTC)
    try:
        if isinstance(value, timedelta):
            return now + value
        return _next_clock(value, now, UTC if value.utc else zone)
    except (OverflowError, ValueError):
        return None


def _next_clock(clock: _Clock, now: datetime, zone: tzinfo) -> datetime | None:
    today = now.astimezone(zone).date()
    days = (today + timedelta(days=1),) if clock.tomorrow else (today, today + timedelta(days=1))
    for day in days:
        ahead = [t for t in _instants(day, clock, zone) if t > now]
        if ahead:
            return min(ahead)
    return None


def _instants(day: date, clock: _Clock, zone: tzinfo) -> list[datetime]:
    """The UTC instants at which the wall clock in ``zone`` shows the time on ``day``."""
    wall = time(clock.hour, clock.minute)
    found = []
    for fold in (0, 1):
        local = datetime.combine(day, wall, tzinfo=zone).replace(fold=fold)
        instant = local.astimezone(UTC)
        back = instant.astimezone(zone)
        if (back.date(), back.time()) == (day, wall):
            found.append(instant)
    if not found:  # skipped by a daylight-saving change: read with the earlier offset
        found.append(datetime.combine(day, wall, tzinfo=zone).astimezone(UTC))
    return found
