"""What a customer's reply about a case means beyond words for the engineer: ``REOPEN``
(:mod:`oncall.services.reopening`), ``DISPUTE`` (:mod:`oncall.services.fee_disputes`), or the
answer to an engineer's ``WAIT`` question (:mod:`oncall.services.waiting`).

Two doors lead here, each inside its caller's transaction:

* :func:`on_email_reply`, from :func:`oncall.services.email_replies.attach_reply`, for a reply
  threaded to ``[Case N]`` whose sender was checked (the reply is already on the timeline);
* :func:`on_customer_sms`, from :mod:`oncall.services.sms_conversation`, for an SMS to the
  critical line's number from a contact's phone (or the phone a case was opened from).

The words are read by the pure :mod:`oncall.domain.customer_words`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.lookup import case_by_number
from oncall.db.models import Case
from oncall.domain.customer_words import Word, mail_word, sms_word
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.severity_markers import first_line
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.runtime import Runtime
from oncall.services.fee_disputes import dispute_fee
from oncall.services.reopening import reopen
from oncall.services.waiting import (
    answer_wait,
    relay_sms_answer,
    waiting_cases_for_phone,
)


def on_email_reply(
    session: Session,
    runtime: Runtime,
    case: Case,
    mail: InboundEmail,
    text: str,
    key: str,
    now: datetime,
) -> bool | None:
    """Act on the words of a (human) reply to ``case``. Returns None to let the reply go on
    as an ordinary one (relayed to the engineer, or to the queue for a finished case), else
    whether it went to the support queue (never: it was dealt with here)."""
    who = mail.from_name or mail.from_address
    word = mail_word(mail.subject, first_line(text))
    if word is Word.REOPEN:
        done = reopen(session, runtime, case, who, "email", text, key, now)
        return None if done.outcome == "still_open" else False
    if word is Word.DISPUTE:
        dispute_fee(session, runtime, case, who, text, now)
        return False
    # Any other reply to a case waiting for the customer is their answer; it is relayed to
    # the engineer like every reply, by the caller.
    answer_wait(session, runtime, case, who, "email", now)
    return None


def on_customer_sms(
    session: Session,
    runtime: Runtime,
    phone: str,
    body: str,
    key: str,
    now: datetime,
    *,
    engineer: bool,
    asked: bool,
) -> str | None:
    """An SMS to the critical line that is the customer's: ``REOPEN <case>`` or the answer to a
    WAIT question. Returns the reply for the sender, or None when the SMS is not theirs to
    give here (an engineer's command, an answer to the severity question, a stranger)."""
    words = sms_word(body)
    contact = runtime.directory().by_phone(phone)
    who = contact[1].name if contact is not None and contact[1].name else phone
    if words is not None and words.word is Word.REOPEN:
        if words.case_number is None:
            return "Which case? Reply REOPEN and the case number, e.g. REOPEN 1042."
        case = case_by_number(session, words.case_number)
        ours = case is not None and (
            case.contact_phone == phone
            or (contact is not None and contact[0].key == case.customer_key)
        )
        if case is None or not ours:
            if contact is None and not _opened_from(session, phone):
                return None  # strangers learn nothing
            return f"We found no case {words.case_number} for your account."
        text = body.strip()
        _record_sms(session, case, who, text, now)
        done = reopen(session, runtime, case, who, "SMS", text, key, now)
        if done.outcome == "still_open":
            relay_sms_answer(session, runtime, case, who, text, key, now, said="texted")
            return f"Case {case.number} is still open; your message was passed to the engineer."
        return truncate_words(to_gsm7(done.told), 306)
    if engineer or asked:
        return None
    waiting = waiting_cases_for_phone(session, runtime, phone)
    if not waiting:
        return None
    case = waiting[0]
    text = " ".join(body.split())
    _record_sms(session, case, who, text, now)
    answer_wait(session, runtime, case, who, "SMS", now)
    relayed = relay_sms_answer(session, runtime, case, who, text, key, now)
    also = (
        f" (also waiting: {', '.join(str(c.number) for c in waiting[1:4])})" if waiting[1:] else ""
    )
    if not relayed:
        return f"Thank you: your answer is on case {case.number}{also}."
    return f"Thank you: your answer on case {case.number} was passed to the engineer{also}."


def _record_sms(session: Session, case: Case, who: str, text: str, now: datetime) -> None:
    add_event(
        session,
        case,
        now,
        "customer_reply",
        f"Customer replied by SMS ({who}): {text[:1600]}",
        actor=who,
        via="sms",
    )


def _opened_from(session: Session, phone: str) -> bool:
    """Whether any case was opened from ``phone`` (a caller known by their cases)."""
    return session.scalar(select(Case.id).where(Case.contact_phone == phone).limit(1)) is not None
