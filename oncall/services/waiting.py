"""Waiting for the customer: an engineer's ``WAIT [case] <question>`` (SMS, the dashboard's
Wait button, ``POST /api/cases/<n>/wait``) and the customer's answer.

Like the other case actions these work inside the caller's transaction; the caller commits and
wakes the sender.

Rules decided here:

* **WAIT** sends the question to the customer by email (threaded under ``[Case N]``) and by
  SMS from the critical line's number (when a phone is on file), and pauses the status
  clocks (:mod:`oncall.cases.waiting`): no status reminder, no status breach while the
  vendor waits. It implies the acknowledgement, as a STATUS does (whoever asks the customer
  has looked at the case). A second WAIT sends the new question; the wait still counts from
  the first.
* **The answer** is the customer's next reply about the case: an email reply to
  ``[Case N]`` (relayed to the engineer's phone like every reply) or an SMS from a contact's
  phone to the critical line's number (relayed here). Either resumes the clocks with the time
  they had left. A ``STATUS`` from the engineer resumes them too
  (:func:`oncall.services.case_actions.post_status`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.customer import notify_customer
from oncall.cases.events import add_event, note_data
from oncall.cases.outbox import enqueue
from oncall.cases.waiting import pause_clocks, resume_clocks
from oncall.db.models import Case
from oncall.domain.enums import CaseState, Purpose
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.engine.wording import case_zone, hhmm
from oncall.runtime import Runtime
from oncall.services.case_actions import closed_reply, lock_case, member_name, record_ack
from oncall.services.customer_relay import relay_at_once
from oncall.services.receipts import DEDUPE_MAX, bounded_key

MAX_QUESTION = 1000


def wait_for_customer(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    question: str,
    now: datetime,
    *,
    name: str | None = None,
) -> str:
    """WAIT: ask the customer ``question`` and pause the status clocks until they answer."""
    case = lock_case(session, case)
    if not case.is_open:
        return closed_reply(case) + " Nothing was asked."
    question = " ".join((question or "").split())[:MAX_QUESTION]
    if not question:
        return f"WAIT needs the question for the customer, e.g. WAIT {case.number} Which region?"
    name = name or member_name(runtime, case, member_key)
    if case.acknowledged_at is None:
        record_ack(session, runtime, case, member_key, now, "wait", tell_customer=False, name=name)
    already = case.state == CaseState.WAITING_CUSTOMER.value
    pause_clocks(session, case, now)
    channels = _ask(session, runtime, case, name, question, now)
    zone = case_zone(runtime, case)
    since = hhmm(case.waiting_since, zone) if case.waiting_since else hhmm(now, zone)
    add_event(
        session,
        case,
        now,
        "waiting_customer",
        f"{name} asked the customer ({', '.join(channels) or 'no channel known'}): {question}"
        f" - waiting for the customer since {since}; status clocks paused",
        actor=name,
        member=member_key,
        question=question,
        **note_data("WAIT", question),
    )
    label = truncate_words(to_gsm7(case.customer_name), 30)
    if not channels:
        return (
            f"{case.number}: no email or phone on file for {label}; the question was not sent. "
            "Clocks paused anyway."
        )
    again = f" Still waiting since {since}." if already else ""
    return (
        f"Asked {label} ({'+'.join(channels)}) about {case.number}. Status clocks paused until "
        f"they answer or you send STATUS {case.number}.{again}"
    )


def _ask(
    session: Session, runtime: Runtime, case: Case, name: str, question: str, now: datetime
) -> list[str]:
    """The question to the customer by email and SMS; the channels it went out on."""
    line = runtime.settings.twilio.critical_line
    how = "Reply to this email" + (f", or text your answer to {line}," if line else "")
    text = (
        f"{name}, the engineer working on your case {case.number}, has a question:\n\n"
        f"{question}\n\n{how} and we will pass your answer on at once. While we wait for "
        "your answer, the time we take to reply to you does not count against your case."
    )
    # One dedupe key per question: the same WAIT repeated (a retried webhook) asks once.
    key = bounded_key(f"wait:{case.id}:", f"{now.isoformat()}:{question}", DEDUPE_MAX - 10)
    sent = notify_customer(
        session,
        runtime,
        case,
        now,
        purpose=Purpose.WAIT_QUESTION,
        subject="A question about your case",
        text=text,
        sms_text=truncate_words(to_gsm7(f"Case {case.number}: {question} Reply by SMS."), 306),
        dedupe_key=key,
    )
    channels = [message.channel for message in sent]
    if case.contact_phone and "sms" not in channels:
        body = truncate_words(
            to_gsm7(f"Case {case.number}: our engineer asks: {question} Reply to this number."),
            306,
        )
        sms = enqueue(
            session,
            now,
            channel="sms",
            purpose=Purpose.WAIT_QUESTION,
            recipient="customer",
            to=case.contact_phone,
            from_address=line,
            body=body,
            case=case,
            dedupe_key=f"{key}:sms",
        )
        if sms is not None:
            channels.append("sms")
            add_event(
                session,
                case,
                now,
                "customer_notified",
                f"Customer told (sms): {body}",
                purpose=Purpose.WAIT_QUESTION,
                outbox_ids=[sms.id],
            )
    return channels


def answer_wait(
    session: Session, runtime: Runtime, case: Case, who: str, via: str, now: datetime
) -> bool:
    """The customer answered (their reply is on the timeline already): the clocks resume.
    False when the case was not waiting."""
    case = lock_case(session, case)
    if case.state != CaseState.WAITING_CUSTOMER.value:
        return False
    add_event(
        session,
        case,
        now,
        "customer_answered",
        f"{who} answered the engineer's question by {via}",
        actor=who,
        via=via,
    )
    resume_clocks(session, case, now, f"the customer answered by {via}", who)
    return True


def waiting_cases_for_phone(session: Session, runtime: Runtime, phone: str) -> list[Case]:
    """Cases waiting for an answer that the contact with ``phone`` may give: cases of their
    customer (or opened from that phone), newest wait first."""
    match = runtime.directory().by_phone(phone)
    cases = session.scalars(
        select(Case)
        .where(Case.state == CaseState.WAITING_CUSTOMER)
        .order_by(Case.waiting_since.desc(), Case.id.desc())
    )
    return [
        case
        for case in cases
        if case.contact_phone == phone or (match is not None and match[0].key == case.customer_key)
    ]


def relay_sms_answer(
    session: Session,
    runtime: Runtime,
    case: Case,
    who: str,
    text: str,
    key: str,
    now: datetime,
    said: str = "answered",
) -> int:
    """The customer's SMS (their answer, by default), to whoever has the case; how many people
    it went to."""
    return relay_at_once(session, runtime, case, f"({who}) {said}: {text}", key, now)
