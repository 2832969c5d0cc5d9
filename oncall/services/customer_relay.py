"""What a customer adds to an open case, on the phone of whoever has it: the text of a mail
that joined the case, a note from the case page, a voice note's link.

One SMS per message, but never a burst: when something was already relayed about this case to
the same phone within ``engine.sms_rate_window``, the next one waits in the outbox until the
window has passed, and whatever else arrives meanwhile is added to that waiting SMS. So three
contacts writing in the same minute make two SMS, not three, and the first is never delayed.
The waiting SMS is an outbox row with its due time: nothing lives only in memory.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.outbox import enqueue
from oncall.db.models import Case, OutboundMessage
from oncall.domain.enums import OutboxState, Purpose
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.runtime import Runtime
from oncall.services.case_people import case_people
from oncall.services.receipts import DEDUPE_MAX, bounded_key

MAX_SMS = 459  # three segments


def relay_at_once(
    session: Session, runtime: Runtime, case: Case, said: str, key: str, now: datetime
) -> int:
    """Text ``said`` (a reply by email, an answer by SMS) at once, in two SMS segments at most,
    to whoever has the case; how many people it went to. ``key`` makes it once per message."""
    people = [m for m in case_people(session, runtime, case, now) if m.phone]
    body = to_gsm7(" ".join(f"Case {case.number} {case.customer_name} {said}".split()))
    body = truncate_words(body, 306)
    for member in people:
        enqueue(
            session,
            now,
            channel="sms",
            purpose=Purpose.CUSTOMER_REPLY,
            recipient=member.key,
            to=member.phone,
            from_address=runtime.settings.twilio.critical_line,
            body=body,
            case=case,
            dedupe_key=bounded_key("relay:", f"{key}:{member.key}", DEDUPE_MAX),
        )
    return len(people)


def relay_to_case_people(
    session: Session, runtime: Runtime, case: Case, said: str, key: str, now: datetime
) -> list[str]:
    """Text ``said`` to whoever has the case; the names of those it went (or will go) to.
    ``key`` makes it once per inbound message."""
    people = [m for m in case_people(session, runtime, case, now) if m.phone]
    line = to_gsm7(" ".join(said.split()))
    window = runtime.settings.engine.sms_rate_window
    for member in people:
        assert member.phone is not None
        dedupe = bounded_key("relay:", f"{key}:{member.key}", DEDUPE_MAX)
        if session.scalar(select(OutboundMessage.id).where(OutboundMessage.dedupe_key == dedupe)):
            continue  # this message was relayed already (a retried request)
        waiting = _waiting(session, case, member.phone, now)
        if waiting is not None:
            waiting.body = truncate_words(f"{waiting.body} | {line}", MAX_SMS)
            continue
        last = _last_sent_at(session, case, member.phone, now - window)
        enqueue(
            session,
            now,
            channel="sms",
            purpose=Purpose.CUSTOMER_REPLY,
            recipient=member.key,
            to=member.phone,
            from_address=runtime.settings.twilio.critical_line,
            body=truncate_words(
                f"Case {case.number} {to_gsm7(case.customer_name)}: {line}", MAX_SMS
            ),
            case=case,
            dedupe_key=dedupe,
            not_before=last + window if last is not None else None,
        )
    return [m.name for m in people]


def _relays(case: Case, phone: str):
    return select(OutboundMessage).where(
        OutboundMessage.case_id == case.id,
        OutboundMessage.purpose == Purpose.CUSTOMER_REPLY,
        OutboundMessage.channel == "sms",
        OutboundMessage.to_address == phone,
    )


def _waiting(session: Session, case: Case, phone: str, now: datetime) -> OutboundMessage | None:
    """A relay to ``phone`` held for the window and not yet claimed by the sender."""
    return session.scalar(
        _relays(case, phone)
        .where(OutboundMessage.state == OutboxState.PENDING, OutboundMessage.next_attempt_at > now)
        .order_by(OutboundMessage.id.desc())
        .limit(1)
        .with_for_update()
    )


def _last_sent_at(session: Session, case: Case, phone: str, since: datetime) -> datetime | None:
    """When the latest relay to ``phone`` went out (or was queued), if within the window."""
    latest = session.scalar(_relays(case, phone).order_by(OutboundMessage.id.desc()).limit(1))
    if latest is None:
        return None
    at = latest.sent_at or latest.next_attempt_at
    return at if at > since else None
