"""The last resort for a case nobody can be paged for (no rota for its team, no manager):
every loaded team's manager by SMS and the regular support queue by email, each once per case.

Such a case must still reach a human. The engine takes the team's policy as soon as a rota
for the team is loaded (:mod:`oncall.engine.escalation` checks every 5 minutes, for a day),
and until then the people reached here hold it, with an ``unroutable`` event on the timeline
and an error in the log. If no team at all is loaded the email to the support queue is what
is left.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.events import add_event
from oncall.cases.forward import forward_to_support_queue
from oncall.cases.outbox import enqueue
from oncall.db.models import Case, OutboundMessage
from oncall.domain.enums import Purpose
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.runtime import Runtime

# The engine's one logger, as before the split: log filters and alerts name it.
log = logging.getLogger("oncall.engine.tick")


def reach_fallback_humans(
    session: Session, runtime: Runtime, case: Case, now: datetime, *, reason: str, key: str
) -> list[str]:
    """Last resort when the case has nobody to page: every loaded team's manager, and the
    regular support queue by email. Each only once per case and ``key``."""
    log.error("case %s is unroutable: %s", case.number, reason, extra={"case": case.number})
    reached = _page_every_manager(session, runtime, case, now, reason=reason, key=key)
    forward = _email_support_queue(session, runtime, case, now, reason=reason, key=key)
    if reached or forward is not None:
        who = ", ".join(reached) or "no manager (no team loaded)"
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


def _page_every_manager(
    session: Session, runtime: Runtime, case: Case, now: datetime, *, reason: str, key: str
) -> list[str]:
    """SMS every loaded team's manager (one SMS per phone); the names of those paged now."""
    text = (
        truncate_words(
            to_gsm7(
                f"UNROUTABLE case {case.number} ({case.customer_name}, S{case.severity}): "
                f"{reason}. {case.summary}"
            ),
            140,
        )
        + f" Reply ACK {case.number}"
    )
    reached: list[str] = []
    seen: set[str] = set()
    for team in runtime.rotas.teams().values():
        manager = team.manager_member()
        if manager is None or not manager.phone or manager.phone in seen:
            continue
        seen.add(manager.phone)
        message = enqueue(
            session,
            now,
            channel="sms",
            purpose=Purpose.MANAGER_PAGE,
            to=manager.phone,
            from_address=runtime.settings.twilio.critical_line,
            body=text,
            case=case,
            recipient=manager.key,
            dedupe_key=f"page:{case.id}:{key}:{manager.key}",
        )
        if message is not None:
            reached.append(manager.name)
    return reached


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
