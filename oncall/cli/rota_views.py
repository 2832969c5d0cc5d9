"""What ``oncall rota who`` and ``oncall rota show`` print: tables and JSON of who is on call.

Plain functions of a team and instants (the commands read the clock and the files).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from oncall.domain.rota.localtime import format_local
from oncall.domain.rota.model import OnCall, Team
from oncall.domain.rota.resolve import shifts, who_is_on_call
from oncall.sources.rotas.coverage import DEFAULT_COVERAGE_DAYS

NOBODY = "-- nobody --"


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def person(member: Any) -> dict[str, Any]:
    return {"member": member.key, "name": member.name, "phone": member.phone, "email": member.email}


def next_on_call(team: Team, level: str, at: datetime) -> OnCall | None:
    upcoming = shifts(team, level, at, at + timedelta(days=DEFAULT_COVERAGE_DAYS))
    return upcoming[0] if upcoming else None


def _next_json(team: Team, level: str, at: datetime) -> dict[str, Any] | None:
    upcoming = next_on_call(team, level, at)
    if upcoming is None:
        return None
    return {**person(upcoming.member), "start": upcoming.start.astimezone(team.zone).isoformat()}


def who_json(team: Team, at: datetime, levels: list[str]) -> dict[str, Any]:
    entries = []
    for level in levels:
        current = who_is_on_call(team, level, at)
        entry: dict[str, Any] = {"level": level}
        if current is None:
            entry.update(member=None, next=_next_json(team, level, at))
        else:
            entry.update(person(current.member))
            entry.update(
                rotation=current.rotation,
                override=current.override,
                note=current.note,
                start=current.start.astimezone(team.zone).isoformat(),
                end=current.end.astimezone(team.zone).isoformat(),
            )
        entries.append(entry)
    manager = team.manager_member()
    return {
        "team": team.key,
        "timezone": team.timezone,
        "at": at.astimezone(team.zone).isoformat(),
        "levels": entries,
        "manager": person(manager) if manager else None,
    }


def _who_row(team: Team, level: str, at: datetime) -> list[str]:
    zone = team.zone
    current = who_is_on_call(team, level, at)
    if current is None:
        upcoming = next_on_call(team, level, at)
        after = (
            f"next: {upcoming.member.name} from {format_local(upcoming.start, zone)}"
            if upcoming
            else f"nobody in the next {DEFAULT_COVERAGE_DAYS} days"
        )
        return [level, "nobody", "", "", after]
    notes = []
    if current.override:
        notes.append("override" + (f": {current.note}" if current.note else ""))
    if current.rotation != level:
        notes.append(f"rotation {current.rotation}")
    return [
        level,
        current.member.name,
        current.member.phone or "",
        format_local(current.end, zone),
        "; ".join(notes),
    ]


def who_lines(team: Team, at: datetime, levels: list[str]) -> list[str]:
    """The heading and the table of who is on call at ``at``, the manager last."""
    rows = [["LEVEL", "ON CALL", "PHONE", "UNTIL", "NOTE"]]
    rows += [_who_row(team, level, at) for level in levels]
    manager = team.manager_member()
    if manager:
        rows.append(["manager", manager.name, manager.phone or "", "", ""])
    heading = f"{team.key} ({team.timezone}) at {format_local(at, team.zone)}"
    return [heading] + [f"  {line}" for line in table(rows)]


def _gap(level: str, start: datetime, end: datetime, team: Team) -> list[str]:
    zone = team.zone
    return [level, format_local(start, zone), format_local(end, zone), NOBODY, "", "GAP"]


def show_lines(team: Team, begin: datetime, end: datetime) -> list[str]:
    """The heading and the table of on-call periods per level, overrides and gaps marked."""
    zone = team.zone
    heading = (
        f"{team.key}: on call from {format_local(begin, zone)} until {format_local(end, zone)}"
    )
    rows = [["LEVEL", "FROM", "UNTIL", "ON CALL", "ROTATION", "NOTE"]]
    for level in team.levels():
        cursor = begin
        for period in shifts(team, level, begin, end):
            if period.start > cursor:
                rows.append(_gap(level, cursor, period.start, team))
            note = (
                ("override" + (f": {period.note}" if period.note else ""))
                if period.override
                else ""
            )
            rows.append(
                [
                    level,
                    format_local(period.start, zone),
                    format_local(period.end, zone),
                    period.member.name,
                    period.rotation,
                    note,
                ]
            )
            cursor = period.end
        if cursor < end:
            rows.append(_gap(level, cursor, end, team))
    return [heading, *table(rows)]
