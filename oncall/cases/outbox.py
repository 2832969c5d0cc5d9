"""Outbox rows: adding a message inside the caller's transaction (once per dedupe key), the
flag that tells the caller to wake the sender, and the backlog that health and metrics read.

Sending them is the delivery worker's job (:mod:`oncall.delivery.worker`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from oncall.cases.batch_writes import NotBatched, queue_in_batch
from oncall.clock import ensure_aware
from oncall.db.models import Case, OutboundMessage
from oncall.db.upsert import attach_inserted, insert_once
from oncall.domain.enums import ENGINEER_PAGE_PURPOSES, OutboxState, Purpose
from oncall.domain.rota.model import Member
from oncall.runtime import Runtime

# ``session.info`` flag set by :func:`enqueue`, and by whoever makes a timer due at once
# (:func:`oncall.cases.deadlines.schedule`, the engine pulling a step forward): a transaction
# that left nothing due need not wake the sender (a wake costs the sender claim queries that
# would find nothing).
_WORK_DUE = "oncall.work_due"


def mark_work_due(session: Session) -> None:
    """This transaction leaves work due now: its caller should wake the sender."""
    session.info[_WORK_DUE] = True


def has_work_due(session: Session) -> bool:
    return bool(session.info.get(_WORK_DUE))


def sender_address(runtime: Runtime, channel: str) -> str:
    """Who our messages come from on ``channel``: the email address or the critical line."""
    settings = runtime.settings
    return settings.email.from_address if channel == "email" else settings.twilio.critical_line


def enqueue(
    session: Session,
    now: datetime,
    *,
    channel: str,
    purpose: Purpose,
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

    Returns None when a row with the same dedupe key already exists. A case the customer
    reopened runs its escalation and notices again: its keys carry the reopen's number, so a
    page or notice of the first run never stops the same one of the next.
    """
    if dedupe_key is not None and case is not None and case.reopen_count:
        dedupe_key = f"{dedupe_key[:190]}#r{case.reopen_count}"
    values = {
        "case_id": case.id if case is not None else None,
        "channel": channel,
        "purpose": purpose,
        "recipient": recipient,
        "to_address": to,
        "from_address": from_address,
        "subject": subject,
        "body": body,
        "headers": headers or {},
        "message_id": message_id,
        "state": OutboxState.PENDING,
        "attempts": 0,
        "status_sequence": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
        "dedupe_key": dedupe_key,
        "fallback_of": fallback_of,
    }
    batched = queue_in_batch(session, OutboundMessage, values)  # the engine's batch
    if not isinstance(batched, NotBatched):
        if batched is None:
            return None
        message = batched
    elif dedupe_key is None:
        message = OutboundMessage(**values)
        session.add(message)
        session.flush()
    else:
        # One round trip instead of a look-up and an insert: the unique dedupe key decides,
        # and a concurrent enqueue of the same key waits for the first and then adds nothing.
        session.flush()  # what the session holds goes first, as autoflush would have
        new_id = insert_once(
            session, OutboundMessage.__table__, values, conflict="dedupe_key", returning="id"
        )
        if new_id is None:
            return None
        message = attach_inserted(session, OutboundMessage, new_id, values)
    mark_work_due(session)
    return message


def tell_member(
    session: Session,
    runtime: Runtime,
    now: datetime,
    member: Member,
    *,
    purpose: Purpose,
    text: str,
    subject: str,
    dedupe_key: str,
) -> OutboundMessage | None:
    """A message to a rota member about the rota, not a case: by SMS, or by email when they
    have no phone (None: neither, or already sent under ``dedupe_key``)."""
    if member.phone:
        channel, address = "sms", member.phone
    elif member.email:
        channel, address = "email", member.email
    else:
        return None
    return enqueue(
        session,
        now,
        channel=channel,
        purpose=purpose,
        to=address,
        from_address=sender_address(runtime, channel),
        subject=subject if channel == "email" else None,
        body=text,
        recipient=member.key,
        dedupe_key=dedupe_key,
    )


class Reached(StrEnum):
    """Who has been told about a case that just opened: what the caller and customer hear."""

    ENGINEER = "engineer"  # a page to a person on the escalation was queued
    MANAGERS = "managers"  # nobody could be paged; the managers were alerted instead
    NOBODY = "nobody"  # not even a manager: only the regular support queue was emailed


def who_was_reached(session: Session, case: Case) -> Reached:
    """An engineer paged for ``case`` (or somebody acknowledged it), else managers alerted
    about it (a manager page to a person), else nobody."""
    if engineer_paged(session, case):
        return Reached.ENGINEER
    alerted = session.scalar(
        select(OutboundMessage.id)
        .where(
            OutboundMessage.case_id == case.id,
            OutboundMessage.purpose == Purpose.MANAGER_PAGE,
            OutboundMessage.recipient != "",
            *_this_run(case),
        )
        .limit(1)
    )
    return Reached.MANAGERS if alerted is not None else Reached.NOBODY


def engineer_paged(session: Session, case: Case) -> bool:
    """Whether a page about ``case`` was queued for a person on its escalation (SMS, voice,
    or riding in a bundle), or somebody already acknowledged it.

    What the caller hears and the customer reads depends on it: "the on-call engineer has been
    paged" is only said when this is true. An alert to a manager about a case nobody could be
    paged for does not count.
    """
    if case.acknowledged_at is not None:
        return True
    found = session.scalar(
        select(OutboundMessage.id)
        .where(
            OutboundMessage.case_id == case.id,
            OutboundMessage.purpose.in_(ENGINEER_PAGE_PURPOSES),
            OutboundMessage.recipient != "",
            *_this_run(case),
        )
        .limit(1)
    )
    return found is not None


def _this_run(case: Case) -> tuple[Any, ...]:
    """A reopened case counts only the pages since its reopen: the earlier ones are history."""
    if case.reopened_at is None:
        return ()
    return (OutboundMessage.created_at >= case.reopened_at,)


def outbox_backlog(session: Session, now: datetime) -> tuple[int, float | None]:
    """How many messages wait to go out, and how long the oldest has been waiting (seconds).

    Age counts from when the message was queued, not from its next retry: during a provider
    outage backoff keeps pushing ``next_attempt_at`` forward, and an age measured from it would
    stay near zero while pages pile up. Messages scheduled for later that have never been tried
    do not count until they are due.
    """
    waiting = OutboundMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING])
    due = or_(OutboundMessage.attempts > 0, OutboundMessage.next_attempt_at <= now)
    depth, oldest = session.execute(
        select(func.count(), func.min(OutboundMessage.created_at)).where(waiting, due)
    ).one()
    if oldest is None:
        return int(depth or 0), None
    # min() loses the column type on SQLite: the value may come back naive.
    return int(depth), max((now - ensure_aware(oldest)).total_seconds(), 0.0)
