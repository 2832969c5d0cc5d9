"""The support contract: which hours a plan keeps and which targets a case is held to.

A plan in ``customers.yaml`` may name its own hours (``always``, ``business``: the vendor's
``business_hours``, or a schedule, possibly in the customer's own zone) and targets per
severity; every key it leaves out comes from ``config.yaml``'s ``sla``. When a case opens the
targets that apply are resolved here into a plain snapshot (JSON-ready) that is kept on the
case, so a later edit of either file never moves an open case's clocks.

The plan's *support hours* decide three things: when the critical line is covered (for
``hours: business`` and schedules), whether a case opened "after hours" (response targets are
then multiplied by ``after_hours_multiplier``), and what a ``clock: business`` target counts.
A plan with ``hours: always`` (or ``after_hours``) is covered at any hour, and its support
hours for the multiplier and business clocks are the vendor's ``business_hours``.

Pure: no files, no database, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.domain.business_time import Schedule, add_business, is_open, schedule_from_dict
from oncall.domain.sla import SlaSettings

SEVERITIES = (1, 2, 3, 4)
TARGET_KINDS = ("triage", "first_status", "updates", "resolution")
RESPONSE_KINDS = ("triage", "first_status")  # the ones after_hours_multiplier stretches
CLOCKS = ("wall", "business")
CUSTOMER_ZONE = "customer"


@dataclass(frozen=True)
class TargetSpec:
    """One severity's targets as a plan writes them; None: fall back to ``config.yaml``."""

    triage: timedelta | None = None
    first_status: timedelta | None = None
    updates: timedelta | None = None
    resolution: timedelta | None = None
    clock: str | None = None  # wall | business


@dataclass(frozen=True)
class HoursSpec:
    """A plan's own schedule. ``timezone``: a zone name, ``customer``, or None (config's);
    ``holidays`` None: the vendor's ``business_hours.holidays``."""

    days: tuple[int, ...]
    start: time
    end: time
    timezone: str | None = None
    holidays: tuple[date, ...] | None = None


@dataclass(frozen=True)
class PlanContract:
    """What a plan says about hours and targets (all optional)."""

    hours: str = "always"  # always | business | after_hours | schedule
    schedule: HoursSpec | None = None  # when hours == "schedule"
    targets: dict[int, TargetSpec] = field(default_factory=dict)
    after_hours_multiplier: float | None = None


def support_schedule(
    plan: PlanContract, vendor: Schedule, customer_zone: ZoneInfo | None
) -> Schedule:
    """The plan's support hours for one customer (``customer_zone`` for ``timezone:
    customer``; a customer without one is read in the vendor's zone)."""
    spec = plan.schedule
    if plan.hours != "schedule" or spec is None:
        return vendor
    if spec.timezone == CUSTOMER_ZONE:
        zone = customer_zone or vendor.zone
    elif spec.timezone:
        zone = ZoneInfo(spec.timezone)
    else:
        zone = vendor.zone
    holidays = vendor.holidays if spec.holidays is None else spec.holidays
    return Schedule(spec.days, spec.start, spec.end, zone, holidays)


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def resolve_severity(plan: PlanContract, sla: SlaSettings, severity: int) -> dict[str, Any]:
    """One severity's targets in seconds with the clock; what the plan leaves out comes from
    ``sla``. ``updates_multiplier`` keeps config's old rule for a cadence that comes from
    ``sla.status_every``: it stretches by ``sla.after_hours_multiplier`` when the status is
    posted outside hours. A plan's own ``updates`` never stretches."""
    spec = plan.targets.get(severity) or TargetSpec()
    cadence = sla.status_every.get(severity) or max(sla.status_every.values())
    return {
        "triage": _seconds(spec.triage or sla.triage),
        "first_status": _seconds(spec.first_status or sla.first_status),
        "updates": _seconds(spec.updates or cadence),
        "resolution": _seconds(spec.resolution),
        "clock": spec.clock or "wall",
        "updates_multiplier": 1.0 if spec.updates else sla.after_hours_multiplier,
        "from_plan": sorted(k for k in TARGET_KINDS if getattr(spec, k) is not None),
    }


