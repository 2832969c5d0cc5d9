"""Who may use the critical line, and when: pure functions over plans and hours (which
severities may use it is :mod:`oncall.domain.severity`'s)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class BusinessHours:
    days: tuple[int, ...]  # 0 = Monday, as datetime.weekday()
    start: time
    end: time
    holidays: tuple[date, ...]


@dataclass(frozen=True)
class Entitlement:
    entitled: bool
    reason: str  # why not, in words a customer can be told; "" when entitled


def is_business_hours(hours: BusinessHours, at: datetime, zone: ZoneInfo) -> bool:
    local = at.astimezone(zone)
    if local.date() in hours.holidays or local.weekday() not in hours.days:
        return False
    return hours.start <= local.time() < hours.end


def entitlement(
    critical_line: bool, plan_hours: str, hours: BusinessHours, at: datetime, zone: ZoneInfo
) -> Entitlement:
    """Whether a plan covers the critical line at ``at``.

    ``plan_hours`` is ``always``, ``business`` (covered only inside business hours) or
    ``after_hours`` (covered only outside them: the regular queue serves business hours).
    """
    if not critical_line:
        return Entitlement(False, "your support plan does not include the critical line")
    inside = is_business_hours(hours, at, zone)
    if plan_hours == "business" and not inside:
        return Entitlement(False, "your support plan covers the critical line in business hours")
    if plan_hours == "after_hours" and inside:
        return Entitlement(False, "during business hours please use the regular support line")
    return Entitlement(True, "")
