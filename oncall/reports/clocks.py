"""The live SLA clocks the dashboard and the API show for a case (time left to triage, to the
next status), and durations written for people.

Plain arithmetic on the case row, ``now`` and ``sla.warn_before``: the dashboard and the API
show the same clocks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall.db.models import Case
from oncall.domain.sla_clock import SlaClock, sla_clock

__all__ = ["SlaClock", "case_clocks", "format_seconds", "sla_clock"]


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
