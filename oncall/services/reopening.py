"""The customer's ``REOPEN``: an email reply to ``[Case N]`` starting with it, or ``REOPEN N``
by SMS from a contact's phone to the critical line's number.

Works inside the caller's transaction (the email intake's or the SMS conversation's).

Rules decided here:

* **Within ``closure.reopen_within`` of the resolution** the case opens again: its closure
  timers stop, it pages the on-call engineer again by its escalation policy (the first step at
  once, through :func:`oncall.engine.escalation.start_paging`; the steps count from the
  reopen), and a new triage target and first-status target start now. The earlier
  acknowledgement and resolution stay on the timeline. Event ``reopened``.
* **A closed case never reopens**: a REOPEN after closure (or after the window, should the
  engine not have closed it yet) opens a new case at the old one's severity that names it
  ("follows case 1001"), and the customer is told so.
* **A case still open** takes the message as an ordinary reply; one that left the critical
  line (downgraded) or was never critical (asked) is not reopened: the customer is told to use
  the regular channels, and the attempt is on its timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from oncall.cases.customer import notify_customer
from oncall.cases.deadlines import cancel_deadlines, schedule
from oncall.cases.events import add_event
from oncall.cases.opening import NewCase, open_case
from oncall.cases.outbox import Reached
from oncall.db.models import Case, Deadline
from oncall.domain import contract, sla
from oncall.domain.eligibility import is_business_hours
from oncall.domain.enums import (
    CLOSURE_KINDS,
    ESCALATION_KINDS,
    CaseState,
    DeadlineKind,
    DeadlineState,
    Purpose,
    SeveritySource,
)
from oncall.engine.closure import customer_when
from oncall.engine.escalation import start_paging
from oncall.engine.status import next_status_seq
from oncall.runtime import Runtime


@dataclass(frozen=True)
class Reopen:
    """What a REOPEN did: ``reopened``, ``new_case`` (the case was closed), ``still_open``
    (an ordinary reply) or ``refused``; the case it concerns now; what the customer is told."""

    outcome: str
    number: int
    told: str


def reopen(
    session: Session,
    runtime: Runtime,
    case: Case,
    who: str,
    via: str,
    text: str,
    key: str,
    now: datetime,
) -> Reopen:
    """The customer's REOPEN of ``case`` (``via``: ``email`` or ``SMS``; ``key``: the inbound
    message's receipt key, which a new case opens once for)."""
    locked = session.get(Case, case.id, with_for_update=True, populate_existing=True)
    case = locked if locked is not None else case
    if case.is_open:
        return Reopen("still_open", case.number, f"Case {case.number} is still open.")
    window = runtime.settings.closure.reopen_within
    if case.state == CaseState.RESOLVED.value and case.resolved_at is not None:
        if now <= case.resolved_at + window:
            return _reopen(session, runtime, case, who, via, text, now)
        _close_late(session, case, case.resolved_at + window)
    if case.state == CaseState.CLOSED.value:
        return _follow(session, runtime, case, who, via, text, key, now)
    add_event(
        session,
        case,
        now,
        "reopen_refused",
        f"{who} asked by {via} to reopen it; a {case.state} case is not reopened on the "
        "critical line",
        actor=who,
    )
    return Reopen(
        "refused",
        case.number,
        f"Case {case.number} is with our regular support, not the critical line; please "
        f"contact them ({runtime.settings.email.forward_to}), or open a new critical case if "
        "a production system is down.",
    )


