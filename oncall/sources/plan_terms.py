"""The contract keys of ``customers.yaml``: a plan's ``hours``, ``targets`` and
``after_hours_multiplier``, and a customer's ``timezone``.

Every key is optional (what a plan leaves out comes from ``config.yaml``'s ``sla``); every
problem is reported with its file, line and a did-you-mean like the rest of the file, so a bad
edit is refused as a whole and the last good version stays live.
"""

from __future__ import annotations

import difflib
from datetime import date
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from oncall.config.yamlsource import Node
from oncall.domain.contract import (
    CLOCKS,
    CUSTOMER_ZONE,
    SEVERITIES,
    TARGET_KINDS,
    HoursSpec,
    PlanContract,
    TargetSpec,
)
from oncall.domain.timetext import DAY_NAMES, END_OF_DAY, parse_time_of_day

PLAN_HOURS = ["always", "business", "after_hours"]
SCHEDULE_KEYS = {"days", "start", "end", "timezone", "holidays"}
# design.md spells the wall clock "calendar"; both are read as the wall clock.
CLOCK_SPELLINGS = {"wall": "wall", "calendar": "wall", "business": "business"}
WEEKDAYS = (0, 1, 2, 3, 4)


def _hint(word: str, options: list[str] | tuple[str, ...] | set[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def read_zone(node: Node, allow_customer: bool = False) -> str | None:
    """A time zone name (``America/Vancouver``); ``customer`` too where ``allow_customer``."""
    text = node.string()
    if text is None:
        return None
    if allow_customer and text == CUSTOMER_ZONE:
        return text
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        extra = f" or {CUSTOMER_ZONE!r}" if allow_customer else ""
        options = set(_zone_names()) | ({CUSTOMER_ZONE} if allow_customer else set())
        node.error(
            f"{text!r} is not a time zone like 'America/Toronto'{extra}{_hint(text, options)}"
        )
        return None
    return text


def read_plan_contract(node: Node) -> PlanContract:
    """The contract keys of one plan (the node is the plan's mapping)."""
    hours, schedule = _hours(node.child("hours"))
    multiplier_node = node.child("after_hours_multiplier")
    multiplier = None
    if multiplier_node.present():
        value = multiplier_node.number(1.0)
        if value < 1:
            multiplier_node.error("must be 1 or more (targets never shrink)")
        else:
            multiplier = value
    return PlanContract(hours, schedule, _targets(node.child("targets")), multiplier)


def _hours(node: Node) -> tuple[str, HoursSpec | None]:
    if not node.present():
        return "always", None
    if isinstance(node.value, dict):
        return "schedule", _schedule(node)
    text = node.string("always") or "always"
    if text not in PLAN_HOURS:
        # The message stays as it was before schedules; the README shows the schedule form.
        node.error(f"{text!r} is not one of: {', '.join(PLAN_HOURS)}{_hint(text, PLAN_HOURS)}")
        return "always", None
    return text, None


def _schedule(node: Node) -> HoursSpec | None:
    node.check_keys(SCHEDULE_KEYS, required={"start", "end"})
    days = _days(node.child("days"))
    start = node.child("start").validate(parse_time_of_day)
    end = node.child("end").validate(parse_time_of_day)
    if start is not None and end is not None and start >= end:
        node.child("end").error("the hours must end after they start")
    holidays_node = node.child("holidays")
    holidays: tuple[date, ...] | None = None
    if holidays_node.present() and holidays_node.is_list("a list of dates like 2026-12-25"):
        holidays = tuple(d for d in map(_date, holidays_node.elements()) if d is not None)
    zone = read_zone(node.child("timezone"), allow_customer=True)
    if start is None or end is None or start >= end or start == END_OF_DAY:
        return None  # reported above: the file is refused
    return HoursSpec(days, start, end, zone, holidays)


def _days(node: Node) -> tuple[int, ...]:
    if not node.present():
        return WEEKDAYS
    if not node.is_list("a list of days like [mon, tue, wed, thu, fri]"):
        return WEEKDAYS
    days: list[int] = []
    for element in node.elements():
        name = (element.string("") or "").strip().lower()[:3]
        if name not in DAY_NAMES:
            element.error(f"{element.value!r} is not a day (mon … sun)")
        elif DAY_NAMES.index(name) not in days:
            days.append(DAY_NAMES.index(name))
    if not days:
        node.error("a schedule needs at least one day")
        return WEEKDAYS
    return tuple(sorted(days))


def _date(node: Node) -> date | None:
    value: Any = node.value
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        node.error(f'"{value}" is not a date like 2026-12-25')
        return None


def _targets(node: Node) -> dict[int, TargetSpec]:
    targets: dict[int, TargetSpec] = {}
    if not node.present() or not node.is_mapping("a mapping of severities (S1 … S4)"):
        return targets
    node.check_keys({f"S{s}" for s in SEVERITIES})
    for severity in SEVERITIES:
        child = node.child(f"S{severity}")
        if not child.present() or not child.is_mapping(f"the S{severity} targets"):
            continue
        child.check_keys({*TARGET_KINDS, "clock"})
        durations = {kind: child.child(kind).duration(None, positive=True) for kind in TARGET_KINDS}
        targets[severity] = TargetSpec(**durations, clock=_clock(child.child("clock")))
    return targets


def _clock(node: Node) -> str | None:
    text = node.string()
    if text is None:
        return None
    if text not in CLOCK_SPELLINGS:
        node.error(f"{text!r} is not one of: {', '.join(CLOCKS)}{_hint(text, CLOCK_SPELLINGS)}")
        return None
    return CLOCK_SPELLINGS[text]
