"""Delivery status from the provider's callbacks (``POST /twilio/status``): a message or call
moves forward through its statuses (ranked in :mod:`oncall.delivery.outcomes`), a bundle's
status counts for every case in it, and a failure falls back like a permanent send error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import aliased

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

# The row a sid names and the cases it touches (its own and its bundle members'), in one
# query; built once (aliases cost more to build than the query takes to run).
_carrier, _member = aliased(OutboundMessage), aliased(OutboundMessage)
_CARRIER = (
    select(_carrier.id, _carrier.channel, _carrier.state, _carrier.status_sequence)
    .add_columns(_member.case_id)
    .join(_member, or_(_member.id == _carrier.id, _member.bundled_into == _carrier.id))
    .where(_carrier.provider_id == bindparam("sid"), _carrier.bundled_into.is_(None))
    .order_by(_carrier.id)
)


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
        found = session.execute(_CARRIER, {"sid": sid}).all()
        if not found:
            return "unknown"
        carrier_id, channel, state, sequence, _ = found[0]
        if _ignored(channel, state, sequence, status):
            # Statuses only move forward: what is stale now is stale under the lock too, so
            # a repeated or late callback is answered without locking anything.
            return "ignored"
        cases = {case for row_id, *_, case in found if row_id == carrier_id and case is not None}
        row = lock_row(session, carrier_id, cases)
        assert row is not None
        rank, outcome = status_rank(row.channel, status)
        if _ignored(row.channel, row.state, row.status_sequence, status):
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


def _ignored(channel: str, state: str, sequence: int | None, status: str) -> bool:
    """A status we don't know, for a row already decided, or not ahead of the last one."""
    rank, outcome = status_rank(channel, status)
    return outcome == StatusOutcome.UNKNOWN or state in TERMINAL or rank <= (sequence or 0)
