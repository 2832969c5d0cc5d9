"""What the critical address does with a mail it opens no case for: tells the sender why and
where to go instead (an automatic reply, never to automatic mail), forwards the mail to the
regular support queue so a person sees it, and records the refusal. Mail from our own
addresses is neither answered nor forwarded: that would be a loop.

No backscatter: anyone can put any address in ``From`` and ``Reply-To``, so an automatic
answer could be aimed at a third party. The answer goes to ``Reply-To`` only for a known
contact whose mail passed SPF or DKIM aligned with ``From``; anyone else is answered at the
``From`` address, at most once a day per address (counted in the outbox, so every process
agrees), and a ``Reply-To`` that differs from an unauthenticated ``From`` is never written to.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.cases.attempts import record_attempt
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.outbox import enqueue
from oncall.db.models import OutboundMessage
from oncall.domain.enums import Purpose
from oncall.domain.mail.addresses import normalise_spec
from oncall.domain.mail.authentication import SenderVerdict
from oncall.domain.mail.inbound import InboundEmail
from oncall.domain.mail.threads import make_message_id
from oncall.runtime import Runtime
from oncall.services import ivr
from oncall.services.receipts import DEDUPE_MAX, bounded_key
from oncall.sources.customers import Customer

#: Unauthenticated or unknown senders get at most one automatic answer per address this often.
UNKNOWN_SENDER_REPLY_EVERY = timedelta(days=1)


def refuse_email(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    intake_key: str,
    now: datetime,
    reason: str,
    customer: Customer | None,
    robot: str | None,
    ours: bool,
    why: str,
    severity: int | None = None,
    *,
    sender: SenderVerdict | None = None,
    detail: dict[str, Any] | None = None,
) -> tuple[bool, bool]:
    """Tell the sender why and where to go (unless the mail is automatic, or the sender was
    answered today and cannot be authenticated as a known contact), forward the message to
    the regular queue, and record the refusal. ``sender`` is the mail's SPF/DKIM verdict
    (None: not authenticated); ``customer`` is a contact's customer, known and authenticated.

    Returns ``(auto_replied, forwarded)``.
    """
    told = _refusal_text(runtime, reason, why)
    verified = sender is not None and sender.verified
    replied = not robot and not ours
    if replied:
        replied = _auto_reply(
            session, runtime, mail, intake_key, now, told, verified and customer is not None
        )
    forwarded = not ours  # never forward our own (or the queue's) mail back: that is a loop
    if forwarded:
        told_them = told if replied else f"nothing ({_why_not_answered(robot)})"
        forward_mail(session, runtime, mail, intake_key, now, why, told_them, sender=sender)
    record_attempt(
        session,
        now,
        channel="email",
        reason=reason,
        contact=mail.from_address[:320],
        told=told if replied else "",
        customer_key=customer.key if customer else None,
        detail={
            "subject": mail.subject[:500],
            "why": why,
            "severity": severity,
            "message_id": mail.message_id,
            "auto_generated": robot,
            "sender_authentication": sender.describe()[:500] if sender else None,
            **(detail or {}),
        },
        intake_key=intake_key,
        forwarded=forwarded,
    )
    return replied, forwarded


def _why_not_answered(robot: str | None) -> str:
    if robot:
        return f"no auto-reply: {robot}"
    return "no auto-reply: this address was already answered today"


def _auto_reply(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    intake_key: str,
    now: datetime,
    told: str,
    authenticated_contact: bool,
) -> bool:
    """Answer the sender, threaded under their mail and marked automatic; whether it was.

    An authenticated contact is answered at their Reply-To, once per mail. Anyone else only at
    the From address and at most once a day per address (see the module doc); the day's key
    makes two concurrent mails from one address queue one answer between them.
    No case is opened, so no reply to this needs threading to one: the sender gives it its
    Message-ID when it goes out, as for every such email.
    """
    if authenticated_contact:
        to = mail.reply_to or mail.from_address
        dedupe_key = bounded_key("autoreply:", intake_key, DEDUPE_MAX)
    else:
        to = mail.from_address
        if _answered_recently(session, to, now):
            return False
        digest = hashlib.sha256(to.encode("utf-8", "replace")).hexdigest()[:32]
        dedupe_key = f"autoreply-daily:{digest}:{now.date().isoformat()}"
    subject = strip_reply_prefix(mail.subject)
    try:
        with session.begin_nested():
            queued = enqueue(
                session,
                now,
                channel="email",
                purpose=Purpose.REFUSAL,
                recipient="sender",
                to=to,
                from_address=runtime.settings.email.from_address,
                subject=f"Re: {subject}" if subject else "Your message to the critical line",
                body=told,
                headers=auto_reply_headers(mail),
                dedupe_key=dedupe_key,
            )
    except IntegrityError:  # a concurrent mail from the same address queued today's answer
        return False
    return queued is not None or authenticated_contact


def _answered_recently(session: Session, address: str, now: datetime) -> bool:
    """Whether ``address`` got an automatic answer within the last day (any process's)."""
    found = session.scalar(
        select(OutboundMessage.id)
        .where(
            OutboundMessage.to_address == address,
            OutboundMessage.purpose == Purpose.REFUSAL,
            OutboundMessage.created_at > now - UNKNOWN_SENDER_REPLY_EVERY,
        )
        .limit(1)
    )
    return found is not None


def forward_mail(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    intake_key: str,
    now: datetime,
    why: str,
    told: str,
    *,
    sender: SenderVerdict | None = None,
) -> None:
    """Forward ``mail`` to the regular support queue, saying why and what the sender was told;
    the queue's answer goes to the sender.

    A mail whose ``sender`` verdict is not authenticated is marked so in the subject and on
    top of the body, and the queue's answer goes to its ``From``, never to a ``Reply-To``
    the forger chose.
    """
    local = now.astimezone(runtime.settings.zone).strftime("%Y-%m-%d %H:%M %Z")
    subject = f"Fwd: {mail.subject}" if mail.subject else "Fwd: (no subject)"
    warning, reply_to = "", mail.reply_to or mail.from_address
    if sender is not None and not sender.verified:
        subject = f"[unverified sender] {subject}"
        warning = (
            f"WARNING: unverified sender. Neither SPF nor DKIM passed for {sender.from_domain} "
            f"({sender.describe()}): this message may not come from {mail.from_address}.\n"
        )
        reply_to = mail.from_address
        if mail.reply_to and normalise_spec(mail.reply_to) != mail.from_address:
            warning += f"Its Reply-To ({mail.reply_to}) was not used.\n"
    forward_to_support_queue(
        session,
        runtime,
        now,
        subject=subject,
        body=(
            f"{warning}"
            f"The critical line did not open a case for this message: {why}.\n"
            f"The sender was told: {told}\n\n"
            f"---------- Forwarded message ----------\n"
            f"From: {mail.from_raw or mail.from_address}\n"
            f"Date: {mail.header('Date') or local}\n"
            f"Subject: {mail.subject}\n"
            f"To: {', '.join(mail.to)}\n\n"
            f"{mail.text}"
        ),
        reply_to=reply_to,
        dedupe_key=bounded_key("forward:", intake_key, DEDUPE_MAX),
    )


def auto_reply_headers(mail: InboundEmail) -> dict[str, Any]:
    """The headers of our automatic answer to ``mail``."""
    # RFC 3834: mark the reply automatic so the sender's own responders do not answer it,
    # and thread it under their message.
    headers: dict[str, Any] = {"Auto-Submitted": "auto-replied"}
    if mail.message_id:
        headers["In-Reply-To"] = mail.message_id
        headers["References"] = " ".join([*mail.references, mail.message_id][-10:])
    return headers


def mark_auto_reply(message: OutboundMessage, mail: InboundEmail) -> None:
    """A case's first email answers the sender's mail: marked automatic, threaded under it,
    and given its Message-ID now so a reply that races the send still finds the case."""
    message.headers = {**(message.headers or {}), **auto_reply_headers(mail)}
    if not message.message_id:
        message.message_id = make_message_id(message.id, message.from_address)


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|sv|tr)\s*:\s*)+", re.IGNORECASE)


