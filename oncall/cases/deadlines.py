"""Deadline rows: arming a case's timer once, and cancelling its pending timers.

What a deadline does when it falls due is the engine's business (:mod:`oncall.engine`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from oncall.cases.batch_writes import NotBatched, queue_in_batch
from oncall.cases.outbox import mark_work_due
from oncall.db.models import Case, Deadline
from oncall.db.upsert import attach_inserted, insert_many_once, insert_once
from oncall.domain.enums import DeadlineKind, DeadlineState

# ``session.info`` key: ids of cases given a timer that is already due (:func:`armed_due`).
_ARMED_DUE = "oncall.armed_due"


def schedule(
    session: Session,
    case: Case,
    now: datetime,
    kind: DeadlineKind,
    due_at: datetime,
    seq: int = 0,
    **data: Any,
) -> Deadline | None:
    """Arm a timer once: ``(case, kind, seq)`` is unique, a second call changes nothing.

    One statement (``INSERT … ON CONFLICT DO NOTHING``) rather than a look-up and an insert:
    the engine arms the next step of every escalation it applies.
    """
    values = {
        "case_id": case.id,
        "kind": kind,
        "seq": seq,
        "due_at": due_at,
        "state": DeadlineState.PENDING,
        "data": data,
        "created_at": now,
    }
    deadline = queue_in_batch(session, Deadline, values)  # the engine's batch (PostgreSQL)
    if isinstance(deadline, NotBatched):
        session.flush()  # a row of this case the session still holds goes first
        new_id = insert_once(
            session, Deadline.__table__, values, conflict=("case_id", "kind", "seq"), returning="id"
        )
        deadline = None if new_id is None else attach_inserted(session, Deadline, new_id, values)
    if deadline is None:
        return None
    if due_at <= now:
        mark_work_due(session)
        session.info.setdefault(_ARMED_DUE, set()).add(case.id)
    return deadline


def schedule_all(
    session: Session,
    case: Case,
    now: datetime,
    timers: Iterable[tuple[DeadlineKind, datetime, int]],
) -> list[Deadline]:
    """:func:`schedule` for several timers of one case, ``(kind, due_at, seq)`` each, in one
    statement: the case's first deadlines are armed in one round trip, not five. Each is
    armed once, as :func:`schedule` arms it; the deadlines written are returned."""
    rows = {
        (kind, seq): {
            "case_id": case.id,
            "kind": kind,
            "seq": seq,
            "due_at": due_at,
            "state": DeadlineState.PENDING,
            "data": {},
            "created_at": now,
        }
        for kind, due_at, seq in timers
    }
    session.flush()  # a row of this case the session still holds goes first
    written = insert_many_once(
        session,
        Deadline.__table__,  # type: ignore[arg-type]
        list(rows.values()),
        conflict=("case_id", "kind", "seq"),
        returning=("id", "kind", "seq"),
    )
    deadlines = []
    for new_id, kind, seq in written:
        values = rows[DeadlineKind(kind), seq]
        deadlines.append(attach_inserted(session, Deadline, new_id, values))
        if values["due_at"] <= now:
            mark_work_due(session)
            session.info.setdefault(_ARMED_DUE, set()).add(case.id)
    return deadlines


def armed_due(session: Session) -> set[int]:
    """The cases that were given a timer already due in this session's transaction.

    The engine reads it to keep each case's deadlines in due order within a batch: a step that
    arms the next one already overdue (an engine that was down) must have that one applied
    before the case's later deadlines in the same batch, as one-at-a-time claiming did.
    """
    return session.info.setdefault(_ARMED_DUE, set())


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
