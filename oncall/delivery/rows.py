"""An outbox row as delivery handles it: the lock order for changing one, the transport's view
of it, and how it is named on its case's timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.members import member_of
from oncall.db.models import Case, OutboundMessage
from oncall.domain.enums import Purpose
from oncall.domain.transport import Outgoing
from oncall.runtime import Runtime


def lock_row(
    session: Session, row_id: int, case_ids: set[int] | None = None
) -> OutboundMessage | None:
    """Lock the cases a row touches, then the row (the lock order of :mod:`oncall.engine.tick`).

    ``case_ids``: those cases (the row's and its bundle members'), when the caller read them
    already; otherwise they are read here."""
    if case_ids is None:
        case_ids = {
            case_id
            for (case_id,) in session.execute(
                select(OutboundMessage.case_id).where(
                    (OutboundMessage.id == row_id) | (OutboundMessage.bundled_into == row_id)
                )
            )
            if case_id is not None
        }
    if case_ids:
        # Loaded, not just locked, and kept referenced (the identity map is weak): the events
        # written next need them, and would otherwise read each case again.
        session.info["locked_cases"] = session.scalars(
            select(Case).where(Case.id.in_(sorted(case_ids))).order_by(Case.id).with_for_update()
        ).all()
    return session.get(OutboundMessage, row_id, with_for_update=True, populate_existing=True)


def outgoing_for(row: OutboundMessage, runtime: Runtime) -> Outgoing:
    """The transport's view of a row."""
    base = runtime.settings.public_url
    headers = dict(row.headers or {})
    if row.channel == "email" and row.message_id:
        headers.setdefault("Message-ID", row.message_id)
    return Outgoing(
        id=row.id,
        channel=row.channel,
        to=row.to_address,
        from_=row.from_address,
        body=row.body,
        subject=row.subject,
        headers=headers,
        status_callback=f"{base}/twilio/status" if row.channel in ("sms", "voice") else None,
        voice_url=f"{base}/twilio/page/{row.id}" if row.channel == "voice" else None,
    )


# -- naming a row on the timeline -----------------------------------------------------------
_LABELS = {
    Purpose.PAGE: "Page",
    Purpose.PAGE_VOICE: "Voice page",
    Purpose.PAGE_BUNDLE: "Bundled page",
    Purpose.MANAGER_PAGE: "Manager page",
    Purpose.REMINDER: "Reminder",
    Purpose.FORWARD: "Forward to the support queue",
    Purpose.SECURITY_ALERT: "Security alert",
}


def describe(runtime: Runtime, session: Session, row: OutboundMessage) -> str:
    """What the row is, by which channel, to whom: ``Page (SMS) to Alice Ng (+1555...)``."""
    label = _LABELS.get(row.purpose)
    if label is None:
        label = "Message to the customer" if row.recipient == "customer" else "Message"
    channel = {"sms": "SMS", "voice": "call", "email": "email"}.get(row.channel, row.channel)
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    return f"{label} ({channel}) to {who(runtime, case, row)}"


def who(runtime: Runtime, case: Case | None, row: OutboundMessage) -> str:
    """The row's recipient by name and address, as far as we know them."""
    if row.recipient and row.recipient != "customer" and case is not None:
        member = member_of(runtime, case, row.recipient)
        if member is not None:
            return f"{member.name} ({row.to_address})"
    if row.recipient == "customer":
        return f"the customer ({row.to_address})"
    return row.to_address


def row_event(session: Session, row: OutboundMessage, now: datetime, kind: str, text: str) -> None:
    """An event about ``row`` on its case's timeline (nothing for a row without a case)."""
    if row.case_id is None:
        return
    case = session.get(Case, row.case_id)
    if case is not None:
        add_event(
            session,
            case,
            now,
            kind,
            text,
            outbox_id=row.id,
            channel=row.channel,
            purpose=row.purpose,
        )
