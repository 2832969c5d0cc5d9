"""How engineers read a case in the engine's messages: times in their team's zone, the zone
named (``03:56 EST``), and names short enough for an SMS."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from oncall.db.models import Case
from oncall.domain.sms_text import to_gsm7, truncate_words
from oncall.runtime import Runtime


def case_zone(runtime: Runtime, case: Case) -> ZoneInfo:
    """Engineers read times in their team's zone; the company zone when there is no team."""
    zone = (case.escalation or {}).get("timezone")
    if not zone:
        team = runtime.rotas.team(case.team)
        zone = team.timezone if team is not None else None
    try:
        return ZoneInfo(zone) if zone else runtime.settings.zone
    except (KeyError, ValueError):
        return runtime.settings.zone


def hhmm(at: datetime, zone: ZoneInfo) -> str:
    """A clock time in ``zone`` with the zone named (``03:56 EST``): the engineer reading it
    may be elsewhere, and a bare 03:56 is ambiguous around a DST change."""
    return at.astimezone(zone).strftime("%H:%M %Z")


def short(text: str, limit: int = 30) -> str:
    """A customer or engineer name cut to fit a reminder or breach SMS."""
    return truncate_words(to_gsm7(text), limit)
