"""Deadline rows: arming a case's timer once, and cancelling its pending timers.

What a deadline does when it falls due is the engine's business (:mod:`oncall.engine`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall.cases.outbox import mark_work_due
from oncall.db.models import Case, Deadline
from oncall.domain.enums import DeadlineKind, DeadlineState


def schedule(
    session: Session,
    case: Case,
    now: datetime,
    kind: DeadlineKind,
    due_at: datetime,
    seq: int = 0,
    **data: Any,
) -> Deadline | None:
    """Arm a timer once: ``(case, kind, seq)`` is unique, a second call changes nothing."""
    existing = session.scalar(
        select(Deadline).where(
            Deadline.case_id == case.id, Deadline.kind == kind, Deadline.seq == seq
        )
    )
    if existing is not None:
        return None
    deadline = Deadline(
        case_id=case.id,
        kind=kind,
        seq=seq,
        due_at=due_at,
        state=DeadlineState.PENDING,
        data=data,
        created_at=now,
    )
    session.add(deadline)
    if due_at <= now:
        mark_work_due(session)
    return deadline


def cancel_deadlines(
    session: Session, case: Case, now: datetime, kinds: Iterable[DeadlineKind] | None = None
) -> int:
    """Cancel the case's timers still to come (of ``kinds``), the ones suspended while it
    waits for the customer included."""
    query = update(Deadline).where(
        Deadline.case_id == case.id,
        Deadline.state.in_((DeadlineState.PENDING, DeadlineState.SUSPENDED)),
    )
    if kinds is not None:
        query = query.where(Deadline.kind.in_(tuple(kinds)))
    result = session.execute(
        query.values(state=DeadlineState.CANCELLED, done_at=now),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0
