"""Rotas as iCalendar (RFC 5545) feeds, so engineers see their shifts in their calendar app.

One VEVENT per on-call period of each level (see :func:`oncall.domain.rota.resolve.shifts`).
Times are written in UTC (``...Z``); calendar apps show them in the viewer's zone. The UID of an
event is derived from what the period *is* (team, level, rotation, member, start, end,
override), so a calendar that re-fetches the feed updates events in place instead of duplicating
them, and a changed shift shows up as a new event.

Feeds are fetched by calendar apps that can't log in, so each URL carries a token:
:func:`feed_token` is an HMAC of the team (and member) under the service's secret key.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from icalendar import Calendar, Event

from oncall.domain.rota.model import OnCall, Team
from oncall.domain.rota.resolve import shifts

PRODID = "-//oncall//rota feed//EN"
TOKEN_LENGTH = 32


def _uid(team: Team, period: OnCall) -> str:
    identity = "|".join(
        [
            team.key,
            period.level,
            period.rotation,
            period.member.key,
            period.start.astimezone(UTC).isoformat(),
            period.end.astimezone(UTC).isoformat(),
            "override" if period.override else "rota",
        ]
    )
    return f"{hashlib.sha256(identity.encode()).hexdigest()[:32]}@{team.key}.oncall"


def team_calendar(
    team: Team,
    start: datetime,
    end: datetime,
    member: str | None = None,
    stamp: datetime | None = None,
) -> bytes:
    """The team's on-call periods overlapping ``[start, end)`` (only ``member``'s if given).

    ``stamp`` is the DTSTAMP of every event (default ``start``), passed in so the output is a
    pure function of its arguments.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    title = f"On call: {team.key}" + (f" ({team.members[member].name})" if member else "")
    calendar.add("x-wr-calname", title)
    calendar.add("x-wr-timezone", team.timezone)
    stamp = (stamp or start).astimezone(UTC)
    for level in team.levels():
        for period in shifts(team, level, start, end):
            if member is not None and period.member.key != member:
                continue
            event = Event()
            event.add("uid", _uid(team, period))
            event.add("dtstamp", stamp)
            event.add("dtstart", period.start.astimezone(UTC))
            event.add("dtend", period.end.astimezone(UTC))
            marker = " [override]" if period.override else ""
            event.add("summary", f"On call: {level} ({period.member.name}){marker}")
            details = [f"Team: {team.key}", f"Level: {level}", f"Rotation: {period.rotation}"]
            if period.override:
                details.append(f"Override: {period.note or 'replaces the rota for this period'}")
            if period.member.phone:
                details.append(f"Phone: {period.member.phone}")
            event.add("description", "\n".join(details))
            event.add("categories", ["on-call", level] + (["override"] if period.override else []))
            event.add("transp", "TRANSPARENT")  # being on call doesn't make you busy
            calendar.add_component(event)
    return calendar.to_ical()


def _message(team: str, member: str | None) -> bytes:
    # The separator can't appear in keys (letters, digits, - _ .), so ("a", "b.c") and
    # ("a.b", "c") never share a token.
    return f"rota-feed\0{team}\0{member or ''}".encode()


def feed_token(secret: str, team: str, member: str | None) -> str:
    """The token for ``/rota/<team>.ics`` (member None) or ``/rota/<team>/<member>.ics``."""
    digest = hmac.new(secret.encode(), _message(team, member), hashlib.sha256).hexdigest()
    return digest[:TOKEN_LENGTH]


def check_feed_token(secret: str, team: str, member: str | None, token: str | None) -> bool:
    """Whether ``token`` opens that feed (constant-time comparison)."""
    if not token:
        return False
    # As bytes: compare_digest refuses a str with non-ASCII characters (``?token=é``).
    return hmac.compare_digest(feed_token(secret, team, member).encode(), token.encode())
