"""Opening cases, recording refusals, the timeline and the outbox: the shared use cases.

These functions take an open session and ``now`` and do their work inside the caller's
transaction; the caller commits and then wakes the sender (``runtime.wake_sender()``), so a
state change and the messages it causes are written together or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.db.models import (
    INTEGER_MAX,
    Attempt,
    Case,
    CaseEvent,
    Counter,
    Deadline,
    OutboundMessage,
)
from oncall.domain import sla
from oncall.domain.eligibility import is_business_hours
from oncall.domain.enums import OPEN_STATES, CaseState, DeadlineState, OutboxState
from oncall.domain.rota.snapshots import policy_snapshot
from oncall.runtime import Runtime

log = logging.getLogger("oncall.cases")


class CaseError(Exception):
    """A use case refused to act; the message is safe to show the person who asked."""


# -- timeline -------------------------------------------------------------------------------
def add_event(
    session: Session,
    case: Case,
    now: datetime,
    kind: str,
    text: str,
    actor: str = "system",
    **data: Any,
) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=now, kind=kind, actor=actor, text=text, data=data)
    session.add(event)
    log.info("%s", text, extra={"case": case.number, "event": kind, "actor": actor})
    return event


# -- outbox ---------------------------------------------------------------------------------
def sender_address(runtime: Runtime, channel: str) -> str:
    """Who our messages come from on ``channel``: the email address or the critical line."""
    settings = runtime.settings
    return settings.email.from_address if channel == "email" else settings.twilio.critical_line


def enqueue(
    session: Session,
    now: datetime,
    *,
    channel: str,
    purpose: str,
    to: str,
    body: str,
    case: Case | None = None,
    recipient: str = "",
    from_address: str = "",
    subject: str | None = None,
    headers: dict[str, Any] | None = None,
    message_id: str | None = None,
    dedupe_key: str | None = None,
    fallback_of: int | None = None,
    not_before: datetime | None = None,
) -> OutboundMessage | None:
    """Add a message to the outbox; with ``dedupe_key`` the same message is only added once.

    Returns None when a row with the same dedupe key already exists.
    """
    if dedupe_key is not None:
        existing = session.scalar(
            select(OutboundMessage.id).where(OutboundMessage.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return None
    message = OutboundMessage(
        case_id=case.id if case is not None else None,
        channel=channel,
        purpose=purpose,
        recipient=recipient,
        to_address=to,
        from_address=from_address,
        subject=subject,
        body=body,
        headers=headers or {},
        message_id=message_id,
        state=OutboxState.PENDING.value,
        attempts=0,
        next_attempt_at=not_before or now,
        created_at=now,
        dedupe_key=dedupe_key,
        fallback_of=fallback_of,
    )
    session.add(message)
    session.flush()
    session.info[WORK_DUE] = True
    return message


# ``session.info`` flag set by :func:`enqueue` and by :func:`schedule` for a timer due at once:
# a transaction that left nothing due need not wake the sender (a wake costs the sender claim
# queries that would find nothing).
WORK_DUE = "oncall.work_due"


def has_work_due(session: Session) -> bool:
    return bool(session.info.get(WORK_DUE))


def outbox_backlog(session: Session, now: datetime) -> tuple[int, float | None]:
    """How many messages wait to go out, and how long the oldest has been waiting (seconds).

    Age counts from when the message was queued, not from its next retry: during a provider
    outage backoff keeps pushing ``next_attempt_at`` forward, and an age measured from it would
    stay near zero while pages pile up. Messages scheduled for later that have never been tried
    do not count until they are due.
    """
    from oncall.clock import ensure_aware  # min() loses the column type on SQLite

    waiting = OutboundMessage.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value])
    due = or_(OutboundMessage.attempts > 0, OutboundMessage.next_attempt_at <= now)
    depth, oldest = session.execute(
        select(func.count(), func.min(OutboundMessage.created_at)).where(waiting, due)
    ).one()
    if oldest is None:
        return int(depth or 0), None
    return int(depth), max((now - ensure_aware(oldest)).total_seconds(), 0.0)


# -- deadlines ------------------------------------------------------------------------------
def schedule(
    session: Session,
    case: Case,
    now: datetime,
    kind: str,
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
        state=DeadlineState.PENDING.value,
        data=data,
        created_at=now,
    )
    session.add(deadline)
    if due_at <= now:
        session.info[WORK_DUE] = True
    return deadline


def cancel_deadlines(
    session: Session, case: Case, now: datetime, kinds: tuple[str, ...] | None = None
) -> int:
    query = update(Deadline).where(
        Deadline.case_id == case.id, Deadline.state == DeadlineState.PENDING.value
    )
    if kinds is not None:
        query = query.where(Deadline.kind.in_(kinds))
    result = session.execute(
        query.values(state=DeadlineState.CANCELLED.value, done_at=now),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


# -- cases ----------------------------------------------------------------------------------
def next_case_number(session: Session) -> int:
    """Take the next human case number (1001, 1002, …).

    The UPDATE takes a row lock on PostgreSQL, so concurrent openings get distinct numbers;
    a rolled-back opening gives its number back.
    """
    session.execute(
        update(Counter).where(Counter.name == "case_number").values(value=Counter.value + 1)
    )
    return session.scalar(select(Counter.value).where(Counter.name == "case_number"))


@dataclass(frozen=True)
class NewCase:
    """What intake knows when a case opens."""

    customer_key: str
    customer_name: str
    plan: str
    team: str
    channel: str  # voice | email
    severity: int
    summary: str
    contact_name: str = ""
    contact_phone: str | None = None
    contact_email: str | None = None
    intake_key: str | None = None  # "call:<CallSid>" / "email:<Message-ID>": opens once
    recording_url: str | None = None
    recording_duration: int | None = None


def find_case_by_intake_key(session: Session, intake_key: str) -> Case | None:
    return session.scalar(select(Case).where(Case.intake_key == intake_key))


def open_case_for_customer(session: Session, customer_key: str) -> Case | None:
    """The customer's most recent open case, if any (a second call joins it)."""
    return session.scalar(
        select(Case)
        .where(Case.customer_key == customer_key, Case.state.in_(OPEN_STATES))
        .order_by(Case.opened_at.desc())
        .limit(1)
    )


