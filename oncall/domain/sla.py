"""SLA targets as plain arithmetic over settings and instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SlaSettings:
    triage: timedelta
    first_status: timedelta
    status_every: dict[int, timedelta]  # severity -> cadence after the first status
    warn_before: timedelta
    after_hours_multiplier: float


@dataclass(frozen=True)
class Targets:
    triage_due: datetime
    first_status_due: datetime


def multiplier(sla: SlaSettings, after_hours: bool) -> float:
    return sla.after_hours_multiplier if after_hours else 1.0


def scaled(delta: timedelta, sla: SlaSettings, after_hours: bool) -> timedelta:
    return delta * multiplier(sla, after_hours)


def targets(opened_at: datetime, sla: SlaSettings, after_hours: bool) -> Targets:
    """Triage is due ``sla.triage`` after opening; the first status ``sla.first_status``."""
    return Targets(
        triage_due=opened_at + scaled(sla.triage, sla, after_hours),
        first_status_due=opened_at + scaled(sla.first_status, sla, after_hours),
    )


def next_status_due(
    last_status_at: datetime, severity: int, sla: SlaSettings, after_hours: bool
) -> datetime:
    cadence = sla.status_every.get(severity) or max(sla.status_every.values())
    return last_status_at + scaled(cadence, sla, after_hours)


def warn_at(due: datetime, sla: SlaSettings, now: datetime) -> datetime:
    """When to remind: ``warn_before`` the deadline, but never in the past."""
    return max(due - sla.warn_before, now)
