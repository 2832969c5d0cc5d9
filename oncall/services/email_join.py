"""One case per problem: a critical email from a customer that already has an open case (open
or acknowledged, not one whose severity is still being asked) joins that case instead of
opening another, unless its subject is marked ``[New]`` or config says
``intake.join_open_case: false``. Several open cases: the most recent one, and the auto-reply
says which.

Joining adds the mail to the case's timeline (``email_joined``), relays its text to whoever has
the case (:mod:`oncall.services.customer_relay`: one SMS, bundled when several arrive together;
the regular support queue when nobody with a phone has it)
and answers the sender with the case number and how long ago it opened. It starts no page and
no target: the case's own escalation and SLA clocks are already running.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.customer import tell_sender
from oncall.cases.events import add_event
from oncall.cases.lookup import open_case_for_customer
from oncall.db.models import Case
from oncall.domain.customer_side import describe_ago, joined_text, wants_new_case
from oncall.domain.enums import OPEN_STATES, Purpose
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.mail.text import strip_quoted_reply
from oncall.domain.mail.threads import case_number_from_subject
from oncall.runtime import Runtime
from oncall.services.customer_relay import relay_to_case_people
from oncall.services.email_refusals import forward_mail, mark_auto_reply, strip_reply_prefix
from oncall.services.receipts import DEDUPE_MAX, bounded_key
from oncall.sources.customers import Contact, Customer


def case_to_join(
    session: Session, runtime: Runtime, mail: InboundEmail, customer: Customer
) -> Case | None:
    """The open case this mail joins, or None when it should open its own."""
    if not runtime.settings.intake.join_open_case or wants_new_case(mail.subject):
        return None
    if case_number_from_subject(mail.subject) is not None:
        return None  # it names a case (not one of this customer's): never guess another
    return open_case_for_customer(session, customer.key)


def join_case(
    session: Session,
    runtime: Runtime,
    case: Case,
    mail: InboundEmail,
    key: str,
    now: datetime,
    contact: Contact,
    *,
    verified: bool,
    ours: bool,
) -> bool:
    """Add ``mail`` to ``case``; returns whether the sender got an auto-reply."""
    who = contact.name or mail.from_name or mail.from_address
    text = strip_quoted_reply(mail.text).strip() or mail.text.strip()
    marker = "" if verified else " (sender unverified)"
    add_event(
        session,
        case,
        now,
        "email_joined",
        f"Email from {mail.from_address}{marker} added to this open case: "
        f"{mail.subject or '(no subject)'}\n{text[:4000]}",
        actor=who,
        message_id=mail.message_id,
        subject=mail.subject,
        sender_verified=verified,
    )
    relayed = relay_to_case_people(
        session, runtime, case, f"{who} emailed{marker}: {mail.subject} {text}", key, now
    )
    if not relayed:
        # Nobody with a phone has the case (no rota for the team): a person must still see it.
        forward_mail(
            session, runtime, mail, key, now,
            f"a mail that joined case {case.number}, which has nobody to relay it to",
            f"the message was added to case {case.number}",
        )  # fmt: skip
    if ours:  # one of our own addresses: never mail ourselves
        return False
    numbers = session.scalars(
        select(Case.number).where(
            Case.customer_key == case.customer_key, Case.state.in_(OPEN_STATES)
        )
    ).all()
    message = tell_sender(
        session,
        runtime,
        case,
        now,
        to=mail.from_address,
        purpose=Purpose.JOINED,
        text=joined_text(case.number, describe_ago(now - case.opened_at), numbers),
        subject=strip_reply_prefix(mail.subject) or "Your message was added to your case",
        dedupe_key=bounded_key("joined:", key, DEDUPE_MAX),
    )
    if message is not None:
        mark_auto_reply(message, mail)
    return message is not None
