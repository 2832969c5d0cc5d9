"""Reconciliation of sends whose outcome was lost (:func:`reconcile_stuck`, run beside every
engine tick).

A row still ``sending`` ``engine.sending_timeout`` after its attempt began lost its outcome
(the process died mid-send). It is looked up at the provider (``transport.lookup(outgoing,
since=sending_since - 1 min)``): found → ``sent`` with that provider id; not found → back to
``pending`` and sent again, because it never reached the provider. Emails have no lookup
(SMTP): an email in doubt is sent again, since a duplicate email is the lesser harm than a
customer never hearing. ``sending_timeout`` must exceed twice the transports' own timeout (a
send, then the lookup after an ambiguous error; defaults: 60 s against 10 s), so a send still
in flight is never taken for a lost one (the worker re-stamps ``sending_since`` just before
its provider call for the same reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import OutboundMessage
from oncall.db.session import transaction
from oncall.delivery.bundling import mirror, rows_of
from oncall.delivery.outcomes import mark_sent
from oncall.delivery.rows import describe, lock_row, outgoing_for, row_event
from oncall.domain.enums import OutboxState
from oncall.domain.transport import LookupResult, Outgoing
from oncall.runtime import Runtime

log = logging.getLogger("oncall.sender")

LOOKUP_SLACK = timedelta(minutes=1)  # provider clocks and our clock disagree a little


@dataclass(frozen=True)
class _InDoubt:
    """A row stuck in ``sending``, as it was when it was looked up."""

    id: int
    attempts: int
    sending_since: datetime
    channel: str
    outgoing: Outgoing


def reconcile_stuck(runtime: Runtime, now: datetime) -> int:
    """Decide rows left in ``sending`` longer than ``engine.sending_timeout`` (see above).

    The provider is asked outside any transaction (no lock held over the network); the
    decision is then applied only if the row is still in the very attempt that was looked up,
    so two engines reconciling at once never requeue a row twice.
    """
    decided = 0
    for stuck in _in_doubt(runtime, now):
        found: LookupResult | None = None
        if stuck.channel != "email":
            transport = runtime.transports.get(stuck.channel)
            try:
                found = (
                    transport.lookup(stuck.outgoing, stuck.sending_since - LOOKUP_SLACK)
                    if transport
                    else None
                )
            except Exception as exc:  # the provider cannot tell us now: ask again next tick
                log.warning("reconciling outbox %s: lookup failed (%s)", stuck.id, exc)
                continue
        with transaction(runtime.sessions) as session:
            if _decide(session, runtime, stuck, found, now):
                log.warning("reconciled outbox %s: %s", stuck.id, "sent" if found else "requeued")
                decided += 1
    return decided


def _in_doubt(runtime: Runtime, now: datetime) -> list[_InDoubt]:
    settings = runtime.settings
    cutoff = now - settings.engine.sending_timeout
    with runtime.sessions() as session:
        stuck = session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.state == OutboxState.SENDING,
                OutboundMessage.sending_since <= cutoff,
                OutboundMessage.bundled_into.is_(None),
            )
            .order_by(OutboundMessage.sending_since)
            .limit(settings.engine.batch_size)
        )
        return [
            _InDoubt(r.id, r.attempts, r.sending_since, r.channel, outgoing_for(r, runtime))
            for r in stuck
        ]


def _decide(
    session: Session,
    runtime: Runtime,
    stuck: _InDoubt,
    found: LookupResult | None,
    now: datetime,
) -> bool:
    """Sent (found at the provider) or back to pending; False if the row moved on meanwhile."""
    row = lock_row(session, stuck.id)
    if (
        row is None
        or row.state != OutboxState.SENDING
        or row.attempts != stuck.attempts
        or row.sending_since != stuck.sending_since
    ):
        return False
    if found is not None:
        mark_sent(
            session,
            runtime,
            row,
            now,
            found.provider_id,
            found.status,
            how="found at the provider after a lost outcome: counted as sent",
        )
        return True
    row.state = OutboxState.PENDING
    row.next_attempt_at = now
    row.last_error = "outcome lost mid-send; " + (
        "email has no lookup: sending again"
        if stuck.channel == "email"
        else "not found at the provider: sending again"
    )
    mirror(session, row)
    for target in rows_of(session, row):
        row_event(
            session,
            target,
            now,
            "reconciled",
            f"{describe(runtime, session, target)}: {row.last_error}",
        )
    return True
