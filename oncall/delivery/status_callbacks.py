"""Delivery status from the provider's callbacks (``POST /twilio/status``): a message or call
moves forward through its statuses (ranked in :mod:`oncall.delivery.outcomes`), a bundle's
status counts for every case in it, and a failure falls back like a permanent send error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from oncall.db.models import OutboundMessage
from oncall.db.session import transaction
from oncall.delivery.bundling import mirror
from oncall.delivery.outcomes import (
    TERMINAL,
    StatusOutcome,
    fail,
    mark_delivered,
    status_rank,
)
from oncall.delivery.rows import lock_row
from oncall.runtime import Runtime


def apply_status_callback(
    runtime: Runtime,
    sid: str,
    status: str,
    now: datetime,
    *,
    error_code: int | None = None,
) -> str:
    """Apply a Twilio status callback for ``sid``; returns unknown | ignored | applied.

    Idempotent and order-proof: a status at or below the row's current rank, or any status
    after a terminal one, changes nothing. ``undelivered``/``failed`` (and for calls ``busy``,
    ``no-answer``, ``failed``, ``canceled``) trigger the same fallback as a permanent error.
    """
    with transaction(runtime.sessions) as session:
        carrier_id = session.scalar(
            select(OutboundMessage.id)
            .where(OutboundMessage.provider_id == sid, OutboundMessage.bundled_into.is_(None))
            .order_by(OutboundMessage.id)
            .limit(1)
        )
        if carrier_id is None:
            return "unknown"
        row = lock_row(session, carrier_id)
        assert row is not None
        rank, outcome = status_rank(row.channel, status)
        stale = rank <= (row.status_sequence or 0)
        if outcome == StatusOutcome.UNKNOWN or row.state in TERMINAL or stale:
            return "ignored"
        row.provider_status = status
        row.status_sequence = rank
        if outcome == StatusOutcome.DELIVERED:
            mark_delivered(session, runtime, row, now)
        elif outcome == StatusOutcome.FAILED:
            fail(session, runtime, row, now, reason=f"provider reported {status}", code=error_code)
        else:
            mirror(session, row)
    runtime.wake_sender()
    return "applied"
