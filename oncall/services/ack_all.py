"""``ACK ALL``: acknowledge every case a storm paged the sender for, in one reply.

Works inside the caller's transaction and returns the reply, like the other case actions.

Rules decided here:

* **Which cases**: every open, unacknowledged case for which a page (SMS, call, bundle, manager
  page or reminder) actually went to the sender's number; a page still waiting in the outbox
  does not count, the sender has not seen it. Cases somebody else acknowledged are left alone.
* Each case is acknowledged as by ``ACK`` (escalation stopped, customer told); the other people
  paged hear it **once**, in one message listing the cases, rather than one SMS per case.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.members import member_of
from oncall.cases.outbox import enqueue, sender_address
from oncall.db.models import Case, OutboundMessage
from oncall.domain.enums import PAGING_PURPOSES, CaseState, OutboxState, Purpose
from oncall.engine.paging import paged_people
from oncall.engine.wording import case_zone, hhmm
from oncall.runtime import Runtime
from oncall.services.case_actions import record_ack

#: Case numbers listed in a reply or notice; beyond, "+N more".
LISTED = 20


def paged_open_cases(session: Session, phone: str) -> dict[int, str]:
    """Case id -> the member key the sender was paged as, for their open, unacknowledged cases
    whose page left the outbox."""
    rows = session.execute(
        select(OutboundMessage.case_id, OutboundMessage.recipient)
        .join(Case, Case.id == OutboundMessage.case_id)
        .where(
            OutboundMessage.to_address == phone,
            OutboundMessage.purpose.in_(PAGING_PURPOSES),
            OutboundMessage.state.not_in((OutboxState.PENDING, OutboxState.CANCELLED)),
            OutboundMessage.recipient != "",
            Case.state == CaseState.OPEN,
        )
        .order_by(OutboundMessage.id)
    ).all()
    found: dict[int, str] = {}
    for case_id, recipient in rows:
        found.setdefault(case_id, recipient)
    return found


def acknowledge_all(
    session: Session, runtime: Runtime, phone: str, now: datetime, via: str = "sms"
) -> str:
    """ACK ALL from ``phone``: the reply lists what was acknowledged."""
    paged = paged_open_cases(session, phone)
    cases = list(
        session.scalars(
            select(Case)
            .where(Case.id.in_(paged), Case.state == CaseState.OPEN)
            .order_by(Case.number)
            .with_for_update()
        )
    )
    if not cases:
        return "Nothing to acknowledge: no open case you were paged for is waiting."
    others: dict[str, tuple[str, str, list[int]]] = {}
    for case in cases:
        member_key = paged[case.id]
        for key, (channel, address) in paged_people(session, case).items():
            if key != member_key:
                others.setdefault(key, (channel, address, []))[2].append(case.number)
        record_ack(session, runtime, case, member_key, now, f"{via} (ACK ALL)", tell_others=False)
    name = _name(runtime, cases[0], paged[cases[0].id])
    _tell_the_others(session, runtime, others, name, now)
    numbers = _listed([case.number for case in cases])
    due = [c.status_due_at for c in cases if c.status_due_at is not None]
    tail = ""
    if due:
        tail = f" First status due by {hhmm(min(due), case_zone(runtime, cases[0]))}."
    noun = "case" if len(cases) == 1 else "cases"
    return f"Acknowledged {len(cases)} {noun}: {numbers}.{tail}"


def _name(runtime: Runtime, case: Case, member_key: str) -> str:
    member = member_of(runtime, case, member_key)
    return member.name if member is not None else member_key


def _listed(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:LISTED])
    return shown + (f" +{len(numbers) - LISTED} more" if len(numbers) > LISTED else "")


def _tell_the_others(
    session: Session,
    runtime: Runtime,
    others: dict[str, tuple[str, str, list[int]]],
    name: str,
    now: datetime,
) -> None:
    """One notice per person also paged for some of the cases, listing them."""
    by_address: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for key, (channel, address, numbers) in others.items():
        by_address[(key, channel, address)].extend(numbers)
    for (key, channel, address), numbers in by_address.items():
        text = f"{_listed(sorted(numbers))} acknowledged by {name}"
        enqueue(
            session,
            now,
            channel=channel,
            purpose=Purpose.NOTICE,
            to=address,
            from_address=sender_address(runtime, channel),
            subject=f"Acknowledged by {name}" if channel == "email" else None,
            body=text,
            recipient=key,
            dedupe_key=f"ack_all:{now.isoformat()}:{min(numbers)}:{key}",
        )
