"""Paging people about a case: an escalation target, the case's manager, reminders and short
notices to everyone paged so far, who has been paged, and what a voice page says.

Every message is an outbox row written in the caller's transaction, deduplicated by a key, so
applying the same deadline twice never pages the same person twice for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.members import member_of
from oncall.cases.outbox import enqueue, sender_address
from oncall.db.models import Case, OutboundMessage
from oncall.domain.enums import Purpose
from oncall.domain.rota.model import Member
from oncall.domain.rota.snapshots import manager_from_snapshot
from oncall.domain.sms_text import page_text, truncate_words
from oncall.engine.unroutable import reach_fallback_humans
from oncall.runtime import Runtime


# -- pages ----------------------------------------------------------------------------------
def page_member(
    session: Session,
    runtime: Runtime,
    case: Case,
    member: Member,
    now: datetime,
    *,
    key: str,
    detail: str = "",
    purpose: Purpose = Purpose.PAGE,
    text: str | None = None,
    via: str = "sms",
    lead: str = "",
) -> OutboundMessage | None:
    """Page one person for ``case``, once per ``key``: by SMS (email if they have no phone),
    by a voice call (``via="voice"``; SMS if the call fails), or both at once. ``lead`` is said
    before the case on a call."""
    if member.phone and via in ("voice", "both"):
        call = _call_member(session, runtime, case, member, now, key=key, detail=detail, lead=lead)
        if via == "voice":
            return call
    body = text or page_text(case.number, case.severity, case.customer_name, case.summary)
    dedupe = f"page:{case.id}:{key}:{member.key}"
    if member.phone:
        channel, address, subject = "sms", member.phone, None
        how = f"SMS to {member.phone}"
    elif member.email:
        channel, address, subject = "email", member.email, f"[Case {case.number}] PAGE"
        how = f"email to {member.email} (no phone number)"
    else:
        add_event(
            session,
            case,
            now,
            "unreachable",
            f"{member.name} has neither a phone number nor an email: not paged",
            member=member.key,
        )
        return None
    message = enqueue(
        session,
        now,
        channel=channel,
        purpose=purpose,
        to=address,
        from_address=sender_address(runtime, channel),
        subject=subject,
        body=body,
        case=case,
        recipient=member.key,
        dedupe_key=dedupe,
    )
    if message is not None:
        kind = "paged" if purpose in (Purpose.PAGE, Purpose.MANAGER_PAGE) else purpose
        add_event(
            session,
            case,
            now,
            kind,
            f"Paged {member.name} by {how}" + (f" ({detail})" if detail else ""),
            member=member.key,
            outbox_id=message.id,
            purpose=purpose,
        )
    return message


def _call_member(
    session: Session,
    runtime: Runtime,
    case: Case,
    member: Member,
    now: datetime,
    *,
    key: str,
    detail: str,
    lead: str,
) -> OutboundMessage | None:
    """A voice page: the call reads the case and takes 1 to acknowledge."""
    assert member.phone is not None
    call = enqueue(
        session,
        now,
        channel="voice",
        purpose=Purpose.PAGE_VOICE,
        to=member.phone,
        from_address=runtime.settings.twilio.critical_line,
        body=voice_script(case, lead),
        headers={"via": "voice"},  # a call that fails falls back to an SMS page
        case=case,
        recipient=member.key,
        dedupe_key=f"page-voice:{case.id}:{key}:{member.key}",
    )
    if call is not None:
        add_event(
            session,
            case,
            now,
            "paged",
            f"Paged {member.name} by voice call to {member.phone}"
            + (f" ({detail})" if detail else ""),
            member=member.key,
            outbox_id=call.id,
            purpose=Purpose.PAGE_VOICE,
        )
    return call


def page_manager(
    session: Session, runtime: Runtime, case: Case, now: datetime, *, text: str, key: str
) -> OutboundMessage | None:
    """Page the case's manager (as snapshotted; else the live team's), or the fallbacks."""
    manager = manager_from_snapshot(case.escalation) if case.escalation else None
    if manager is None:
        live = runtime.rotas.team(case.team)
        manager = live.manager_member() if live is not None else None
    if manager is None:
        reach_fallback_humans(
            session, runtime, case, now, reason=f"team {case.team!r} has no manager", key=key
        )
        return None
    return page_member(
        session,
        runtime,
        case,
        manager,
        now,
        key=key,
        detail="manager",
        purpose=Purpose.MANAGER_PAGE,
        text=text,
    )


def voice_script(case: Case, lead: str = "") -> str:
    """What a voice page says: case number digit by digit, severity, customer, summary."""
    digits = " ".join(str(case.number))
    summary = truncate_words(" ".join(case.summary.split()), 300)
    text = (
        f"{lead} Critical support page. Case {digits}. Severity {case.severity}. "
        f"Customer: {case.customer_name}. {summary}"
    )
    return " ".join(text.split())


# -- who was paged --------------------------------------------------------------------------
def paged_people(session: Session, case: Case) -> dict[str, tuple[str, str]]:
    """Everyone paged for ``case`` so far: member key -> (channel, address), SMS preferred."""
    rows = session.execute(
        select(OutboundMessage.recipient, OutboundMessage.channel, OutboundMessage.to_address)
        .where(
            OutboundMessage.case_id == case.id,
            OutboundMessage.purpose.in_((Purpose.PAGE, Purpose.PAGE_VOICE, Purpose.MANAGER_PAGE)),
            OutboundMessage.recipient != "",
        )
        .order_by(OutboundMessage.id)
    ).all()
    people: dict[str, tuple[str, str]] = {}
    for key, channel, address in rows:
        if key not in people or (channel in ("sms", "voice") and people[key][0] == "email"):
            people[key] = ("sms" if channel == "voice" else channel, address)
    return people


def status_people(session: Session, runtime: Runtime, case: Case) -> dict[str, tuple[str, str]]:
    """Who owes the customer a status: the acknowledging engineer, else everyone paged."""
    member = member_of(runtime, case, case.acknowledged_by)
    if member is not None and member.phone:
        return {member.key: ("sms", member.phone)}
    if member is not None and member.email:
        return {member.key: ("email", member.email)}
    return paged_people(session, case)


def names(runtime: Runtime, case: Case, people: dict[str, Any]) -> str:
    """The people (by member key) as a list of names for the timeline."""
    found = []
    for key in people:
        member = member_of(runtime, case, key)
        found.append(member.name if member else key)
    return ", ".join(found)


# -- messages to the engineers --------------------------------------------------------------
def remind(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    key: str,
    address: str,
    text: str,
    dedupe: str,
) -> None:
    """A reminder before a target, to one engineer by SMS (or email if that is their address)."""
    channel = "email" if "@" in address else "sms"
    _to_engineer(
        session, runtime, case, now, purpose=Purpose.REMINDER, channel=channel, address=address,
        subject="Reminder", text=text, recipient=key, dedupe=dedupe,
    )  # fmt: skip


def notify_people(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    text: str,
    *,
    key: str,
    exclude: str | None = None,
) -> list[str]:
    """A short notice to everyone paged for the case (but ``exclude``), once per ``key``."""
    told = []
    for member_key, (channel, address) in paged_people(session, case).items():
        if member_key == exclude:
            continue
        message = _to_engineer(
            session, runtime, case, now, purpose=Purpose.NOTICE, channel=channel, address=address,
            subject=text, text=text, recipient=member_key, dedupe=f"{key}:{case.id}:{member_key}",
        )  # fmt: skip
        if message is not None:
            told.append(member_key)
    return told


def _to_engineer(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    purpose: Purpose,
    channel: str,
    address: str,
    subject: str,
    text: str,
    recipient: str,
    dedupe: str,
) -> OutboundMessage | None:
    """A message about ``case`` to an engineer by SMS or email (threaded under [Case N])."""
    return enqueue(
        session,
        now,
        channel=channel,
        purpose=purpose,
        to=address,
        from_address=sender_address(runtime, channel),
        subject=f"[Case {case.number}] {subject}" if channel == "email" else None,
        body=text,
        case=case,
        recipient=recipient,
        dedupe_key=dedupe,
    )