def _reopen(
    session: Session,
    runtime: Runtime,
    case: Case,
    who: str,
    via: str,
    text: str,
    now: datetime,
) -> Reopen:
    settings = runtime.settings
    cancel_deadlines(session, case, now, CLOSURE_KINDS)
    # The first run's escalation timers are spent (done or cancelled); their rows go so the
    # new run can arm step 0 onwards again under the (case, kind, seq) key. The timeline
    # keeps what they did.
    session.execute(
        delete(Deadline).where(
            Deadline.case_id == case.id,
            Deadline.kind.in_(ESCALATION_KINDS),
            Deadline.state != DeadlineState.PENDING,
        ),
        execution_options={"synchronize_session": False},
    )
    resolved_at = case.resolved_at
    case.reopen_count = (case.reopen_count or 0) + 1
    case.reopened_at = now
    case.state = CaseState.OPEN.value
    case.acknowledged_at = case.acknowledged_by = case.acknowledged_by_name = None
    case.resolved_at = None
    case.resolution_note = None
    case.escalation_round = 0
    if case.targets:  # the contract frozen on the case when it opened
        due = contract.reopening_due(case.targets, case.severity, now)
        targets = sla.Targets(triage_due=due.triage, first_status_due=due.first_status)
        case.resolution_due_at = due.resolution
    else:  # a case from before contracts: the live sla, as it always had
        after_hours = not is_business_hours(settings.business_hours, now, settings.zone)
        targets = sla.targets(now, settings.sla, after_hours)
    case.triage_due_at = targets.triage_due
    case.status_due_at = case.first_status_due_at = targets.first_status_due
    schedule(session, case, now, DeadlineKind.ESCALATE, now, seq=0)
    schedule(
        session,
        case,
        now,
        DeadlineKind.TRIAGE_WARN,
        sla.warn_at(targets.triage_due, settings.sla, now),
    )
    schedule(session, case, now, DeadlineKind.TRIAGE_DUE, targets.triage_due)
    seq = next_status_seq(session, case)
    first_status = targets.first_status_due
    warn = sla.warn_at(first_status, settings.sla, now)
    schedule(session, case, now, DeadlineKind.STATUS_WARN, warn, seq=seq)
    schedule(session, case, now, DeadlineKind.STATUS_DUE, first_status, seq=seq)
    add_event(
        session,
        case,
        now,
        "reopened",
        f"Reopened by {who} by {via}"
        + (f" (resolved {customer_when(runtime, resolved_at)})" if resolved_at else "")
        + (f": {text[:500]}" if text else "")
        + "; paging again, new triage target",
        actor=who,
        via=via,
        reopen_count=case.reopen_count,
        triage_due_at=targets.triage_due.isoformat(),
    )
    reached = start_paging(session, runtime, case, now)
    who_has_it = (
        "The on-call engineer has been paged"
        if reached is Reached.ENGINEER
        else "Our support managers have been alerted"
    )
    told = (
        f"Your case {case.number} is open again. {who_has_it}; you will hear from us by "
        f"{customer_when(runtime, case.status_due_at)}."
    )
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.REOPENED,
        subject="Reopened",
        text=told,
        dedupe_key=f"customer:reopened:{case.id}",
    )
    return Reopen("reopened", case.number, told)


def _close_late(session: Session, case: Case, at: datetime) -> None:
    """The window ended but the engine has not closed the case yet (it was down, say): it is
    closed as of the window's end before the REOPEN is looked at."""
    case.state = CaseState.CLOSED.value
    case.closed_at = at
    add_event(session, case, at, "closed", "Closed: no REOPEN within the window")


def _follow(
    session: Session,
    runtime: Runtime,
    old: Case,
    who: str,
    via: str,
    text: str,
    key: str,
    now: datetime,
) -> Reopen:
    """A REOPEN of a closed case: a new case that names it."""
    summary = f"Follows case {old.number}: {text or old.summary}"[:1000]
    new = open_case(
        session,
        runtime,
        NewCase(
            customer_key=old.customer_key,
            customer_name=old.customer_name,
            plan=old.plan,
            team=old.team,
            channel="sms" if via == "SMS" else "email",
            severity=old.severity,
            summary=summary,
            contact_name=old.contact_name,
            contact_phone=old.contact_phone,
            contact_email=old.contact_email,
            intake_key=f"reopen:{key}"[:400],
            severity_source=SeveritySource(old.severity_source or SeveritySource.STATED),
        ),
        now,
    )
    if new.follows_number == old.number:  # the same message again: opened already
        return Reopen(
            "new_case", new.number, f"Case {old.number} is closed; case {new.number} follows it."
        )
    new.follows_number = old.number
    closed = customer_when(runtime, old.closed_at or now)
    add_event(
        session,
        new,
        now,
        "follows",
        f"Follows case {old.number}, closed {closed}: {who} wrote REOPEN by {via}",
        actor=who,
        follows=old.number,
    )
    add_event(
        session,
        old,
        now,
        "reopen_after_close",
        f"{who} wrote REOPEN by {via} after the case closed; case {new.number} opened to follow it",
        actor=who,
        new_case=new.number,
    )
    reached = start_paging(session, runtime, new, now)
    who_has_it = (
        "the on-call engineer has been paged"
        if reached is Reached.ENGINEER
        else "our support managers have been alerted"
    )
    told = (
        f"Case {old.number} was closed on {closed} and cannot be reopened, so we opened case "
        f"{new.number}, which follows case {old.number}; {who_has_it}. Please quote "
        f"{new.number} from now on."
    )
    notify_customer(
        session,
        runtime,
        new,
        now,
        purpose=Purpose.REOPENED,
        subject=f"Follows case {old.number}",
        text=told,
        dedupe_key=f"customer:follows:{new.id}",
    )
    return Reopen("new_case", new.number, told)
