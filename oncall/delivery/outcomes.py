"""Recording what became of an outbox row, shared by the worker, reconciliation and status
callbacks: sent (with the provider's id), delivered, or failed (then the fallback); each on
the timeline of every case the row carries (a bundle carries several).

Provider statuses are ranked so they only move forward: terminal ones (4 = delivered,
5 = failed) end the row, and whichever terminal status arrives first wins.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from oncall.db.models import OutboundMessage
from oncall.delivery.bundling import mirror, rows_of
from oncall.delivery.fallback import fallback
from oncall.delivery.rows import describe, row_event
from oncall.domain.enums import OutboxState
from oncall.runtime import Runtime

log = logging.getLogger("oncall.sender")

TERMINAL = (OutboxState.DELIVERED, OutboxState.FAILED, OutboxState.CANCELLED)


class StatusOutcome(StrEnum):
    """What a provider status means for the row."""

    UNKNOWN = "unknown"  # a status we do not know: ignored
    PROGRESS = "progress"  # queued, sending, ringing ...: recorded, nothing follows
    DELIVERED = "delivered"
    FAILED = "failed"  # falls back like a permanent send error


_SMS_RANKS = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 4,
    "partially_delivered": 4,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
}
_VOICE_RANKS = {
    "queued": 1,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "answered": 3,
    "completed": 4,
    "busy": 5,
    "no-answer": 5,
    "failed": 5,
    "canceled": 5,
}


def status_rank(channel: str, status: str | None) -> tuple[int, StatusOutcome]:
    """``(rank, outcome)`` of a provider status on ``channel``."""
    ranks = _VOICE_RANKS if channel == "voice" else _SMS_RANKS
    rank = ranks.get((status or "").lower(), 0)
    if rank == 0:
        return rank, StatusOutcome.UNKNOWN
    terminal = {4: StatusOutcome.DELIVERED, 5: StatusOutcome.FAILED}
    return rank, terminal.get(rank, StatusOutcome.PROGRESS)


def mark_sent(
    session: Session,
    runtime: Runtime,
    row: OutboundMessage,
    now: datetime,
    provider_id: str | None,
    status: str | None,
    how: str = "sent",
) -> None:
    row.state = OutboxState.SENT
    row.provider_id = provider_id[:64] if provider_id else None  # an email's Message-ID can be long
    row.provider_status = status
    row.status_sequence = max(row.status_sequence or 0, status_rank(row.channel, status)[0])
    row.sent_at = now
    row.last_error = None
    row.error_code = None
    mirror(session, row)
    for target in rows_of(session, row):
        row_event(
            session,
            target,
            now,
            "sent",
            f"{describe(runtime, session, target)} {how}"
            + (f" ({provider_id})" if provider_id else ""),
        )


def mark_delivered(session: Session, runtime: Runtime, row: OutboundMessage, now: datetime) -> None:
    row.state = OutboxState.DELIVERED
    row.delivered_at = now
    mirror(session, row)
    what = "answered" if row.channel == "voice" else "delivered"
    for target in rows_of(session, row):
        row_event(session, target, now, "delivered", f"{describe(runtime, session, target)} {what}")


def fail(
    session: Session,
    runtime: Runtime,
    row: OutboundMessage,
    now: datetime,
    *,
    reason: str,
    code: int | None = None,
) -> None:
    """``row`` ended badly: record it and fall back (:mod:`oncall.delivery.fallback`)."""
    row.state = OutboxState.FAILED
    row.error_code = code if code is not None else row.error_code
    row.last_error = reason[:2000]
    mirror(session, row)
    log.error(
        "outbox %s (%s %s to %s) failed: %s",
        row.id,
        row.purpose,
        row.channel,
        row.to_address,
        reason,
    )
    for target in rows_of(session, row):
        row_event(
            session,
            target,
            now,
            "failed",
            f"{describe(runtime, session, target)} failed: {reason}"
            + (f" (error {code})" if code else ""),
        )
        fallback(session, runtime, target, now, reason=reason, code=code)
