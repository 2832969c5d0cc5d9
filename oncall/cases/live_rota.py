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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import LiveOverride
from oncall.domain.rota.live import with_live_overrides
from oncall.domain.rota.model import Override, Team
from oncall.runtime import Runtime

# ``session.info`` key of the teams resolved in this batch (:func:`batch_cache`).
_CACHE = "oncall.live_team_cache"

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
    cache = session.info.get(_CACHE)
    if cache is not None and (key, now) in cache:
        return cache[key, now]
    team = runtime.rotas.team(key)
    if team is not None:
        overrides = live_overrides(session, now - HISTORY, key)
        team = with_live_overrides(team, overrides.get(key, ()))
    if cache is not None:
        cache[key, now] = team
    return team


@contextmanager
def batch_cache(session: Session) -> Iterator[None]:
    """Resolve each team's live rota once inside this block (per team and instant).

    The engine applies a batch of deadlines at one ``now`` in one transaction: a hundred
    steps of one team would otherwise read the same overrides a hundred times. A TAKE that
    commits while the batch runs is seen by the next batch, as it would be by a step applied
    a moment later.
    """
    session.info[_CACHE] = {}
    try:
        yield
    finally:
        session.info.pop(_CACHE, None)


def live_teams(session: Session, runtime: Runtime, now: datetime) -> dict[str, Team]:
    """Every loaded team with its live overrides, by key."""
    overrides = live_overrides(session, now - HISTORY)
    return {
        key: with_live_overrides(team, overrides.get(key, ()))
        for key, team in runtime.rotas.teams().items()
    }
