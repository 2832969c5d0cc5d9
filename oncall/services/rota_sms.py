"""The rota from an engineer's phone: ``WHO [team]`` and ``TAKE [level] [until | for]``.

Both work inside the caller's transaction (the SMS conversation's) and return the reply. Only
members of a loaded team's rota may use them; the conversation stays silent to anyone else.

Rules decided here:

* **WHO** answers for the sender's own team(s), or the team named, each level's person now, with
  their phone and until when they hold it (in the team's zone, named), and the manager.
* **TAKE** makes the sender on call for a level (default: the team's first) from now until the
  time asked, or until the current holder's stretch ends. It is a live override in the database
  (:class:`~oncall.db.models.LiveOverride`), layered over the file wherever the rota is resolved
  (:mod:`oncall.cases.live_rota`), at most :data:`~oncall.domain.take.MAX_TAKE` long. Whoever
  it replaces in that time is told by SMS. A TAKE that changes nothing (the sender already holds
  the level for all of it) makes no row and says so.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from oncall.cases.live_rota import live_team
from oncall.cases.outbox import tell_member
from oncall.db.models import LiveOverride
from oncall.domain.enums import Purpose
from oncall.domain.rota.live import find_level, level_rotation, stretch
from oncall.domain.rota.model import Member, Team
from oncall.domain.rota.resolve import shifts
from oncall.domain.shift_text import WhoLine, local_label, replaced_text, who_text
from oncall.domain.take import MAX_TAKE, TakeRequest, requested_end
from oncall.domain.timetext import format_duration
from oncall.runtime import Runtime

log = logging.getLogger("oncall.commands")


# -- WHO ------------------------------------------------------------------------------------
def who_reply(
    session: Session, runtime: Runtime, teams: dict[str, str], asked: str | None, now: datetime
) -> str:
    """WHO: who is on call now in the sender's teams (``teams``: team -> member key), or in
    the team ``asked`` about."""
    if asked is not None:
        keys = [key for key in runtime.rotas.teams() if key.casefold() == asked.casefold()]
        if not keys:
            known = ", ".join(sorted(runtime.rotas.teams()))
            return f"No team {asked}. Teams: {known}. Reply WHO for your own."
    else:
        keys = sorted(teams)
    answers = []
    for key in keys:
        team = live_team(session, runtime, key, now)
        if team is not None:
            answers.append(_who_team(team, now))
    return " | ".join(answers)


def _who_team(team: Team, now: datetime) -> str:
    lines = []
    for level in team.levels():
        found = stretch(team, level, now)
        if found.current is None:
            lines.append(WhoLine(level, None, None, None))
            continue
        member = found.current.member
        lines.append(WhoLine(level, member.name, member.phone, found.until, found.current.override))
    manager = team.manager_member()
    return who_text(team.key, team.zone, lines, (manager.name, manager.phone) if manager else None)


# -- TAKE -----------------------------------------------------------------------------------
def take_shift(
    session: Session,
    runtime: Runtime,
    teams: dict[str, str],
    request: TakeRequest,
    now: datetime,
    *,
    via: str = "sms",
) -> str:
    """TAKE: the sender (a member of ``teams``: team -> member key) goes on call for a level."""
    chosen, refusal = _choose_team(runtime, teams, request)
    if chosen is None:
        return refusal
    team = live_team(session, runtime, chosen, now)
    if team is None:
        return f"Team {chosen} has no rota loaded right now."
    member = team.members[teams[chosen]]
    level = find_level(team, request.level) if request.level else team.levels()[0]
    if level is None:
        return f"No level {request.level} in {team.key}: {', '.join(team.levels())}."
    end = _end_of_take(team, level, member, request, now)
    if isinstance(end, str):
        return end
    covering = shifts(team, level, now, end)
    replaced = [p for p in covering if p.member.key != member.key]
    if not replaced and _covers(covering, now, end):
        return f"You are already {level} for {team.key} until {local_label(end, team.zone)}."
    row = LiveOverride(
        team=team.key,
        level=level,
        rotation=level_rotation(team, level),
        member=member.key,
        starts_at=now,
        ends_at=end,
        created_at=now,
        created_by=member.name,
        created_via=via,
        replaced=",".join(dict.fromkeys(p.member.key for p in replaced)),
    )
    session.add(row)
    session.flush()
    told = _tell_replaced(session, runtime, team, level, member, replaced, row, now)
    log.info(
        "%s takes %s for %s until %s (live override %s; replaces %s)",
        member.name, level, team.key, end.isoformat(), row.id, row.replaced or "nobody",
    )  # fmt: skip
    tail = f" {' and '.join(told)} {'was' if len(told) == 1 else 'were'} told." if told else ""
    return f"You are {level} for {team.key} until {local_label(end, team.zone)}.{tail}"


def _choose_team(
    runtime: Runtime, teams: dict[str, str], request: TakeRequest
) -> tuple[str | None, str]:
    """``(team key, "")`` for the team the TAKE is for, or ``(None, the reply saying why)``."""
    if request.team is not None:
        named = [key for key in teams if key.casefold() == request.team]
        return (named[0], "") if named else (None, f"You are not on the {request.team} rota.")
    candidates = sorted(teams)
    if request.level is not None:
        candidates = [
            key
            for key in candidates
            if (team := runtime.rotas.team(key)) is not None and find_level(team, request.level)
        ]
        if not candidates:
            levels = {key: runtime.rotas.team(key) for key in sorted(teams)}
            known = "; ".join(f"{k}: {', '.join(t.levels())}" for k, t in levels.items() if t)
            return None, f"No level {request.level} on your rota ({known})."
    if len(candidates) > 1:
        example = f"{candidates[0]}/{request.level or 'primary'}"
        return None, (
            f"You are on the {' and '.join(candidates)} rotas: say which, e.g. TAKE {example}"
        )
    return candidates[0], ""


def _end_of_take(
    team: Team, level: str, member: Member, request: TakeRequest, now: datetime
) -> datetime | str:
    """When the TAKE ends, or (a str) the reply explaining why it can't be taken."""
    try:
        end = requested_end(request, now, team.zone)
    except ValueError as exc:
        return str(exc)
    if end is None:
        found = stretch(team, level, now)
        if found.current is not None and found.current.member.key == member.key:
            until = f" until {local_label(found.until, team.zone)}" if found.until else ""
            return (
                f"You are already {level} for {team.key}{until}. To stay longer: "
                f"TAKE {level} for 12h"
            )
        end = found.until if found.current is not None else (found.next and found.next.start)
        if end is None:
            return (
                f"Nobody is due on {level} for {team.key}: say how long, e.g. TAKE {level} for 8h"
            )
    if end - now > MAX_TAKE:
        return (
            f"A TAKE lasts at most {format_duration(MAX_TAKE)}: longer swaps belong in the rota "
            "file (ask a manager)."
        )
    return end


def _covers(periods: list, start: datetime, end: datetime) -> bool:
    """Whether back-to-back ``periods`` cover ``[start, end)`` without a gap."""
    cursor = start
    for period in periods:
        if period.start > cursor:
            return False
        cursor = max(cursor, period.end)
    return cursor >= end


def _tell_replaced(
    session: Session,
    runtime: Runtime,
    team: Team,
    level: str,
    taker: Member,
    replaced: list,
    row: LiveOverride,
    now: datetime,
) -> list[str]:
    """An SMS to everyone the TAKE keeps off the level; their names."""
    told: dict[str, str] = {}
    for period in replaced:
        person = period.member
        if person.key in told:
            continue
        start = period.start if period.start > now else None
        text = replaced_text(taker.name, level, team.key, start, row.ends_at, team.zone)
        message = tell_member(
            session,
            runtime,
            now,
            person,
            purpose=Purpose.ROTA_CHANGE,
            text=text,
            subject=f"{taker.name} takes {level} for {team.key}",
            dedupe_key=f"take:{row.id}:{person.key}",
        )
        if message is not None:
            told[person.key] = person.name
    return list(told.values())
