"""Who may use the critical line, and when: pure functions over plans and hours (which
severities may use it is :mod:`oncall.domain.severity`'s)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from oncall.domain.business_time import Schedule, is_open


@dataclass(frozen=True)
class BusinessHours:
    days: tuple[int, ...]  # 0 = Monday, as datetime.weekday()
    start: time
    end: time
    holidays: tuple[date, ...]

    def schedule(self, zone: ZoneInfo) -> Schedule:
        """These hours in ``zone``, for business-time arithmetic."""
        return Schedule(self.days, self.start, self.end, zone, self.holidays)


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
    """Whether a plan covers the critical line at ``at`` with the vendor's business hours as
    its support hours (see :func:`plan_entitlement`)."""
    return plan_entitlement(critical_line, plan_hours, hours.schedule(zone), at)


def plan_entitlement(
    critical_line: bool, plan_hours: str, support: Schedule, at: datetime
) -> Entitlement:
    """Whether a plan covers the critical line at ``at``, given its support hours (the
    vendor's business hours, or the plan's own schedule, possibly in the customer's zone).

    ``plan_hours`` is ``always`` (any hour), ``business`` or ``schedule`` (covered only inside
    the support hours) or ``after_hours`` (covered only outside them: the regular queue serves
    business hours).
    """
    if not critical_line:
        return Entitlement(False, "your support plan does not include the critical line")
    if plan_hours == "always":
        return Entitlement(True, "")
    inside = is_open(support, at)
    if plan_hours in ("business", "schedule") and not inside:
        return Entitlement(False, "your support plan covers the critical line in business hours")
    if plan_hours == "after_hours" and inside:
        return Entitlement(False, "during business hours please use the regular support line")
    return Entitlement(True, "")
