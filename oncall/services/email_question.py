"""Asking, as the phone line does, when a mail's severity is unclear: a mail from a contact the
line covers that states no severity and whose words do not make it clear opens a case in state
``asked`` (nobody paged), and the customer gets at once the case number and the severity menu
by email, and by SMS when the contact has a phone on file. What their answer does is
:mod:`oncall.services.email_answers`; what the silence does, the engine's
``severity_question_timeout`` (:mod:`oncall.engine.severity_question`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.asking import MAIL_KEPT, customer_time, line_of, open_asked_case
from oncall.cases.customer import notify_customer, with_page_link
from oncall.cases.events import add_event
from oncall.cases.opening import NewCase
from oncall.cases.outbox import enqueue
from oncall.cases.page_link import page_url
from oncall.db.models import Case
from oncall.domain.enums import Purpose
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.severity import LOW_PHRASE_SEVERITY, SeverityVerdict
from oncall.domain.severity_context import new_text
from oncall.domain.severity_question import question_email, question_sms
from oncall.runtime import Runtime
from oncall.services.email_refusals import mark_auto_reply, strip_reply_prefix
from oncall.sources.customers import Contact, Customer


def ask_severity(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    key: str,
    now: datetime,
    sender: tuple[Customer, Contact],
    verdict: SeverityVerdict,
    summary: str,
    ours: bool,
) -> Case:
    """Open the asked case for ``mail`` (once per ``key``) and send the severity menu."""
    customer, contact = sender
    new = NewCase(
        customer_key=customer.key,
        customer_name=customer.name,
        plan=customer.plan.key,
        team=customer.team,
        channel="email",
        # Until the customer answers: what the timeout would page, else "not critical".
        severity=verdict.lean or LOW_PHRASE_SEVERITY,
        summary=summary,
        contact_name=contact.name or mail.from_name,
        contact_phone=contact.phone,
        contact_email=contact.email or mail.from_address,
        intake_key=key,
    )
    case, opened = open_asked_case(
        session, runtime, new, now, lean=verdict.lean, why=verdict.reason
    )
    if not opened:
        return case
    until = customer_time(runtime, now + runtime.settings.email.severity_question_timeout)
    then = f"paged as S{verdict.lean}" if verdict.lean else "forwarded to the regular queue"
    by_sms = bool(contact.phone) and not ours
    add_event(
        session,
        case,
        now,
        "severity_asked",  # ASKED_EVENT, written out for the dashboard's label check
        f"Email from {mail.from_address}: {mail.subject or '(no subject)'}. Severity unclear "
        f"({verdict.reason}): {contact.name or mail.from_address} asked by email"
        f"{' and SMS' if by_sms else ''}; no answer by {until}: {then}",
        actor=contact.name or mail.from_address,
        message_id=mail.message_id,
        subject=mail.subject[:500],
        mail_text=new_text(mail.text)[:MAIL_KEPT],
        lean=verdict.lean,
        reason=verdict.reason,
    )
    if not ours:  # a contact registered with one of our own addresses: never mail ourselves
        _send_question(session, runtime, case, mail, now, until, verdict.lean, by_sms)
    return case


def _send_question(
    session: Session,
    runtime: Runtime,
    case: Case,
    mail: InboundEmail,
    now: datetime,
    until: str,
    lean: int | None,
    by_sms: bool,
) -> None:
    line = line_of(runtime)
    sent = notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.SEVERITY_QUESTION,
        text=question_email(line, case.number, until, lean is not None, by_sms),
        subject=strip_reply_prefix(mail.subject) or "Your message to the critical line",
        dedupe_key=f"question:{case.number}",
    )
    for message in sent:
        if message.channel == "email":
            mark_auto_reply(message, mail)
    if by_sms and case.contact_phone:
        body = with_page_link(
            question_sms(line, case.number, until, lean is not None),
            page_url(runtime, case),
            sms=True,
        )
        sms = enqueue(
            session,
            now,
            channel="sms",
            purpose=Purpose.SEVERITY_QUESTION,
            recipient="customer",
            to=case.contact_phone,
            from_address=runtime.settings.twilio.critical_line,
            body=body,
            case=case,
            dedupe_key=f"question:{case.number}:sms",
        )
        if sms is not None:
            add_event(
                session,
                case,
                now,
                "customer_notified",
                f"Customer told (sms): {body}",
                purpose=Purpose.SEVERITY_QUESTION,
                outbox_ids=[sms.id],
            )
