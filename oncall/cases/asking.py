"""A case whose severity the customer is asked (an email whose severity was unclear): opened in
state ``asked`` without paging anyone, with one timer, the question's timeout
(``email.severity_question_timeout``). It becomes critical when the customer answers 1 or 2,
or when the timeout finds that the mail leaned critical (:func:`make_critical`: the triage clock
starts then); it leaves for the regular support queue, with no fee, when they answer 3, or when
nobody answers a mail that did not lean (:func:`leave_critical_line`).

Nothing here commits; the email intake, the SMS conversation and the engine call these inside
their transactions, with the case locked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.customer import case_subject, notify_customer
from oncall.cases.deadlines import cancel_deadlines, schedule
from oncall.cases.events import add_event
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.lookup import find_case_by_intake_key
from oncall.cases.opening import NewCase, insert_case, new_case_row, start_clocks
from oncall.db.models import Case, CaseEvent, Deadline
from oncall.domain.contract import severity_row
from oncall.domain.enums import CaseState, DeadlineKind, DeadlineState, Purpose, SeveritySource
from oncall.domain.severity_question import Line, opened_text
from oncall.runtime import Runtime

ASKED_EVENT = "severity_asked"
MAIL_KEPT = 20_000  # characters of the customer's mail kept for the forward to the queue


def line_of(runtime: Runtime, case: Case | None = None) -> Line:
    """The facts for a customer text; with ``case``, the targets frozen on it (its plan's,
    after any after-hours multiplier) rather than config's, so what the customer reads is what
    the engine holds the team to."""
    settings = runtime.settings
    triage, first_status, business = settings.sla.triage, settings.sla.first_status, False
    if case is not None and case.targets:
        row = severity_row(case.targets, case.targets["severity"])
        factor = case.targets["multiplier"] if case.targets["multiplied"] else 1
        triage = timedelta(seconds=row["triage"] * factor)
        first_status = timedelta(seconds=row["first_status"] * factor)
        business = row["clock"] == "business"
    return Line(
        company=settings.company,
        critical_line=settings.twilio.critical_line,
        forward_to=settings.email.forward_to,
        triage=triage,
        first_status=first_status,
        business_hours=business,
    )


def customer_time(runtime: Runtime, at: datetime, since: datetime | None = None) -> str:
    """Customers read times in the company's zone, with the zone named; with the day too when
    it is not the day of ``since`` (a business-hours target may fall due days later)."""
    zone = runtime.settings.zone
    local = at.astimezone(zone)
    if since is not None and since.astimezone(zone).date() != local.date():
        return local.strftime("%a %d %b %H:%M %Z")
    return local.strftime("%H:%M %Z")


def open_asked_case(
    session: Session, runtime: Runtime, new: NewCase, now: datetime, *, lean: int | None, why: str
) -> tuple[Case, bool]:
    """Open the case in state ``asked`` and arm the question's timeout; ``(case, opened now)``.

    Idempotent on ``new.intake_key`` like :func:`oncall.cases.opening.open_case`. ``lean`` is
    the severity the timeout pages at (None: it forwards), ``why`` what the rules found.
    """
    if new.intake_key:
        existing = find_case_by_intake_key(session, new.intake_key)
        if existing is not None:
            return existing, False
    row = new_case_row(session, new, now, CaseState.ASKED)
    row.severity_asked_at = now
    case = insert_case(session, row)
    if case is not row:
        return case, False
    until = now + runtime.settings.email.severity_question_timeout
    kind = DeadlineKind.SEVERITY_QUESTION_TIMEOUT
    schedule(session, case, now, kind, until, lean=lean, why=why)
    return case, True


def question_deadline(session: Session, case: Case) -> Deadline | None:
    """The question's timeout row (pending or not)."""
    return session.scalar(
        select(Deadline).where(
            Deadline.case_id == case.id, Deadline.kind == DeadlineKind.SEVERITY_QUESTION_TIMEOUT
        )
    )


def awaits_answer(case: Case) -> bool:
    """The customer may still set this case's severity: asked and not answered, or forwarded
    by the timeout (an answer of 1 or 2 then still pages: an emergency never waits)."""
    if case.severity_asked_at is None or case.severity_answered_at is not None:
        return False
    if case.state == CaseState.ASKED:
        return True
    return (
        case.state == CaseState.DOWNGRADED and case.severity_source == SeveritySource.TIMEOUT.value
    )


