"""Closure of a resolved case: the customer may ``REOPEN`` it for ``closure.reopen_within``;
one reminder at half that time, then the case is ``closed`` for good.

Both are deadline rows armed when the case is resolved (:func:`offer_reopen`, numbered by the
case's reopen count, so a case resolved again after a reopen gets timers of its own), applied
by the engine like every timer: a restart loses neither. A REOPEN cancels them
(:mod:`oncall.services.reopening`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.customer import notify_customer
from oncall.cases.deadlines import schedule
from oncall.cases.events import add_event
from oncall.db.models import Case, Deadline
from oncall.domain.enums import CaseState, DeadlineKind, Purpose
from oncall.runtime import Runtime


def customer_when(runtime: Runtime, at: datetime) -> str:
    """A date and time as the customer reads it (the company's zone, named)."""
    return at.astimezone(runtime.settings.zone).strftime("%a %d %b %Y %H:%M %Z")


def reopen_how(runtime: Runtime, case: Case) -> str:
    """How the customer reopens ``case``: by email reply, or by SMS to the critical line."""
    line = runtime.settings.twilio.critical_line
    by_sms = f", or text REOPEN {case.number} to {line}" if line else ""
    return f"reply REOPEN to this email{by_sms}"


def offer_reopen(session: Session, runtime: Runtime, case: Case, now: datetime) -> tuple[str, str]:
    """Arm the reminder and the closure of a case resolved at ``now``; what tells the customer
    how long they may reopen it: ``(for an email, for an SMS)``."""
    window = runtime.settings.closure.reopen_within
    seq = case.reopen_count or 0
    schedule(session, case, now, DeadlineKind.CLOSE_REMINDER, now + window / 2, seq=seq)
    schedule(session, case, now, DeadlineKind.CLOSE, now + window, seq=seq)
    until = customer_when(runtime, now + window)
    by_email = (
        f"\n\nIf the problem is not solved, {reopen_how(runtime, case)} by {until}: the case "
        "opens again and the on-call engineer is paged. After that the case is closed."
    )
    by_sms = f"\nNot solved? Text REOPEN {case.number} to this number by {until}."
    return by_email, by_sms


def close_reminder(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    """Half the reopen window has passed: one reminder to the customer."""
    if case.state != CaseState.RESOLVED:
        return False  # reopened (the timers were cancelled) or closed already
    closes = now + (runtime.settings.closure.reopen_within / 2)
    closes = max(closes, deadline.due_at)
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.CLOSURE_REMINDER,
        subject="Closing soon",
        text=(
            f"Your case {case.number} was resolved. If the problem is back or not solved, "
            f"{reopen_how(runtime, case)} by {customer_when(runtime, closes)}. Otherwise "
            "there is nothing to do: the case will then be closed."
        ),
        dedupe_key=f"customer:close_reminder:{case.id}:{deadline.seq}",
    )
    return True


def close(
    session: Session, runtime: Runtime, deadline: Deadline, case: Case, now: datetime
) -> bool:
    """The reopen window ended without a REOPEN: the case is closed for good."""
    if case.state != CaseState.RESOLVED:
        return False
    case.state = CaseState.CLOSED.value
    case.closed_at = now
    window = runtime.settings.closure.reopen_within
    add_event(
        session,
        case,
        now,
        "closed",
        f"Closed: no REOPEN from the customer within {_words(window.total_seconds())} of the "
        "resolution",
    )
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.CLOSED,
        subject="Closed",
        text=(
            f"Your case {case.number} is now closed. If you need us again, contact the "
            f"critical line as before: a new case will be opened (it will name case "
            f"{case.number})."
        ),
        dedupe_key=f"customer:closed:{case.id}",
    )
    return True


def _words(seconds: float) -> str:
    """``7 days``, ``12 hours``, ``30 minutes``: a window as people say it."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{int(seconds)} seconds"
