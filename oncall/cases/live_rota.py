"""The live rota: each team as its file says, with the overrides kept in the database (an
engineer's ``TAKE``, :class:`~oncall.db.models.LiveOverride`) layered on top.

This is the one place the rota is resolved from: the engine paging a step and a case snapshotting
its policy, the phone line putting a caller through, ``WHO`` and ``TAKE``, shift notices, the
dashboard's Now and Rota pages, ``GET /api/oncall`` and the iCal feeds ask :func:`live_team` /
:func:`live_teams`; ``oncall rota who|show|ics`` reads :func:`live_overrides` and hands them to
the pure :func:`~oncall.domain.rota.live.with_live_overrides` itself. Whoever holds a session
passes it, so a read inside a transaction sees that transaction's own TAKE, and nothing opens a
second connection while the first holds SQLite's write lock.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import LiveOverride
from oncall.domain.rota.live import with_live_overrides
from oncall.domain.rota.model import Override, Team
from oncall.runtime import Runtime

#: Overrides that ended longer ago than this no longer matter to anyone reading the rota (the
#: iCal feeds look two weeks back).
HISTORY = timedelta(days=31)


def as_override(row: LiveOverride) -> Override:
    """The domain override a row stands for; its note says who took it and how."""
    return Override(
        row.rotation,
        row.member,
        row.starts_at,
        row.ends_at,
        note=f"taken by {row.created_by} ({row.created_via})",
    )


def live_override_rows(
    session: Session, since: datetime | None, team: str | None = None
) -> list[LiveOverride]:
    """The live overrides not removed that end after ``since`` (None: all of them), oldest
    first: later ones win where they overlap."""
    query = (
        select(LiveOverride)
        .where(LiveOverride.removed_at.is_(None))
        .order_by(LiveOverride.created_at, LiveOverride.id)
    )
    if since is not None:
        query = query.where(LiveOverride.ends_at > since)
    if team is not None:
        query = query.where(LiveOverride.team == team)
    return list(session.scalars(query))


def live_overrides(
    session: Session, since: datetime | None, team: str | None = None
) -> dict[str, list[Override]]:
    """The live overrides per team that end after ``since`` (None: all), as domain overrides."""
    out: dict[str, list[Override]] = defaultdict(list)
    for row in live_override_rows(session, since, team):
        out[row.team].append(as_override(row))
    return out


def live_team(session: Session, runtime: Runtime, key: str, now: datetime) -> Team | None:
    """Team ``key`` from its file (last good version) with its live overrides, or None."""
    team = runtime.rotas.team(key)
    if team is None:
        return None
    overrides = live_overrides(session, now - HISTORY, key)
    return with_live_overrides(team, overrides.get(key, ()))


def live_teams(session: Session, runtime: Runtime, now: datetime) -> dict[str, Team]:
    """Every loaded team with its live overrides, by key."""
    overrides = live_overrides(session, now - HISTORY)
    return {
        key: with_live_overrides(team, overrides.get(key, ()))
        for key, team in runtime.rotas.teams().items()
    }
