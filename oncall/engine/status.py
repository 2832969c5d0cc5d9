"""The status target: while a case is open the customer is owed a status with an ETA, first
``first_status`` after opening, then every ``updates`` (by severity), as the contract
snapshotted on the case says (``config.yaml``'s ``sla.first_status`` and ``sla.status_every``
unless the plan sets its own; in business time for a ``clock: business`` target). Each owed
status is a pair of deadlines (a reminder and the target) numbered by ``seq``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.cases.contract import next_update_due
from oncall.cases.deadlines import schedule
from oncall.db.models import Case, Deadline
from oncall.domain import sla
from oncall.domain.enums import STATUS_KINDS, DeadlineKind
from oncall.runtime import Runtime


def arm_status_target(
    session: Session, runtime: Runtime, case: Case, now: datetime, seq: int
) -> datetime:
    """The next status is due a cadence (the contract's ``updates`` for the severity) from
    now."""
    settings = runtime.settings
    due = next_update_due(runtime, case, now)
    schedule(
        session, case, now, DeadlineKind.STATUS_WARN, sla.warn_at(due, settings.sla, now), seq=seq
    )
    schedule(session, case, now, DeadlineKind.STATUS_DUE, due, seq=seq)
    case.status_due_at = due
    return due


def next_status_seq(session: Session, case: Case) -> int:
    """The ``seq`` for the next owed status: one past the latest ever armed."""
    latest = session.scalar(
        select(func.max(Deadline.seq)).where(
            Deadline.case_id == case.id, Deadline.kind.in_(STATUS_KINDS)
        )
    )
    return 0 if latest is None else latest + 1


def status_target(session: Session, case: Case, deadline: Deadline) -> datetime:
    """When the status that ``deadline`` (a reminder or the target itself) is about is due."""
    due = session.scalar(
        select(Deadline.due_at).where(
            Deadline.case_id == case.id,
            Deadline.kind == DeadlineKind.STATUS_DUE,
            Deadline.seq == deadline.seq,
        )
    )
    return due or case.status_due_at or deadline.due_at
