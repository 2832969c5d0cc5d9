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


# ``session.info`` key of the status targets read ahead for a batch (:func:`read_ahead`).
_AHEAD = "oncall.status_targets"


def read_ahead(session: Session, claimed: list[tuple[Deadline, Case]]) -> None:
    """Read, in one query, the status targets the status reminders of a batch will ask for.

    A reminder says when its target is due; a hundred reminders would otherwise each ask. Only
    rows that exist now are read; anything else falls back to :func:`status_target`'s query.
    """
    wanted = {(d.case_id, d.seq) for d, _case in claimed if d.kind == DeadlineKind.STATUS_WARN}
    if not wanted:
        return
    rows = session.execute(
        select(Deadline.case_id, Deadline.seq, Deadline.due_at).where(
            Deadline.case_id.in_({case_id for case_id, _seq in wanted}),
            Deadline.kind == DeadlineKind.STATUS_DUE,
        )
    )
    session.info[_AHEAD] = {(c, q): due for c, q, due in rows if (c, q) in wanted}


def forget_read_ahead(session: Session) -> None:
    session.info.pop(_AHEAD, None)


def status_target(session: Session, case: Case, deadline: Deadline) -> datetime:
    """When the status that ``deadline`` (a reminder or the target itself) is about is due."""
    ahead = session.info.get(_AHEAD)
    if ahead and (case.id, deadline.seq) in ahead:
        # A status target's due time is never moved once armed, so what was read at the start
        # of the batch is still what the query would say.
        return ahead[case.id, deadline.seq] or case.status_due_at or deadline.due_at
    due = session.scalar(
        select(Deadline.due_at).where(
            Deadline.case_id == case.id,
            Deadline.kind == DeadlineKind.STATUS_DUE,
            Deadline.seq == deadline.seq,
        )
    )
    return due or case.status_due_at or deadline.due_at
