"""Who is on call now, until when, and who is next: per team and escalation level, read from
the live rotas. The dashboard's Now and Rota pages and ``GET /api/oncall`` show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.domain.rota.model import OnCall, Team
from oncall.domain.rota.resolve import shifts, who_is_on_call
from oncall.runtime import Runtime

NEXT_HORIZON = timedelta(days=60)  # how far ahead "who's next" looks


@dataclass(frozen=True)
class LevelNow:
    level: str
    current: OnCall | None
    until: datetime | None  # when someone else takes over (or nobody is on call)
    next: OnCall | None


@dataclass(frozen=True)
class TeamNow:
    team: Team
    levels: list[LevelNow]


def live_teams(rt: Runtime) -> list[Team]:
    return [team for _key, team in sorted(rt.rotas.teams().items())]


def level_now(team: Team, level: str, now: datetime) -> LevelNow:
    """Who holds ``level`` now, until when, and who is next.

    Back-to-back periods of the same person (an override that ends where their own shift
    continues) are one stretch: "until" is when somebody *else* takes over.
    """
    periods = shifts(team, level, now, now + NEXT_HORIZON)
    current = who_is_on_call(team, level, now)
    following = [p for p in periods if p.start > now]
    until = current.end if current else None
    nxt = None
    for period in following:
        if current and period.member.key == current.member.key and period.start == until:
            until = period.end
            continue
        nxt = period
        break
    return LevelNow(level, current, until, nxt)


def on_call_board(teams: list[Team], now: datetime) -> list[TeamNow]:
    return [TeamNow(team, [level_now(team, lv, now) for lv in team.levels()]) for team in teams]