def case_by_number(session: Session, number: int, for_update: bool = False) -> Case | None:
    """The case numbered ``number``; None for a number no case can have (out of the column's
    range: a subject naming ``[Case 3000000000]`` is a new contact, not a database error)."""
    if not 0 < number <= INTEGER_MAX:
        return None
    query = select(Case).where(Case.number == number)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def open_case(session: Session, runtime: Runtime, new: NewCase, now: datetime) -> Case:
    """Open a case and start paging: the one entry point intake uses.

    Idempotent on ``new.intake_key``: the same CallSid or Message-ID returns the case it
    already opened. The escalation policy and the people it resolves to are snapshotted on the
    case (see :mod:`oncall.domain.rota`), the first escalation step is due at once, and the
    triage and first-status deadlines are armed. The caller commits and wakes the sender.
    """
    if new.intake_key:
        existing = find_case_by_intake_key(session, new.intake_key)
        if existing is not None:
            return existing
    settings = runtime.settings
    team = runtime.rotas.team(new.team)
    if team is None:
        # No live rota for the customer's team is a configuration error that must still
        # reach a human: open the case anyway; the engine pages the fallback (see engine).
        log.error("no rota for team %r; case opens without an escalation policy", new.team)
        snapshot: dict[str, Any] = {}
    else:
        snapshot = policy_snapshot(team, now)
    after_hours = not is_business_hours(settings.business_hours, now, settings.zone)
    targets = sla.targets(now, settings.sla, after_hours)
    case = Case(
        number=next_case_number(session),
        team=new.team,
        customer_key=new.customer_key,
        customer_name=new.customer_name,
        plan=new.plan,
        contact_name=new.contact_name,
        contact_phone=new.contact_phone,
        contact_email=new.contact_email,
        channel=new.channel,
        severity_claimed=new.severity,
        severity=new.severity,
        state=CaseState.OPEN.value,
        summary=new.summary,
        after_hours=after_hours,
        intake_key=new.intake_key,
        opened_at=now,
        triage_due_at=targets.triage_due,
        status_due_at=targets.first_status_due,
        escalation=snapshot,
        escalation_round=0,
        recording_url=new.recording_url,
        recording_duration=new.recording_duration,
    )
    session.add(case)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another worker opened the same intake key between our check and our insert.
        if new.intake_key:
            existing = find_case_by_intake_key(session, new.intake_key)
            if existing is not None:
                return existing
        raise
    add_event(
        session,
        case,
        now,
        "opened",
        f"Case {case.number} opened by {new.channel} from {new.contact_name or 'customer'} "
        f"({new.customer_name}), S{new.severity}: {new.summary[:200]}",
        actor=new.contact_name or new.customer_name,
        channel=new.channel,
        severity=new.severity,
        after_hours=after_hours,
    )
    # The first escalation step is a deadline due now, so paging goes through the same
    # durable path as every later step: a crash right after this commit still pages.
    schedule(session, case, now, "escalate", now, seq=0)
    schedule(session, case, now, "triage_warn", sla.warn_at(targets.triage_due, settings.sla, now))
    schedule(session, case, now, "triage_due", targets.triage_due)
    schedule(
        session,
        case,
        now,
        "status_warn",
        sla.warn_at(targets.first_status_due, settings.sla, now),
        seq=0,
    )
    schedule(session, case, now, "status_due", targets.first_status_due, seq=0)
    return case


