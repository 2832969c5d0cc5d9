"""What the critical address does with a mail it opens no case for: tells the sender why and
where to go instead (an automatic reply, never to automatic mail), forwards the mail to the
regular support queue so a person sees it, and records the refusal. Mail from our own
addresses is neither answered nor forwarded: that would be a loop."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from oncall.cases.attempts import record_attempt
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.outbox import enqueue
from oncall.domain.enums import Purpose
from oncall.domain.mail.inbound import InboundEmail
from oncall.runtime import Runtime
from oncall.services import ivr
from oncall.services.receipts import DEDUPE_MAX, bounded_key
from oncall.sources.customers import Customer


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
) -> tuple[bool, bool]:
    """Tell the sender why and where to go (unless the mail is automatic), forward the
    message to the regular queue, and record the refusal.

    Returns ``(auto_replied, forwarded)``.
    """
    told = _refusal_text(runtime, reason, why)
    replied = not robot and not ours
    if replied:
        _auto_reply(session, runtime, mail, intake_key, now, told)
    forwarded = not ours  # never forward our own (or the queue's) mail back: that is a loop
    if forwarded:
        told_them = told if replied else f"nothing (no auto-reply: {robot})"
        forward_mail(session, runtime, mail, intake_key, now, why, told_them)
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
        },
        intake_key=intake_key,
        forwarded=forwarded,
    )
    return replied, forwarded


def _auto_reply(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    intake_key: str,
    now: datetime,
    told: str,
) -> None:
    """Answer the sender (at their Reply-To), threaded under their mail and marked automatic.

    No case is opened, so no reply to this needs threading to one: the sender gives it its
    Message-ID when it goes out, as for every such email.
    """
    subject = strip_reply_prefix(mail.subject)
    enqueue(
        session,
        now,
        channel="email",
        purpose=Purpose.REFUSAL,
        recipient="sender",
        to=mail.reply_to or mail.from_address,
        from_address=runtime.settings.email.from_address,
        subject=f"Re: {subject}" if subject else "Your message to the critical line",
        body=told,
        headers=auto_reply_headers(mail),
        dedupe_key=bounded_key("autoreply:", intake_key, DEDUPE_MAX),
    )


def forward_mail(
    session: Session,
    runtime: Runtime,
    mail: InboundEmail,
    intake_key: str,
    now: datetime,
    why: str,
    told: str,
) -> None:
    """Forward ``mail`` to the regular support queue, saying why and what the sender was told;
    the queue's answer goes to the sender."""
    local = now.astimezone(runtime.settings.zone).strftime("%Y-%m-%d %H:%M %Z")
    forward_to_support_queue(
        session,
        runtime,
        now,
        subject=f"Fwd: {mail.subject}" if mail.subject else "Fwd: (no subject)",
        body=(
            f"The critical line did not open a case for this message: {why}.\n"
            f"The sender was told: {told}\n\n"
            f"---------- Forwarded message ----------\n"
            f"From: {mail.from_raw or mail.from_address}\n"
            f"Date: {mail.header('Date') or local}\n"
            f"Subject: {mail.subject}\n"
            f"To: {', '.join(mail.to)}\n\n"
            f"{mail.text}"
        ),
        reply_to=mail.reply_to or mail.from_address,
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
    "non_critical": (
        "The {company} critical support line is for Severity 1 issues (a production system "
        "down for all users, or a security incident) and Severity 2 issues (an important "
        "function unavailable with no workaround) only. Your message does not describe one, "
        "so no critical case was opened. Please note that non-critical use of the critical "
        "line may incur a fee."
    ),
    "no_severity": (
        "The {company} critical support line is for Severity 1 issues (a production system "
        "down for all users, or a security incident) and Severity 2 issues (an important "
        "function unavailable with no workaround) only. We could not tell from your message "
        "that it is one of these, so no critical case was opened. If it is, reply with "
        '"Severity 1" or "Severity 2" in the subject, or call the critical line.'
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