def strip_reply_prefix(subject: str) -> str:
    """The subject without its ``Re:``/``Fwd:`` (and other languages') prefixes."""
    return _REPLY_PREFIX.sub("", subject or "").strip()[:300]


REFUSALS = {
    # Never sent (automatic mail gets no auto-reply); recorded as what the queue is told.
    "auto_generated": (
        "We received a message at the {company} critical support line, but {why}; automatic "
        "messages do not open critical cases."
    ),
    "unknown_sender": (
        "We received your email to the {company} critical support line, but {why}, so no "
        "critical case was opened."
    ),
    "not_entitled": (
        "We received your email to the {company} critical support line, but {why}, so no "
        "critical case was opened."
    ),
    "unverified": (
        "We received an email at the {company} critical support line that gives your address "
        "as its sender, but {why}, so it was not taken as yours and no critical case was "
        "opened. If you sent it, please call the critical line, and ask your mail "
        "administrator to publish SPF or DKIM for your domain."
    ),
    "non_critical": (
        "The {company} critical support line is for Severity 1 issues (a production system "
        "down for all users, or a security incident) and Severity 2 issues (an important "
        "function unavailable with no workaround) only. Your message does not describe one, "
        "so no critical case was opened. Please note that non-critical use of the critical "
        'line may incur a fee. If it is one after all, reply with "Severity 1" or '
        '"Severity 2" on the first line, or call the critical line.'
    ),
}


def _refusal_text(runtime: Runtime, reason: str, why: str) -> str:
    """What the sender is told: why no case was opened, and where their mail went."""
    settings = runtime.settings
    first = REFUSALS.get(reason, REFUSALS["unknown_sender"]).format(
        company=settings.company, why=why
    )
    hours = ivr.describe_hours(settings.business_hours, settings.zone)
    return (
        f"{first}\n\n"
        f"Your message has been forwarded to our regular support queue "
        f"({settings.email.forward_to}), which answers {hours}. You do not need to send it "
        f"again."
    )