# -- refused attempts -----------------------------------------------------------------------
def record_attempt(
    session: Session,
    now: datetime,
    *,
    channel: str,
    reason: str,
    contact: str,
    told: str,
    customer_key: str | None = None,
    detail: dict[str, Any] | None = None,
    intake_key: str | None = None,
    forwarded: bool = False,
) -> Attempt:
    """Record an inbound contact that did not open a case (idempotent on ``intake_key``)."""
    if intake_key:
        existing = session.scalar(select(Attempt).where(Attempt.intake_key == intake_key))
        if existing is not None:
            return existing
    attempt = Attempt(
        at=now,
        channel=channel,
        reason=reason,
        customer_key=customer_key,
        contact=contact,
        told=told,
        detail=detail or {},
        forwarded=forwarded,
        intake_key=intake_key,
    )
    session.add(attempt)
    session.flush()
    log.info(
        "refused %s contact from %s: %s",
        channel,
        contact or "unknown",
        reason,
        extra={"customer": customer_key or "-"},
    )
    return attempt


# -- telling the customer -------------------------------------------------------------------
def case_subject(case: Case, text: str = "") -> str:
    """Every email about a case carries ``[Case N]`` so replies thread back to it."""
    return f"[Case {case.number}] {text}".rstrip()


def notify_customer(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    purpose: str,
    text: str,
    subject: str | None = None,
    sms_text: str | None = None,
    dedupe_key: str | None = None,
) -> list[OutboundMessage]:
    """Tell the customer something true about their case, on the channels we know for them.

    Email cases hear by email (threaded under ``[Case N]``); phone cases by SMS to the number
    that called; both when both are known. The message goes on the timeline with what was
    said, so the dashboard shows exactly what the customer was told.
    """
    settings = runtime.settings
    sent: list[OutboundMessage] = []
    if case.contact_email:
        message = enqueue(
            session,
            now,
            channel="email",
            purpose=purpose,
            recipient="customer",
            to=case.contact_email,
            from_address=settings.email.from_address,
            subject=case_subject(case, subject or ""),
            body=text,
            case=case,
            headers=_thread_headers(session, case),
            dedupe_key=f"{dedupe_key}:email" if dedupe_key else None,
        )
        if message is not None:
            sent.append(message)
    if case.contact_phone and (case.channel == "voice" or not case.contact_email):
        message = enqueue(
            session,
            now,
            channel="sms",
            purpose=purpose,
            recipient="customer",
            to=case.contact_phone,
            from_address=settings.twilio.critical_line,
            body=sms_text or text,
            case=case,
            dedupe_key=f"{dedupe_key}:sms" if dedupe_key else None,
        )
        if message is not None:
            sent.append(message)
    if sent:
        add_event(
            session,
            case,
            now,
            "customer_notified",
            f"Customer told ({', '.join(m.channel for m in sent)}): {text[:500]}",
            purpose=purpose,
            outbox_ids=[m.id for m in sent],
        )
    return sent


def _thread_headers(session: Session, case: Case) -> dict[str, Any]:
    """In-Reply-To/References pointing at the first email we sent about this case."""
    first = session.scalar(
        select(OutboundMessage.message_id)
        .where(
            OutboundMessage.case_id == case.id,
            OutboundMessage.channel == "email",
            OutboundMessage.message_id.is_not(None),
        )
        .order_by(OutboundMessage.id)
        .limit(1)
    )
    return {"In-Reply-To": first, "References": first} if first else {}
