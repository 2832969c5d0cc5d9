"""Who is on call now, until when, and who is next: per team and escalation level, read from
the live rotas (the files, with the engineers' TAKEs from the database). The dashboard's Now and
Rota pages and ``GET /api/oncall`` show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.cases.live_rota import live_team
from oncall.cases.live_rota import live_teams as teams_with_live_overrides
from oncall.domain.rota.live import stretch
from oncall.domain.rota.model import OnCall, Team
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


def live_teams(rt: Runtime, now: datetime | None = None) -> list[Team]:
    """Every loaded team with its live overrides, by key."""
    with rt.sessions() as session:
        teams = teams_with_live_overrides(session, rt, now or rt.clock.now())
    return [team for _key, team in sorted(teams.items())]


def live_team_now(rt: Runtime, key: str, now: datetime | None = None) -> Team | None:
    """Team ``key`` with its live overrides (None: no such team loaded)."""
    with rt.sessions() as session:
        return live_team(session, rt, key, now or rt.clock.now())


def level_now(team: Team, level: str, now: datetime) -> LevelNow:
    """Who holds ``level`` now, until when, and who is next.

    Back-to-back periods of the same person (an override that ends where their own shift
    continues) are one stretch: "until" is when somebody *else* takes over.
    """
    found = stretch(team, level, now, NEXT_HORIZON)
    return LevelNow(level, found.current, found.until, found.next)


def on_call_board(teams: list[Team], now: datetime) -> list[TeamNow]:
    return [TeamNow(team, [level_now(team, lv, now) for lv in team.levels()]) for team in teams]
