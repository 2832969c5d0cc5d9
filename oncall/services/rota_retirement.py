"""Retiring a team whose rota file is gone (``oncall rota retire TEAM``).

A rota file that disappears does not stop its team paging: the running service keeps the last
good version (a rename or a slip of ``rm`` is far more likely than a wish to leave customers
with nobody). A manager who really means it retires the team: a row in ``retired_rotas`` that
every process reads at its next file poll (:meth:`oncall.runtime.Runtime.let_gone_teams_go`).
Removing the team from customers.yaml lets it go as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.db.models import Case, RetiredRota
from oncall.domain.enums import OPEN_STATES
from oncall.runtime import Runtime
from oncall.sources.rotas.directory import rota_files

TEAM_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RetireRefused(Exception):
    """The team cannot be retired; the message says why and what to do."""


@dataclass(frozen=True)
class Retired:
    team: str
    customers: tuple[str, ...]  # customers that still name the team: their calls page nobody
    open_cases: int  # open cases of the team: they go on with the policy frozen on them


def retire_team(session: Session, runtime: Runtime, team: str, by: str, now: datetime) -> Retired:
    """Record that ``team`` is retired; refused while a rota file for it is in the directory
    (delete or rename that first: the file, not this command, is what defines a live team)."""
    if not TEAM_KEY.match(team):
        raise RetireRefused(f"{team!r} is not a team name (a rota file name without .yaml)")
    directory = runtime.settings.paths.rotations
    if directory.is_dir() and any(path.stem == team for path in rota_files(directory)):
        raise RetireRefused(
            f"{team}.yaml is still in the rotations directory: remove it first (retiring is "
            "for a team whose file is already gone)"
        )
    row = session.get(RetiredRota, team)
    if row is None:
        session.add(RetiredRota(team=team, retired_at=now, retired_by=by[:200]))
    else:
        row.retired_at, row.retired_by = now, by[:200]
    customers = tuple(
        sorted(c.name for c in runtime.directory().customers.values() if c.team == team)
    )
    open_cases = session.scalar(
        select(func.count(Case.id)).where(Case.team == team, Case.state.in_(OPEN_STATES))
    )
    return Retired(team, customers, int(open_cases or 0))
