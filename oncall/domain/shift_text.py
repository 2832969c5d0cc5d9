"""What engineers are told about the rota by SMS: who is on call (``WHO``), their shift starting
(or starting soon), somebody taking their shift (``TAKE``). Pure functions, GSM-7 out.

Times are shown in the team's zone with the zone named (``Mon 30 Nov 09:00 EST``): the reader
may be anywhere, the rota is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from oncall.domain.sms_text import to_gsm7

__all__ = [
    "WhoLine",
    "local_label",
    "replaced_text",
    "shift_reminder_text",
    "shift_start_text",
    "take_removed_text",
    "who_text",
]

_WHO_TAIL = "Reply WHO for the team."


def local_label(at: datetime, zone: ZoneInfo) -> str:
    """``Mon 30 Nov 09:00 EST``: an instant as the team reads it."""
    return at.astimezone(zone).strftime("%a %d %b %H:%M %Z")


def _until(until: datetime | None, zone: ZoneInfo) -> str:
    return f" until {local_label(until, zone)}" if until is not None else ""


def shift_start_text(level: str, team: str, until: datetime | None, zone: ZoneInfo) -> str:
    """``You are now primary for support until Mon 30 Nov 09:00 EST. Reply WHO for the team.``"""
    return to_gsm7(f"You are now {level} for {team}{_until(until, zone)}. {_WHO_TAIL}")


def shift_reminder_text(
    level: str, team: str, start: datetime, until: datetime | None, zone: ZoneInfo
) -> str:
    """``Reminder: you are primary for support from Mon 30 Nov 09:00 EST until ...``"""
    return to_gsm7(
        f"Reminder: you are {level} for {team} from {local_label(start, zone)}"
        f"{_until(until, zone)}. {_WHO_TAIL}"
    )


def replaced_text(
    taker: str, level: str, team: str, start: datetime | None, end: datetime, zone: ZoneInfo
) -> str:
    """What the person whose shift somebody TAKEs is told (``start`` None: from now)."""
    since = f" from {local_label(start, zone)}" if start is not None else ""
    return to_gsm7(
        f"{taker} takes {level} for {team}{since} until {local_label(end, zone)}: you are not "
        f"paged as {level} until then. {_WHO_TAIL}"
    )


def take_removed_text(level: str, team: str, end: datetime, by: str, zone: ZoneInfo) -> str:
    """What the engineer whose TAKE a manager removed is told."""
    return to_gsm7(
        f"{by} removed your TAKE of {level} for {team} (until {local_label(end, zone)}): the "
        f"rota applies again. {_WHO_TAIL}"
    )


@dataclass(frozen=True)
class WhoLine:
    """One level of a WHO answer."""

    level: str
    name: str | None  # None: nobody is on call
    phone: str | None
    until: datetime | None
    override: bool = False


def who_text(
    team: str, zone: ZoneInfo, lines: list[WhoLine], manager: tuple[str, str | None] | None
) -> str:
    """``support (America/Toronto): primary Alice Ng +15550100101 until Tue 24 Nov 18:00 EST;
    secondary ...; manager Dana Ortiz +15550100104``."""
    parts = []
    for line in lines:
        if line.name is None:
            parts.append(f"{line.level} nobody")
            continue
        who = line.name + (f" {line.phone}" if line.phone else "")
        marker = " (override)" if line.override else ""
        parts.append(f"{line.level} {who}{marker}{_until(line.until, zone)}")
    if manager is not None:
        name, phone = manager
        parts.append(f"manager {name}" + (f" {phone}" if phone else ""))
    return to_gsm7(f"{team} ({zone.key}): " + "; ".join(parts))