def contract_snapshot(
    plan_key: str,
    plan: PlanContract,
    sla: SlaSettings,
    support: Schedule,
    severity: int,
    opened_at: datetime,
) -> dict[str, Any]:
    """The targets a case opened at ``opened_at`` is held to, for keeping on the case.

    Every severity's row is kept (an engineer may move an S1 to S2 and the update cadence
    follows), with the severity at opening, the support hours, and whether the case opened
    outside them (then ``triage`` and ``first_status`` of the opening are multiplied).
    """
    after_hours = not is_open(support, opened_at)
    multiplier = (
        plan.after_hours_multiplier
        if plan.after_hours_multiplier is not None
        else sla.after_hours_multiplier
    )
    return {
        "plan": plan_key,
        "severity": severity,
        "schedule": support.to_dict(),
        "after_hours": after_hours,
        "multiplier": multiplier,
        "multiplied": after_hours and multiplier != 1,
        "severities": {f"S{s}": resolve_severity(plan, sla, s) for s in SEVERITIES},
    }


@dataclass(frozen=True)
class OpeningDue:
    """The due times set when a case opens."""

    triage: datetime
    first_status: datetime
    resolution: datetime | None


def severity_row(snapshot: dict[str, Any], severity: int) -> dict[str, Any]:
    rows = snapshot["severities"]
    return rows.get(f"S{severity}") or rows[f"S{snapshot['severity']}"]


def snapshot_schedule(snapshot: dict[str, Any]) -> Schedule:
    return schedule_from_dict(snapshot["schedule"])


def due_after(
    snapshot: dict[str, Any], row: dict[str, Any], start: datetime, seconds: float
) -> datetime:
    """``seconds`` after ``start`` on the row's clock: wall time, or the support hours."""
    delta = timedelta(seconds=seconds)
    schedule = snapshot_schedule(snapshot)
    # Hours with no open day cannot count business time; the target runs on the wall clock
    # rather than never falling due.
    if row["clock"] == "business" and schedule.days:
        return add_business(schedule, start, delta)
    return start + delta


def opening_due(snapshot: dict[str, Any], opened_at: datetime) -> OpeningDue:
    """Triage, first status and resolution due times for the severity the case opened at."""
    row = severity_row(snapshot, snapshot["severity"])
    factor = snapshot["multiplier"] if snapshot["multiplied"] else 1.0
    resolution = row["resolution"]
    return OpeningDue(
        triage=due_after(snapshot, row, opened_at, row["triage"] * factor),
        first_status=due_after(snapshot, row, opened_at, row["first_status"] * factor),
        resolution=None if resolution is None else due_after(snapshot, row, opened_at, resolution),
    )


def reopening_due(snapshot: dict[str, Any], severity: int, reopened_at: datetime) -> OpeningDue:
    """A reopened case's new targets: the contract frozen on it, for its severity now, and
    after hours as the moment of the reopen is (not as the first opening was)."""
    after_hours = not is_open(snapshot_schedule(snapshot), reopened_at)
    return opening_due(
        dict(
            snapshot,
            severity=severity,
            after_hours=after_hours,
            multiplied=after_hours and snapshot["multiplier"] != 1,
        ),
        reopened_at,
    )


def next_update_due(snapshot: dict[str, Any], severity: int, posted_at: datetime) -> datetime:
    """When the next status is owed after one posted at ``posted_at``."""
    row = severity_row(snapshot, severity)
    seconds = row["updates"]
    if row["updates_multiplier"] != 1 and not is_open(snapshot_schedule(snapshot), posted_at):
        seconds *= row["updates_multiplier"]
    return due_after(snapshot, row, posted_at, seconds)