def make_critical(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    severity: int,
    source: SeveritySource,
    how: str,
    told: str,
    page_first: Callable[[Session, Runtime, Case, datetime], str],
) -> None:
    """The case is critical from ``now``: its clocks started and its first step paged at once
    by ``page_first`` (the engine's, handed down by the caller since this layer sits below the
    engine), which says who was reached; the customer is told its number and what happens
    next, ``told`` first. ``how`` goes on the timeline."""
    was_forwarded = case.state == CaseState.DOWNGRADED
    case.severity = case.severity_claimed = severity
    case.severity_source = source.value
    if source is SeveritySource.ANSWERED:
        case.severity_answered_at = now
    cancel_deadlines(session, case, now, [DeadlineKind.SEVERITY_QUESTION_TIMEOUT])
    start_clocks(session, runtime, case, now)
    reached = page_first(session, runtime, case, now)
    add_event(
        session,
        case,
        now,
        "opened",
        f"Case {case.number} opened by email from {case.contact_name or 'customer'} "
        f"({case.customer_name}), S{severity} ({how}): {case.summary[:200]}",
        actor=case.contact_name or case.customer_name,
        channel=case.channel,
        severity=severity,
        severity_source=source.value,
        after_hours=case.after_hours,
    )
    status_by = customer_time(runtime, case.status_due_at, now) if case.status_due_at else ""
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.OPENED,
        text=opened_text(line_of(runtime, case), case.number, severity, status_by, told, reached),
        subject=_subject(case),
        dedupe_key=f"opened:{case.number}",
    )
    if was_forwarded:  # the queue has it already: it must not work it twice
        forward_to_support_queue(
            session,
            runtime,
            now,
            subject=case_subject(case, "Now critical: the on-call engineer has it"),
            body=f"Case {case.number}, forwarded to you earlier, is critical after all ({how}). "
            "The on-call engineer has been paged; no action is needed from the queue.",
            case=case,
            dedupe_key=f"forward:{case.id}:critical",
        )


def leave_critical_line(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    severity: int,
    source: SeveritySource,
    why: str,
    told: str,
) -> None:
    """The case is not for the critical line: nobody is paged, no fee, the regular support
    queue gets the customer's mail, and the customer is told ``told``."""
    case.severity = case.severity_claimed = severity
    case.severity_source = source.value
    if source is SeveritySource.ANSWERED:
        case.severity_answered_at = now
    case.state = CaseState.DOWNGRADED
    cancel_deadlines(session, case, now)
    mail = asked_mail(session, case)
    forward_to_support_queue(
        session,
        runtime,
        now,
        subject=case_subject(case, f"Forwarded from the critical line: {case.customer_name}"),
        body=(
            f"Case {case.number} came in on the critical line by email and was not critical: "
            f"{why}. Nobody was paged and no fee applies.\n\n"
            f"Customer: {case.customer_name} ({case.customer_key}, plan {case.plan or '-'})\n"
            f"Contact: {case.contact_name or '-'} {case.contact_phone or ''} "
            f"{case.contact_email or ''}\n\n"
            f"---------- The customer's email ----------\n"
            f"Subject: {mail.get('subject') or ''}\n\n{mail.get('mail_text') or case.summary}\n"
        ),
        case=case,
        reply_to=case.contact_email,
        dedupe_key=f"forward:{case.id}:not_critical",
    )
    notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.DOWNGRADED,
        text=told,
        subject="Forwarded to regular support",
        dedupe_key=f"customer:forwarded:{case.id}",
    )


def asked_mail(session: Session, case: Case) -> dict[str, Any]:
    """What the ``severity_asked`` event kept of the customer's mail."""
    event = session.scalar(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == ASKED_EVENT)
        .order_by(CaseEvent.id)
        .limit(1)
    )
    return dict(event.data or {}) if event is not None else {}


def pending_timeout(session: Session, case: Case) -> Deadline | None:
    deadline = question_deadline(session, case)
    return deadline if deadline is not None and deadline.state == DeadlineState.PENDING else None


def _subject(case: Case) -> str:
    return (case.summary.splitlines() or ["Critical case opened"])[0][:200]
