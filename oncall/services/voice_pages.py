"""Voice pages: what the call to a paged engineer says, and pressing 1 to acknowledge.

The script depends on the case as it is when the call is answered, not when it was queued: a
case acknowledged meanwhile tells the others who has it, and a closed case needs no action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from oncall.db.models import Case, OutboundMessage
from oncall.db.session import transaction
from oncall.domain.enums import CaseState, Purpose
from oncall.runtime import Runtime
from oncall.services.case_actions import acknowledge


@dataclass(frozen=True)
class VoicePage:
    """What a voice page says, and whether pressing 1 acknowledges."""

    text: str
    can_acknowledge: bool
    case_number: int | None = None


def voice_page(runtime: Runtime, outbox_id: int) -> VoicePage | None:
    """The script for the voice page outbox row ``outbox_id`` (None: no such voice page)."""
    with runtime.sessions() as session:
        row = session.get(OutboundMessage, outbox_id)
        if row is None or row.channel != "voice" or row.case_id is None:
            return None
        case = session.get(Case, row.case_id)
        if case is None:
            return None
        digits = " ".join(str(case.number))
        if case.state == CaseState.OPEN.value:
            return VoicePage(row.body, True, case.number)
        if case.state == CaseState.ACKNOWLEDGED.value and row.purpose != Purpose.PAGE_VOICE:
            return VoicePage(row.body, False, case.number)
        if case.state == CaseState.ACKNOWLEDGED.value:
            if case.acknowledged_by == row.recipient:
                return VoicePage(row.body, False, case.number)
            return VoicePage(
                f"Case {digits} was already acknowledged by {case.acknowledged_by_name}. "
                "No action is needed.",
                False,
                case.number,
            )
        return VoicePage(f"Case {digits} is {case.state}. No action is needed.", False, case.number)


def acknowledge_voice_page(runtime: Runtime, outbox_id: int, now: datetime) -> str | None:
    """The paged person pressed 1: acknowledge as them. Returns what to say (None: no page)."""
    with transaction(runtime.sessions) as session:
        row = session.get(OutboundMessage, outbox_id)
        if row is None or row.case_id is None or not row.recipient:
            return None
        case = session.get(Case, row.case_id)
        if case is None:
            return None
        reply = acknowledge(session, runtime, case, row.recipient, now, via="voice")
    runtime.wake_sender()
    return reply
