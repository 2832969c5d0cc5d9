"""A case waiting for its customer (``WAIT``): the status clocks stop while the vendor waits
for an answer, and start again with the time they had left.

Pausing suspends the case's pending status timers (:data:`~oncall.domain.enums.STATUS_KINDS`:
the tick claims only pending rows, so nothing fires); resuming makes them pending again, each
due later by exactly the time waited, and adds that time to ``cases.paused_seconds`` (the
contract statement subtracts it from the case's times). Both work inside a transaction the
caller owns, on a case it has locked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.outbox import mark_work_due
from oncall.db.models import Case, Deadline
from oncall.domain.enums import STATUS_KINDS, CaseState, DeadlineState


def pause_clocks(session: Session, case: Case, now: datetime) -> int:
    """The case waits for the customer from ``now``; returns how many timers were suspended.
    A case already waiting keeps its first ``waiting_since``."""
    if case.waiting_since is None:
        case.waiting_since = now
    case.state = CaseState.WAITING_CUSTOMER.value
    rows = session.scalars(
        select(Deadline).where(
            Deadline.case_id == case.id,
            Deadline.kind.in_(STATUS_KINDS),
            Deadline.state == DeadlineState.PENDING,
        )
    ).all()
    for row in rows:
        row.state = DeadlineState.SUSPENDED
    return len(rows)


def end_wait(case: Case, now: datetime) -> timedelta:
    """Count the wait in progress into ``paused_seconds`` and end it (the timers are the
    caller's business); the time waited, zero when the case was not waiting."""
    if case.waiting_since is None:
        return timedelta(0)
    waited = max(now - case.waiting_since, timedelta(0))
    # Whole seconds, rounded down the same way for the timers and the total, so the status
    # target moves by exactly what paused_seconds records.
    waited = timedelta(seconds=int(waited.total_seconds()))
    case.paused_seconds = (case.paused_seconds or 0) + int(waited.total_seconds())
    case.waiting_since = None
    return waited


def resume_clocks(session: Session, case: Case, now: datetime, why: str, actor: str) -> timedelta:
    """The wait is over (the customer answered, or the engineer posted a STATUS): the status
    timers run again with the time they had left. Returns the time waited."""
    if case.state != CaseState.WAITING_CUSTOMER.value:
        return timedelta(0)
    since = case.waiting_since or now
    waited = end_wait(case, now)
    rows = session.scalars(
        select(Deadline).where(
            Deadline.case_id == case.id,
            Deadline.kind.in_(STATUS_KINDS),
            Deadline.state == DeadlineState.SUSPENDED,
        )
    ).all()
    for row in rows:
        row.due_at = row.due_at + waited
        row.state = DeadlineState.PENDING
        if row.due_at <= now:
            mark_work_due(session)
    if case.status_due_at is not None:
        case.status_due_at = case.status_due_at + waited
    case.state = (
        CaseState.ACKNOWLEDGED.value if case.acknowledged_at is not None else CaseState.OPEN.value
    )
    minutes = int(waited.total_seconds() // 60)
    add_event(
        session,
        case,
        now,
        "wait_ended",
        f"No longer waiting for the customer ({why}): waited {minutes} min; the status "
        f"clocks run again ({case.paused_seconds // 60} min paused in all)",
        actor=actor,
        waited_seconds=int(waited.total_seconds()),
        since=since.isoformat(),
        paused_seconds=case.paused_seconds,
    )
    return waited
