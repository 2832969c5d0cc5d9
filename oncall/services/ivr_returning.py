"""The returning caller's IVR, pure: what a verified caller whose customer has an open case
hears (the case, who has it, the latest status in the engineer's words with its ETA, when the
next update is due), the menu read from the flow file's ``returning`` section, and what the key
they pressed means. Like :mod:`oncall.services.ivr`: no Flask, no database, no clock; the facts
come in as :class:`Briefing`, the reply goes out as verbs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from oncall.services.ivr import (
    ENTRY_PATH,
    Gather,
    Record,
    Redirect,
    Reply,
    Say,
    Speech,
    VoiceUrls,
)
from oncall.sources.voice_flows import VoiceFlow


def returning_url(urls: VoiceUrls) -> str:
    return f"{urls.base}{ENTRY_PATH}/returning"


def note_url(urls: VoiceUrls) -> str:
    return f"{urls.base}{ENTRY_PATH}/note-recorded"


def spoken_time(at: datetime, zone: ZoneInfo) -> str:
    """``4:11 AM``: a time of day as a voice reads it, in the customer's zone."""
    local = at.astimezone(zone)
    hour = local.hour % 12 or 12
    suffix = "AM" if local.hour < 12 else "PM"
    return f"{hour}:{local.minute:02d} {suffix}"


@dataclass(frozen=True)
class Briefing:
    """What the caller is told about their open case, gathered by the phone intake."""

    engineer: str | None  # who acknowledged it (first name), None: nobody yet
    reached_engineer: bool  # an engineer was paged (else only the managers were alerted)
    status: str | None  # the latest status, in the engineer's words
    status_by: str  # who wrote it (first name)
    status_time: str | None  # spoken
    eta: str | None  # spoken
    next_update: str | None  # spoken; None when no status target runs


def briefing(flow: VoiceFlow, speech: Speech, facts: Briefing) -> list[str]:
    """The sentences after ``joining``: who has the case, its status and ETA, the next update."""
    values = speech.with_(
        engineer=facts.engineer or facts.status_by,
        status=facts.status or "",
        status_time=facts.status_time or "",
        eta=facts.eta or "",
        next_update=facts.next_update or "",
    ).values
    said = []
    if facts.engineer:
        said.append(flow.prompt("returning_working", values))
    elif facts.reached_engineer:
        said.append(flow.prompt("returning_paged", values))
    else:
        said.append(flow.prompt("returning_managers", values))
    if facts.status:
        said.append(
            flow.prompt(
                "returning_status", {**values, "engineer": facts.status_by or "the engineer"}
            )
        )
        if facts.eta:
            said.append(flow.prompt("returning_eta", values))
    else:
        said.append(flow.prompt("returning_no_status", values))
    if facts.next_update:
        said.append(flow.prompt("returning_next_update", values))
    return said


def returning_menu(flow: VoiceFlow, urls: VoiceUrls, speech: Speech, said: list[str]) -> Reply:
    """The briefing, then the menu; silence comes back to the same step as "no input"."""
    return (
        Gather(
            action=returning_url(urls),
            timeout=flow.returning_timeout,
            say=(*said, flow.prompt("returning_menu", speech.values)),
            num_digits=1,
        ),
        Redirect(returning_url(urls)),
    )


class Choice(StrEnum):
    NOTE = "note"
    CONNECT = "connect"
    ESCALATE = "escalate"
    GOODBYE = "goodbye"


def returning_choice(flow: VoiceFlow, digits: str) -> Choice:
    """What the key means; anything not on the menu, or nothing, is goodbye."""
    chosen = flow.returning.get((digits or "").strip()[:1])
    return Choice(chosen) if chosen else Choice.GOODBYE


def record_note(flow: VoiceFlow, urls: VoiceUrls, speech: Speech) -> Reply:
    """Record the caller's note. A silent caller makes Twilio skip the action and carry on:
    the redirect still reaches the step, which then says no note arrived."""
    return (
        Say(flow.prompt("note_record", speech.values)),
        Record(
            action=note_url(urls),
            max_length=flow.record_max_length,
            timeout=flow.record_silence_timeout,
            status_callback=urls.recording_status(),
        ),
        Redirect(note_url(urls)),
    )
