"""Can the line page somebody for every customer who may call it right now? Pure functions
over the loaded teams and who may call, taking ``now``; ``/healthz`` and the dashboard's
banner say what they find (:mod:`oncall.services.paging_readiness`).

A team is a problem when a customer entitled to the critical line right now names it and
either it has no rota loaded, or the first step of its escalation policy reaches nobody now
(nobody on call for the levels it names, or only people with neither phone nor email). Such a
call opens a case that no engineer is paged for: the managers are alerted instead, and an
operator must know before the customer does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from oncall.domain.rota.model import Team
from oncall.domain.rota.resolve import resolve_targets

MAX_NAMED = 3  # customers named per problem; the rest are counted


def team_problems(
    callers_by_team: Mapping[str, Sequence[str]], teams: Mapping[str, Team], now: datetime
) -> list[str]:
    """One sentence per team that customers entitled now would reach with nobody to page.

    ``callers_by_team`` maps a team key to the names of the customers entitled to the
    critical line right now who name that team.
    """
    problems = []
    for key in sorted(callers_by_team):
        callers = _named(callers_by_team[key])
        team = teams.get(key)
        if team is None:
            problems.append(
                f"team {key!r} has no rota loaded: a call from {callers} would page no "
                "engineer (the managers are alerted instead)"
            )
        elif not first_step_reaches_somebody(team, now):
            first = ", ".join(team.escalation.steps[0].notify) if team.escalation.steps else ""
            problems.append(
                f"team {key!r}: nobody can be paged for the first escalation step"
                + (f" ({first})" if first else "")
                + f" now: a call from {callers} would page no engineer at once"
            )
    return problems


def first_step_reaches_somebody(team: Team, now: datetime) -> bool:
    """Whether the policy's first step pages at least one person with a phone or email now."""
    if not team.escalation.steps:
        return False
    targets = resolve_targets(team, team.escalation.steps[0], now)
    return any(member.phone or member.email for member in targets)


def _named(names: Sequence[str]) -> str:
    ordered = sorted(dict.fromkeys(names))
    shown = ", ".join(ordered[:MAX_NAMED])
    more = len(ordered) - MAX_NAMED
    return f"{shown} (and {more} more)" if more > 0 else shown
