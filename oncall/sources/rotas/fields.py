"""The small parsers and checks every section of a rota file shares: names, local date-times,
days of the week, weekly times (``fri 18:00``), and DST notes on local times.

Times of day and durations are read by :mod:`oncall.domain.timetext`, phone numbers by
:mod:`oncall.domain.phones`, like in every other file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from oncall.config.yamlsource import Node
from oncall.domain.rota.localtime import format_local, to_instant
from oncall.domain.rota.model import Member
from oncall.domain.timetext import DAY_NAMES, parse_time_of_day

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LOCAL_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{1,2}:\d{2}(?::\d{2})?))?$")
_DAY_WORDS = {
    **{name: (index,) for index, name in enumerate(DAY_NAMES)},
    **{
        full: (index,)
        for index, full in enumerate(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        )
    },
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "weekend": (5, 6),
    "daily": tuple(range(7)),
}


@dataclass
class Names:
    """Names declared in the file (even ones with errors), so one mistake isn't reported twice."""

    members: dict[str, Member] = field(default_factory=dict)
    member_keys: set[str] = field(default_factory=set)
    rotations: dict[str, str] = field(default_factory=dict)  # rotation -> level
    levels: dict[str, list[str]] = field(default_factory=dict)  # level -> rotations

    def schedules(self) -> set[str]:
        return set(self.rotations) | set(self.levels)


def check_name(node: Node, name: str, what: str) -> bool:
    if NAME.match(name):
        return True
    node.error(f"{what} {name!r} may only use letters, digits, '-', '_' and '.'")
    return False


def parse_local_datetime(value: object) -> datetime:
    """``2026-11-02T09:00`` (or ``2026-11-02 09:00[:00]``, or a date for midnight) as a naive
    local datetime. An offset is refused: times in rota files are local to the team's zone."""
    text = str(value).strip()
    match = _LOCAL_DATETIME.match(text)
    if match is None:
        if re.match(r"^\d{4}-\d{2}-\d{2}[T ][\d:.]+(Z|[+-]\d{2}:?\d{2})$", text):
            raise ValueError(
                f'"{text}" has a UTC offset; write the local time in the team\'s time zone, '
                "like 2026-11-02T09:00"
            )
        raise ValueError(f'"{text}" is not a local date and time like 2026-11-02T09:00')
    try:
        day = date.fromisoformat(match.group(1))
        clock = time.fromisoformat(match.group(2).zfill(5)) if match.group(2) else time()
    except ValueError:
        raise ValueError(f'"{text}" is not a valid date and time') from None
    return datetime.combine(day, clock)


def parse_days(value: object) -> tuple[int, ...]:
    """``[mon, tue]``, ``mon-fri``, ``[mon-wed, sat]``, ``weekdays``, ``weekends``."""
    items = value if isinstance(value, list) else [value]
    days: list[int] = []
    for item in items:
        text = str(item).strip().lower()
        if "-" in text:
            first, _, last = (part.strip() for part in text.partition("-"))
            if first[:3] not in DAY_NAMES or last[:3] not in DAY_NAMES:
                raise ValueError(f'"{item}" is not a day range like mon-fri')
            begin, end = DAY_NAMES.index(first[:3]), DAY_NAMES.index(last[:3])
            days.extend((begin + offset) % 7 for offset in range((end - begin) % 7 + 1))
        elif text in _DAY_WORDS:
            days.extend(_DAY_WORDS[text])
        else:
            raise ValueError(f'"{item}" is not a day: use {", ".join(DAY_NAMES)} or mon-fri')
    return tuple(sorted(set(days)))


def is_week_time(value: object) -> bool:
    return isinstance(value, str) and value.strip()[:3].lower() in DAY_NAMES


def parse_week_time(value: object) -> tuple[int, time]:
    """``fri 18:00`` -> (4, 18:00); ``sun 24:00`` is the end of Sunday."""
    day, _, clock = str(value).strip().lower().partition(" ")
    if day[:3] not in DAY_NAMES or not clock.strip():
        raise ValueError(f'"{value}" is not a day and time like "fri 18:00"')
    return DAY_NAMES.index(day[:3]), parse_time_of_day(clock.strip())


def did_you_mean(word: str, options: Iterable[str]) -> str:
    hints = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {hints[0]!r}?)" if hints else ""


def local_time_notes(node: Node, local: datetime, zone: ZoneInfo) -> None:
    """Warn about a local time that falls into a DST change, and say what it will mean."""
    instant = to_instant(local, zone)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        node.warning(
            f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it); "
            f"it means {format_local(instant, zone)}, when the clocks jump"
        )
    elif local.replace(tzinfo=zone, fold=1).utcoffset() != local.replace(tzinfo=zone).utcoffset():
        node.warning(
            f"{local:%Y-%m-%d %H:%M} happens twice in {zone.key} (the clocks go back); "
            "the first time is meant"
        )
