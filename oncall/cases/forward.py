"""The email to the regular support queue (``email.forward_to``): where a contact the critical
line will not take, a reply nobody can relay, a case nobody can be paged for, a downgraded
case, or a customer we cannot reach ends, so that a person sees it.

Every such email goes through :func:`forward_to_support_queue`, so they all leave the same
way: from ``email.from``, to ``email.forward_to``, as a ``forward`` outbox row that the sender
never falls back from (the queue itself is the last resort).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.outbox import enqueue
from oncall.db.models import Case, OutboundMessage
from oncall.domain.enums import Purpose
from oncall.runtime import Runtime


def forward_to_support_queue(
    session: Session,
    runtime: Runtime,
    now: datetime,
    *,
    subject: str,
    body: str,
    dedupe_key: str,
    case: Case | None = None,
    reply_to: str | None = None,
) -> OutboundMessage | None:
    """Queue one email to the regular support queue, once per ``dedupe_key``.

    ``reply_to`` is who the queue answers when it replies (the customer who wrote, not us).
    The row names no recipient (it is neither a paged member nor the customer) and gets its
    Message-ID from the sender, like every email that no reply needs to thread to a case yet.
    Returns None when the same forward was already queued.
    """
    settings = runtime.settings
    return enqueue(
        session,
        now,
        channel="email",
        purpose=Purpose.FORWARD,
        to=settings.email.forward_to,
        from_address=settings.email.from_address,
        subject=subject,
        body=body,
        headers={"Reply-To": reply_to} if reply_to else None,
        case=case,
        dedupe_key=dedupe_key,
    )
