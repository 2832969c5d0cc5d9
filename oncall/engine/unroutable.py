"""The last resort for a case nobody can be paged for (no rota for its team, or nobody on call
for its first step): the managers by SMS (or email) and the regular support queue by email,
each once per case and reason.

Such a case must still reach a human, at once. The managers are the case's own team manager
(when its rota names one) and, when ``escalation_contacts`` is set in config.yaml, those
phones and addresses; without it, every loaded team's manager. The engine takes the team's
policy as soon as a rota for the team is loaded (:mod:`oncall.engine.escalation` checks at
every tick), and until then the people reached here hold it, with an ``unroutable`` event on
the timeline and an error in the log. If nobody at all can be reached the email to the support
queue is what is left.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.outbox import enqueue
from oncall.db.models import Case, OutboundMessage
from oncall.domain.enums import Purpose
from oncall.domain.rota.model import Member
from oncall.domain.rota.snapshots import manager_from_snapshot
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.runtime import Runtime

# The engine's one logger, as before the split: log filters and alerts name it.
log = logging.getLogger("oncall.engine.tick")

LAST_KNOWN_CASES = 20  # how far back a team's cases are searched for its manager


def reach_fallback_humans(
    session: Session, runtime: Runtime, case: Case, now: datetime, *, reason: str, key: str
) -> list[str]:
    """Last resort when the case has nobody to page: the managers, and the regular support
    queue by email. Each only once per case and ``key``; returns who was alerted now."""
    log.error("case %s is unroutable: %s", case.number, reason, extra={"case": case.number})
    text = _alert_text(case, reason)
    managers = managers_to_alert(session, runtime, case)
    reached = _page_managers(session, runtime, case, now, managers, text=text, key=key)
    taken = {m.phone or m.email for m in managers}  # a contact who is also a manager: once
    contacts = [c for c in runtime.settings.escalation_contacts if c not in taken]
    reached += _alert_contacts(session, runtime, case, now, contacts, text=text, key=key)
    forward = _email_support_queue(session, runtime, case, now, reason=reason, key=key)
    if reached or forward is not None:
        who = ", ".join(reached) or "no manager (no team or contact to alert)"
        add_event(
            session,
            case,
            now,
            "unroutable",
            f"Cannot page anyone for this case ({reason}): paged {who} and emailed the support "
            "queue",
            reason=reason,
            managers=reached,
        )
    return reached


def _alert_text(case: Case, reason: str) -> str:
    return (
        truncate_words(
            to_gsm7(
                f"UNROUTABLE case {case.number} ({case.customer_name}, S{case.severity}): "
                f"{reason}. {case.summary}"
            ),
            140,
        )
        + f" Reply ACK {case.number}"
    )


def managers_to_alert(session: Session, runtime: Runtime, case: Case) -> list[Member]:
    """The case's own team manager (as snapshotted, else live, else as the team's newest case
    knew it), then, unless config names ``escalation_contacts``, every loaded team's manager."""
    found: list[Member] = []
    own = manager_from_snapshot(case.escalation) if case.escalation else None
    live = runtime.rotas.team(case.team)
    for manager in (own, live.manager_member() if live is not None else None):
        if manager is not None:
            found.append(manager)
    if not found:
        last_known = _last_known_manager(session, case)
        found += [last_known] if last_known is not None else []
    if not runtime.settings.escalation_contacts:
        found += [m for t in runtime.rotas.teams().values() if (m := t.manager_member())]
    unique: dict[str, Member] = {}
    for manager in found:
        address = manager.phone or manager.email
        if address and address not in unique:
            unique[address] = manager
    return list(unique.values())


def _last_known_manager(session: Session, case: Case) -> Member | None:
    """The team's manager as its newest cases froze it: a rota gone since (a service restarted
    after the file was renamed) still leaves somebody to alert."""
    snapshots = session.scalars(
        select(Case.escalation)
        .where(Case.team == case.team, Case.id != case.id)
        .order_by(Case.id.desc())
        .limit(LAST_KNOWN_CASES)
    )
    for snapshot in snapshots:
        manager = manager_from_snapshot(snapshot) if snapshot else None
        if manager is not None:
            return manager
    return None


def _page_managers(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    managers: list[Member],
    *,
    text: str,
    key: str,
) -> list[str]:
    """SMS each manager (email when they have no phone); the names of those alerted now."""
    reached: list[str] = []
    for manager in managers:
        channel = "sms" if manager.phone else "email"
        message = _alert(
            session, runtime, case, now, channel=channel, to=manager.phone or manager.email or "",
            text=text, recipient=manager.key, dedupe_key=f"page:{case.id}:{key}:{manager.key}",
        )  # fmt: skip
        if message is not None:
            reached.append(manager.name)
    return reached


def _alert_contacts(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    contacts: list[str],
    *,
    text: str,
    key: str,
) -> list[str]:
    """The ``escalation_contacts`` of config.yaml: each phone by SMS, each address by email."""
    reached: list[str] = []
    for contact in contacts:
        channel = "email" if "@" in contact else "sms"
        message = _alert(
            session, runtime, case, now, channel=channel, to=contact, text=text,
            recipient=contact, dedupe_key=f"page:{case.id}:{key}:contact:{contact}",
        )  # fmt: skip
        if message is not None:
            reached.append(contact)
    return reached


def _alert(
    session: Session,
    runtime: Runtime,
    case: Case,
    now: datetime,
    *,
    channel: str,
    to: str,
    text: str,
    recipient: str,
    dedupe_key: str,
) -> OutboundMessage | None:
    settings = runtime.settings
    if channel == "email":
        sender = settings.email.from_address
        subject: str | None = f"[Case {case.number}] UNROUTABLE: {case.customer_name}"
    else:
        sender, subject = settings.twilio.critical_line, None
    return enqueue(
        session,
        now,
        channel=channel,
        purpose=Purpose.MANAGER_PAGE,
        to=to,
        from_address=sender,
        subject=subject,
        body=text,
        case=case,
        recipient=recipient[:100],
        dedupe_key=dedupe_key[:200],
    )


def _email_support_queue(
    session: Session, runtime: Runtime, case: Case, now: datetime, *, reason: str, key: str
) -> OutboundMessage | None:
    return forward_to_support_queue(
        session,
        runtime,
        now,
        subject=f"[Case {case.number}] UNROUTABLE: {case.customer_name} S{case.severity}",
        body=(
            f"Case {case.number} from {case.customer_name} ({case.contact_name or 'unknown'}, "
            f"{case.contact_phone or case.contact_email or 'no contact'}) cannot be paged: "
            f"{reason}.\nSeverity S{case.severity}. Summary:\n{case.summary}\n\n"
            "Somebody must pick this case up by hand."
        ),
        case=case,
        dedupe_key=f"{key}:{case.id}:queue",
    )
