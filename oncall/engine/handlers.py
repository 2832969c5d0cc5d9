"""What each deadline does when it falls due, keyed by :class:`DeadlineKind`: the escalation
steps (:mod:`oncall.engine.escalation`), an unanswered severity question
(:mod:`oncall.engine.severity_question`), a resolved case's reminder and closure
(:mod:`oncall.engine.closure`), and the SLA targets here: a reminder to the engineers
before the triage or status target, and a breach (the manager paged) when it is missed.

A handler runs inside the engine's transaction with the deadline and its case locked, and
returns whether anything happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.db.models import Case, Deadline
from oncall.domain.enums import CLOSURE_KINDS, CaseState, DeadlineKind
from oncall.engine.closure import close, close_reminder
from oncall.engine.escalation import escalate, route_check
from oncall.engine.paging import names, page_manager, paged_people, remind, status_people
from oncall.engine.severity_question import severity_question_timeout
from oncall.engine.status import arm_status_target, status_target
from oncall.engine.wording import case_zone, hhmm, short
from oncall.runtime import Runtime

# The engine's one logger, as before the split: log filters and alerts name it.
log = logging.getLogger("oncall.engine.tick")

Handler = Callable[[Session, Runtime, Deadline, Case, datetime], bool]


def apply_deadline(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    """Do what ``deadline`` means for ``case`` (both locked). True if anything happened."""
    try:
        kind = DeadlineKind(deadline.kind)
    except ValueError:
        log.error("unknown deadline kind %r (id %s); marking it done", deadline.kind, deadline.id)
        return False
    # A case still asking its customer for the severity is not open yet: its question's
    # timeout is the one timer it has; a resolved case's are its closure timers.
    if not case.is_open and kind not in (DeadlineKind.SEVERITY_QUESTION_TIMEOUT, *CLOSURE_KINDS):
        return False  # resolved or downgraded: every timer stopped with it
    return HANDLERS[kind](session, runtime, deadline, case, now)


# -- triage ---------------------------------------------------------------------------------
def triage_warn(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    if case.state != CaseState.OPEN:
        return False
    zone = case_zone(runtime, case)
    due = case.triage_due_at or deadline.due_at
    text = (
        f"Reminder: case {case.number} ({short(case.customer_name)}, S{case.severity}) is not "
        f"acknowledged. Triage due {hhmm(due, zone)}. Reply ACK {case.number}"
    )
    people = paged_people(session, case)
    for key, (_channel, address) in people.items():
        remind(session, runtime, case, now, key, address, text, f"triage_warn:{case.id}:{key}")
    add_event(
        session,
        case,
        now,
        "reminder",
        f"Triage reminder sent to {names(runtime, case, people) or 'nobody (nobody paged yet)'}: "
        f"acknowledgement due {hhmm(due, zone)}",
        target="triage",
    )
    return True


def triage_due(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    if case.acknowledged_at is not None or case.state != CaseState.OPEN:
        return False  # met
    zone = case_zone(runtime, case)
    due = case.triage_due_at or deadline.due_at
    add_event(
        session,
        case,
        now,
        "breach",
        f"Triage target missed: not acknowledged by {hhmm(due, zone)}; manager paged",
        target="triage",
        due_at=due.isoformat(),
    )
    text = (
        f"SLA breach: case {case.number} ({short(case.customer_name)}, S{case.severity}) not "
        f"acknowledged by {hhmm(due, zone)}. Reply ACK {case.number}"
    )
    page_manager(session, runtime, case, now, text=text, key="breach:triage")
    return True


# -- status ---------------------------------------------------------------------------------
def status_warn(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    zone = case_zone(runtime, case)
    due = status_target(session, case, deadline)
    text = (
        f"Case {case.number} ({short(case.customer_name)}): status to the customer due by "
        f"{hhmm(due, zone)}. Reply STATUS {case.number} <text> ETA <time>"
    )
    people = status_people(session, runtime, case)
    for key, (_channel, address) in people.items():
        dedupe = f"status_warn:{case.id}:{deadline.seq}:{key}"
        remind(session, runtime, case, now, key, address, text, dedupe)
    add_event(
        session,
        case,
        now,
        "reminder",
        f"Status reminder sent to {names(runtime, case, people) or 'nobody'}: status to the "
        f"customer due {hhmm(due, zone)}",
        target="status",
        seq=deadline.seq,
    )
    return True


def status_due(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    zone = case_zone(runtime, case)
    due = deadline.due_at
    what = "first status" if deadline.seq == 0 else "status update"
    engineer = case.acknowledged_by_name or "nobody acknowledged"
    add_event(
        session,
        case,
        now,
        "breach",
        f"Status target missed: no {what} with an ETA to the customer by {hhmm(due, zone)}; "
        "manager paged",
        target="status",
        seq=deadline.seq,
        due_at=due.isoformat(),
    )
    text = (
        f"SLA breach: case {case.number} ({short(case.customer_name)}, S{case.severity}): no "
        f"status to the customer by {hhmm(due, zone)}. Engineer: {short(engineer)}"
    )
    page_manager(session, runtime, case, now, text=text, key=f"breach:status:{deadline.seq}")
    # The clock keeps running: without a status the next update is still owed, so an
    # acknowledged-then-forgotten case pages the manager again a cadence later.
    arm_status_target(session, runtime, case, now, deadline.seq + 1)
    return True


HANDLERS: dict[DeadlineKind, Handler] = {
    DeadlineKind.ESCALATE: escalate,
    DeadlineKind.TRIAGE_WARN: triage_warn,
    DeadlineKind.TRIAGE_DUE: triage_due,
    DeadlineKind.STATUS_WARN: status_warn,
    DeadlineKind.STATUS_DUE: status_due,
    DeadlineKind.ROUTE_CHECK: route_check,
    DeadlineKind.SEVERITY_QUESTION_TIMEOUT: severity_question_timeout,
    DeadlineKind.CLOSE_REMINDER: close_reminder,
    DeadlineKind.CLOSE: close,
}
