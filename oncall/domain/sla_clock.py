"""One SLA target's clock (time left, and whether it is inside ``warn_before``, breached or
met): pure arithmetic on a due time and ``now``. The dashboard and the API show it
(:mod:`oncall.reports.clocks`), and a customer's escalation tells the duty manager the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


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
