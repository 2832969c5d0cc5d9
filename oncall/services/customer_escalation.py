"""A customer escalates their case to the duty manager: by phone (``9`` on the returning
caller's menu), by email (a reply to ``[Case N]`` whose subject or first line starts with
``ESCALATE``, or any mail to ``email.escalation_address``) or from the case page.

The team's manager (from the case's frozen escalation policy, else the live rota) gets one SMS
(email when they have no phone) with the case number, customer, severity, how long it has been
open, each SLA clock and the customer's reason. A case pages the manager at most once per
:data:`~oncall.domain.customer_side.ESCALATION_WINDOW` (30 minutes): a later escalation is
recorded on the timeline and acknowledged to the customer, who is told when the manager was
alerted. Every escalation is a ``customer_escalated`` event (the monthly SLA report counts
them), written in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.asking import customer_time
from oncall.cases.customer import tell_sender
from oncall.cases.events import add_event
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.live_rota import live_team
from oncall.cases.members import member_of
from oncall.cases.outbox import enqueue
from oncall.db.models import Case, CaseEvent
from oncall.domain.customer_side import (
    ESCALATION_WINDOW,
    escalation_ack,
    escalation_page,
    escalation_reason,
)
from oncall.domain.enums import Purpose
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.mail.text import strip_quoted_reply
from oncall.domain.rota.model import Member
from oncall.domain.rota.snapshots import manager_from_snapshot
from oncall.domain.sla_clock import sla_clock
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.runtime import Runtime
from oncall.services.email_refusals import mark_auto_reply, strip_reply_prefix
from oncall.services.receipts import DEDUPE_MAX, bounded_key


@dataclass(frozen=True)
class Escalation:
    """What became of one escalation, for what the customer is told."""

    case_number: int
    paged: bool  # False: the manager was already paged for this case within the window
    alerted: str  # who: the manager's name, or "our support team"
    first_at: datetime  # when the manager was paged (now, or the earlier escalation)

    def acknowledgement(self, runtime: Runtime) -> str:
        return escalation_ack(
            self.case_number, self.alerted, self.paged, customer_time(runtime, self.first_at)
        )


def duty_manager(session: Session, runtime: Runtime, case: Case, now: datetime) -> Member | None:
    """The case's team manager: as frozen on the case when it opened, else the live rota's."""
    frozen = manager_from_snapshot(case.escalation) if case.escalation else None
    if frozen is not None:
        return frozen
    live = live_team(session, runtime, case.team, now)
    return live.manager_member() if live is not None else None


def last_page(session: Session, case: Case, now: datetime) -> CaseEvent | None:
    """The escalation that paged the manager within the window, if any."""
    recent = session.scalars(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case.id,
            CaseEvent.kind == "customer_escalated",
            CaseEvent.at > now - ESCALATION_WINDOW,
        )
        .order_by(CaseEvent.id.desc())
    )
    return next((e for e in recent if (e.data or {}).get("paged")), None)


def escalate_for_customer(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    via: str,
    by: str,
    reason: str,
    key: str,
) -> Escalation:
    """Record the escalation and page the duty manager unless they were paged for this case
    in the last 30 minutes. ``key`` (the mail's, call's or form post's) makes it happen once."""
    reason = " ".join((reason or "").split())[:1000]
    manager = duty_manager(session, runtime, case, now)
    earlier = last_page(session, case, now)
    alerted = manager.name if manager is not None else "our support team"
    if earlier is not None:
        add_event(
            session,
            case,
            now,
            "customer_escalated",
            f"{by} escalated again by {via} (the duty manager was paged at "
            f"{customer_time(runtime, earlier.at)}; not paged again)"
            + (f": {reason}" if reason else ""),
            actor=by,
            via=via,
            reason=reason,
            paged=False,
        )
        return Escalation(
            case.number, False, (earlier.data or {}).get("alerted") or alerted, earlier.at
        )
    text = _page_text(session, runtime, case, now, reason)
    reached = _page(session, runtime, case, now, manager, text, key)
    if not reached:
        # No manager with a phone or address: a person in the support queue must see it.
        forward_to_support_queue(
            session,
            runtime,
            now,
            subject=f"Customer escalation of case {case.number} ({case.customer_name})",
            body=f"{text}\n\nNo duty manager could be alerted for team {case.team}.",
            dedupe_key=bounded_key("forward:", f"escalation:{key}", DEDUPE_MAX),
            case=case,
        )
        alerted = "our support team"
    add_event(
        session,
        case,
        now,
        "customer_escalated",
        f"{by} escalated the case by {via}; {alerted} alerted" + (f": {reason}" if reason else ""),
        actor=by,
        via=via,
        reason=reason,
        paged=True,
        alerted=alerted,
        manager=manager.key if manager is not None and reached else None,
    )
    return Escalation(case.number, True, alerted, now)


def _page_text(session: Session, runtime: Runtime, case: Case, now: datetime, reason: str) -> str:
    warn = runtime.settings.sla.warn_before
    clocks = [
        ("triage", sla_clock(case.triage_due_at, now, warn, met=case.acknowledged_at is not None)),
        ("status", sla_clock(case.status_due_at, now, warn, met=not case.is_open)),
    ]
    if case.acknowledged_by:
        engineer = member_of(runtime, case, case.acknowledged_by)
        working = f"{engineer.name if engineer else case.acknowledged_by} has it"
    else:
        working = "not acknowledged yet"
    text = escalation_page(
        case.number, case.customer_name, case.severity, case.opened_at, now, clocks, reason,
        working,
    )  # fmt: skip
    return truncate_words(to_gsm7(text), 459)  # three SMS segments at most


def _page(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    manager: Member | None,
    text: str,
    key: str,
) -> bool:
    if manager is None or not (manager.phone or manager.email):
        return False
    channel = "sms" if manager.phone else "email"
    enqueue(
        session,
        now,
        channel=channel,
        # A manager page: the manager may then act on the case by SMS (ACK, STATUS ...).
        purpose=Purpose.MANAGER_PAGE,
        recipient=manager.key,
        to=manager.phone or manager.email or "",
        from_address=(
            runtime.settings.twilio.critical_line
            if channel == "sms"
            else runtime.settings.email.from_address
        ),
        subject=f"Customer escalation: case {case.number}" if channel == "email" else None,
        body=text,
        case=case,
        dedupe_key=bounded_key("escalation:", f"{key}:{manager.key}", DEDUPE_MAX),
    )
    return True  # queued now, or already under this key (a retried request)


# -- by email ------------------------------------------------------------------------------------
def email_escalation(runtime: Runtime, mail: InboundEmail) -> str | None:
    """The customer's reason when ``mail`` asks to escalate (ESCALATE first in the subject or
    the first line, or mail to ``email.escalation_address``); None when it does not."""
    lines = [line.strip() for line in strip_quoted_reply(mail.text).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    reason = escalation_reason(mail.subject, first)
    address = runtime.settings.email.escalation_address
    to_us = bool(address) and address in {*mail.to, *mail.cc, *mail.envelope_to}
    if reason is None and not to_us:
        return None
    if reason:
        return reason
    # "ESCALATE" alone, or a mail to the escalation address: the words are the reason.
    rest = lines[1:] if escalation_reason("", first) is not None else lines
    return " ".join(rest) or strip_reply_prefix(mail.subject)


def escalate_by_email(
    session: Session,
    runtime: Runtime,
    case: Case,
    mail: InboundEmail,
    key: str,
    now: datetime,
    reason: str,
    *,
    answer: bool,
) -> Escalation:
    """An emailed escalation: the manager paged (once per window), the sender told who."""
    match = runtime.directory().by_email(mail.from_address)
    by = (match[1].name if match else "") or mail.from_name or mail.from_address
    done = escalate_for_customer(
        session, runtime, case, now, via="email", by=by, reason=reason, key=key
    )
    if answer:
        message = tell_sender(
            session,
            runtime,
            case,
            now,
            to=mail.from_address,
            purpose=Purpose.ESCALATED,
            text=done.acknowledgement(runtime),
            subject="Your escalation",
            dedupe_key=bounded_key("escalated:", key, DEDUPE_MAX),
        )
        if message is not None:
            mark_auto_reply(message, mail)
    return done
