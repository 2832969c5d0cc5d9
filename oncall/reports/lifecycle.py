"""The time a case waited for the customer and the state of a fee, read in one place for the
reports (the SLA report, the contract statement, the billing export)."""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall.db.models import Case, MisuseFlag


def paused_time(case: Case, now: datetime) -> float:
    """Seconds ``case`` waited for the customer (WAIT), a wait still in progress counted up to
    ``now``: the clocks the customer holds are not the team's."""
    paused = float(case.paused_seconds or 0)
    if case.waiting_since is not None and case.waiting_since < now:
        paused += (now - case.waiting_since).total_seconds()
    return paused


def paused_delta(case: Case, now: datetime) -> timedelta:
    return timedelta(seconds=paused_time(case, now))


def fee_state(flag: MisuseFlag) -> str:
    """``flagged``, ``disputed``, ``confirmed`` or ``waived`` (rows from before fee states read
    as ``waived_at`` says)."""
    return flag.state or ("waived" if flag.waived_at else "flagged")
