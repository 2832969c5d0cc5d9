"""The live SLA clocks the dashboard and the API show for a case (time left to triage, to the
next status), and durations written for people.

Plain arithmetic on the case row, ``now`` and ``sla.warn_before``: the dashboard and the API
show the same clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oncall.db.models import Case


@dataclass(frozen=True)
class SlaClock:
    """One target as the dashboard shows it."""

    due: datetime | None
    seconds_left: float | None  # negative once breached; None when there is no target
    # "ok" | "warn" (inside warn_before) | "breached" | "met" | "none" | "paused" (the case
    # waits for the customer: the time left stands still, the due time moves with the wait)
    level: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "due": self.due.isoformat() if self.due else None,
            "seconds_left": self.seconds_left,
            "level": self.level,
        }


def sla_clock(
    due: datetime | None, now: datetime, warn_before: timedelta, met: bool = False
) -> SlaClock:
    """The clock of one target due at ``due``; ``met`` once the target no longer runs."""
    if met:
        return SlaClock(due, None, "met")
    if due is None:
        return SlaClock(None, None, "none")
    left = (due - now).total_seconds()
    if left <= 0:
        level = "breached"
    elif left <= warn_before.total_seconds():
        level = "warn"
    else:
        level = "ok"
    return SlaClock(due, left, level)


def case_clocks(case: Case, now: datetime, warn_before: timedelta) -> tuple[SlaClock, SlaClock]:
    """(time to triage, time to the next status) for an open case."""
    triage = sla_clock(case.triage_due_at, now, warn_before, met=case.acknowledged_at is not None)
    if case.is_open and case.waiting_since is not None and case.status_due_at is not None:
        waited = max(now - case.waiting_since, timedelta(0))
        left = (case.status_due_at - case.waiting_since).total_seconds()
        return triage, SlaClock(case.status_due_at + waited, left, "paused")
    status = sla_clock(case.status_due_at, now, warn_before, met=not case.is_open)
    return triage, status


def format_seconds(seconds: float | None) -> str:
    """``7m 30s``, ``1h 05m``: durations for people."""
    if seconds is None:
        return "–"
    sign = "-" if seconds < 0 else ""
    total = int(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"
