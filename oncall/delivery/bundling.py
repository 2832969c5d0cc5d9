"""Bundling pages per person (SMS pages only; :func:`plan_bundles`). Nothing is ever held back
except a *repeat* page, and never for longer than ``engine.sms_rate_window``:

1. the first page of a case to a person is never delayed;
2. pages to one person for two or more different cases that are due together go out as one
   SMS (``bundle_text``: "3 new critical cases: 1042 Acme S1, ... Reply ACK ALL or ACK <case>",
   every case number up to ``engine.bundle_max_cases``, as a multi-part SMS if need be); the
   rows are marked ``bundled_into`` the bundle row and follow its fate (sent, delivered,
   failed, fallback);
3. a repeat page (the case already paged this person) for a *different* case than the last
   page SMS that person got within the window is held until that page's time + the window,
   and then goes out together with whatever else is due for them by then;
4. two pages of the same case are never merged: one rides in the bundle, the other goes alone.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.db.models import Case, OutboundMessage
from oncall.delivery.rows import who
from oncall.domain.enums import OutboxState, Purpose
from oncall.domain.sms_text import bundle_text
from oncall.runtime import Runtime

log = logging.getLogger("oncall.sender")


def plan_bundles(
    session: Session, runtime: Runtime, rows: list[OutboundMessage], now: datetime
) -> list[OutboundMessage]:
    """Apply the bundling rule (module docstring) to claimed rows; returns what to send now.

    Held rows get a later ``next_attempt_at`` and stay pending; bundled rows are replaced by
    one new bundle row.
    """
    window = runtime.settings.engine.sms_rate_window
    if window <= timedelta(0):
        return rows
    by_phone: dict[str, list[OutboundMessage]] = defaultdict(list)
    send: list[OutboundMessage] = []
    for row in rows:
        if row.channel == "sms" and row.purpose == Purpose.PAGE and row.case_id is not None:
            by_phone[row.to_address].append(row)
        else:
            send.append(row)
    claimed_ids = [r.id for r in rows]
    for phone, group in by_phone.items():
        now_group = _not_held(session, phone, group, claimed_ids, now, window)
        firsts: dict[int, OutboundMessage] = {}
        extras: list[OutboundMessage] = []
        for row in now_group:
            assert row.case_id is not None
            if row.case_id in firsts:
                extras.append(row)  # same case twice: never merged
            else:
                firsts[row.case_id] = row
        send.extend(extras)
        if len(firsts) < 2:
            send.extend(firsts.values())
            continue
        send.append(_make_bundle(session, runtime, phone, list(firsts.values()), now))
    return send


def _not_held(
    session: Session,
    phone: str,
    group: list[OutboundMessage],
    claimed_ids: list[int],
    now: datetime,
    window: timedelta,
) -> list[OutboundMessage]:
    """Rule 3: hold the repeat pages for other cases inside the window; the rest go now."""
    last = _last_page(session, phone, claimed_ids)
    now_group: list[OutboundMessage] = []
    for row in group:
        repeat = _paged_before(session, row)
        if repeat and last is not None and last[0] > now - window and row.case_id != last[1]:
            row.next_attempt_at = last[0] + window  # held, never past the window
            log.info(
                "page %s to %s held until %s to bundle",
                row.id,
                phone,
                row.next_attempt_at.isoformat(),
            )
            continue
        now_group.append(row)
    return now_group


def _last_page(session: Session, phone: str, exclude: list[int]) -> tuple[datetime, int] | None:
    """When this phone last got a page SMS (and for which case; 0 for a bundle)."""
    row = session.execute(
        select(
            func.coalesce(OutboundMessage.sent_at, OutboundMessage.sending_since),
            OutboundMessage.case_id,
        )
        .where(
            OutboundMessage.to_address == phone,
            OutboundMessage.channel == "sms",
            OutboundMessage.purpose.in_((Purpose.PAGE, Purpose.PAGE_BUNDLE)),
            OutboundMessage.bundled_into.is_(None),
            OutboundMessage.state.in_(
                (OutboxState.SENDING, OutboxState.SENT, OutboxState.DELIVERED)
            ),
            OutboundMessage.id.not_in(exclude),
        )
        .order_by(func.coalesce(OutboundMessage.sent_at, OutboundMessage.sending_since).desc())
        .limit(1)
    ).first()
    if row is None or row[0] is None:
        return None
    at = row[0]
    if isinstance(at, str):  # defensive: a driver that hands coalesce() back untyped
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at, row[1] or 0


def _paged_before(session: Session, row: OutboundMessage) -> bool:
    """Whether this person already got (or was sent) a page for this case."""
    return (
        session.scalar(
            select(OutboundMessage.id)
            .where(
                OutboundMessage.case_id == row.case_id,
                OutboundMessage.to_address == row.to_address,
                OutboundMessage.purpose.in_((Purpose.PAGE, Purpose.PAGE_VOICE)),
                OutboundMessage.id != row.id,
                OutboundMessage.state.in_(
                    (
                        OutboxState.SENDING,
                        OutboxState.SENT,
                        OutboxState.DELIVERED,
                        OutboxState.FAILED,
                    )
                ),
            )
            .limit(1)
        )
        is not None
    )


def _make_bundle(
    session: Session, runtime: Runtime, phone: str, members: list[OutboundMessage], now: datetime
) -> OutboundMessage:
    cases = {
        c.id: c
        for c in session.scalars(select(Case).where(Case.id.in_([m.case_id for m in members])))
    }
    items = [
        (cases[m.case_id].number, cases[m.case_id].severity, cases[m.case_id].customer_name)
        for m in members
    ]
    bundle = OutboundMessage(
        case_id=None,
        channel="sms",
        purpose=Purpose.PAGE_BUNDLE,
        recipient=members[0].recipient,
        to_address=phone,
        from_address=members[0].from_address,
        body=bundle_text(
            items,
            max_cases=runtime.settings.engine.bundle_max_cases,
            more_link=f"{runtime.settings.public_url}/cases",
        ),
        headers={},
        state=OutboxState.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(bundle)
    session.flush()
    numbers = ", ".join(str(n) for n, _s, _c in items)
    for member in members:
        member.bundled_into = bundle.id
        case = cases[member.case_id]
        add_event(
            session,
            case,
            now,
            "bundled",
            f"Page to {who(runtime, case, member)} sent in one SMS with cases {numbers} "
            "(several pages due together)",
            outbox_id=member.id,
            bundle_id=bundle.id,
        )
    return bundle


# -- rows riding in a bundle ----------------------------------------------------------------
def mirror(session: Session, carrier: OutboundMessage) -> None:
    """Rows riding in a bundle follow the bundle's state."""
    if carrier.purpose != Purpose.PAGE_BUNDLE:
        return
    session.flush()
    for member in session.scalars(
        select(OutboundMessage).where(OutboundMessage.bundled_into == carrier.id)
    ):
        member.state = carrier.state
        member.attempts = carrier.attempts
        member.sending_since = carrier.sending_since
        member.sent_at = carrier.sent_at
        member.delivered_at = carrier.delivered_at
        member.provider_id = carrier.provider_id
        member.provider_status = carrier.provider_status
        member.status_sequence = carrier.status_sequence
        member.error_code = carrier.error_code
        member.last_error = carrier.last_error
        member.next_attempt_at = carrier.next_attempt_at


def rows_of(session: Session, row: OutboundMessage) -> list[OutboundMessage]:
    """The rows whose cases an outcome concerns: the bundle's members, or the row itself."""
    if row.purpose == Purpose.PAGE_BUNDLE:
        return list(
            session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.bundled_into == row.id)
                .order_by(OutboundMessage.id)
            )
        )
    return [row]
