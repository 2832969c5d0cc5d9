"""Telling the customer: messages about their case on the channels we know for them, threaded
under ``[Case N]``, and recorded on the timeline with exactly what was said."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.outbox import enqueue
from oncall.cases.page_link import page_url
from oncall.db.models import Case, OutboundMessage
from oncall.domain.enums import Purpose
from oncall.runtime import Runtime


def case_subject(case: Case, text: str = "") -> str:
    """Every email about a case carries ``[Case N]`` so replies thread back to it."""
    return f"[Case {case.number}] {text}".rstrip()


def notify_customer(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    purpose: Purpose,
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
    link = page_url(runtime, case)
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
            body=with_page_link(text, link),
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
            body=with_page_link(sms_text or text, link, sms=True),
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


def with_page_link(text: str, link: str, sms: bool = False) -> str:
    """Every customer message ends with the link to the case's page."""
    if sms:
        return f"{text}\nCase page: {link}"
    return f"{text}\n\nSee your case, add information or escalate it: {link}"


def tell_sender(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    to: str,
    purpose: Purpose,
    text: str,
    subject: str,
    dedupe_key: str,
) -> OutboundMessage | None:
    """An email about ``case`` to whoever wrote to us (maybe not the case's contact),
    threaded under ``[Case N]`` and carrying the case page's link; on the timeline too."""
    message = enqueue(
        session,
        now,
        channel="email",
        purpose=purpose,
        recipient="customer",
        to=to,
        from_address=runtime.settings.email.from_address,
        subject=case_subject(case, subject),
        body=with_page_link(text, page_url(runtime, case)),
        case=case,
        headers=_thread_headers(session, case),
        dedupe_key=dedupe_key,
    )
    if message is not None:
        add_event(
            session,
            case,
            now,
            "customer_notified",
            f"Customer told (email to {to}): {text[:500]}",
            purpose=purpose,
            outbox_ids=[message.id],
        )
    return message


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
