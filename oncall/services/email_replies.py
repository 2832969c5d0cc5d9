"""Replies to our case emails: finding the case a mail answers (our Message-ID in its
In-Reply-To/References, or ``[Case N]`` in the subject from someone of that customer), and
putting the reply on the case's timeline and on the phones of whoever has the case; a reply
nobody can relay goes to the regular support queue."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.lookup import case_by_number
from oncall.db.models import Case, OutboundMessage
from oncall.domain.mail.authentication import SenderVerdict
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.mail.text import strip_quoted_reply
from oncall.domain.mail.threads import case_number_from_subject, message_ids
from oncall.runtime import Runtime
from oncall.services.customer_relay import relay_at_once
from oncall.services.customer_replies import on_email_reply
from oncall.services.email_refusals import forward_mail
from oncall.services.receipts import MAX_KEY

log = logging.getLogger("oncall.intake")


def threaded_case(session: Session, runtime: Runtime, mail: InboundEmail) -> Case | None:
    """The case this mail answers: our Message-ID in In-Reply-To/References (they received
    our mail), or ``[Case N]`` in the subject from someone of that customer (a subject alone
    is easy to forge, and a reply is relayed to an engineer's phone)."""
    ids = [mid for mid in message_ids(mail) if len(mid) <= MAX_KEY]
    if ids:
        case_id = session.scalar(
            select(OutboundMessage.case_id)
            .where(OutboundMessage.message_id.in_(ids[:100]), OutboundMessage.case_id.is_not(None))
            .limit(1)
        )
        if case_id is not None:
            case = session.get(Case, case_id)
            if case is not None:
                return case
    number = case_number_from_subject(mail.subject)
    if number is None:
        return None
    case = case_by_number(session, number)
    if case is None:
        return None
    if case.contact_email and case.contact_email.casefold() == mail.from_address:
        return case
    match = runtime.directory().by_email(mail.from_address)
    if match is not None and match[0].key == case.customer_key:
        return case
    log.warning(
        "email names case %s but %s is not of that customer; treated as new mail",
        number,
        mail.from_address,
    )
    return None


def attach_reply(
    session: Session,
    runtime: Runtime,
    case: Case,
    mail: InboundEmail,
    intake_key: str,
    robot: str | None,
    now: datetime,
    sender: SenderVerdict | None = None,
) -> bool:
    """A customer's reply goes on the case's timeline and to the engineer's phone; no case,
    no auto-reply. Auto-generated replies (out-of-office) are kept but not relayed.

    The caller has checked the sender (:mod:`oncall.services.email_senders`); a reply taken
    without an authenticated sender (its customer trusts unauthenticated email) says so on
    the timeline and in the SMS. Returns whether the reply went to the regular support queue
    instead (nobody to relay to).
    """
    text = strip_quoted_reply(mail.text).strip() or mail.text.strip()
    unverified = sender is not None and not sender.verified
    marker = " (sender unverified)" if unverified else ""
    add_event(
        session,
        case,
        now,
        "customer_reply",
        f"Customer replied by email ({mail.from_address}){marker}: {text[:4000]}",
        actor=mail.from_name or mail.from_address,
        message_id=mail.message_id,
        subject=mail.subject,
        auto_generated=robot,
        sender_verified=not unverified,
    )
    if robot:
        return False
    # REOPEN, DISPUTE, the answer to a WAIT question: oncall.services.customer_replies.
    handled = on_email_reply(session, runtime, case, mail, text, intake_key, now)
    if handled is not None:
        return handled
    if not case.is_open:
        # Closed cases have nobody paging on them: the regular queue picks the reply up.
        why = f"a reply to closed case {case.number}"
    elif _relay(session, runtime, case, f"replied{marker}: {text}", intake_key, now):
        return False
    else:
        # Nobody to text (no rota for the team): a person in the queue must still see it.
        why = f"a reply to case {case.number}, which has nobody to relay it to"
    told = "the reply was not relayed"
    forward_mail(session, runtime, mail, intake_key, now, why, told, sender=sender)
    return True


def _relay(
    session: Session, runtime: Runtime, case: Case, said: str, intake_key: str, now: datetime
) -> bool:
    """Text the reply to whoever has the case; False when nobody with a phone has it."""
    return relay_at_once(session, runtime, case, said, intake_key, now) > 0
