"""A manager's view of the live overrides (engineers' ``TAKE``\\ s): list them, remove one, and
write them as YAML to paste into the rota file, so a swap that should last can move into the
file, where it is reviewed with the rest of the rota.

``oncall rota override list|remove`` and the dashboard's Rota page call these.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.live_rota import live_team
from oncall.cases.outbox import tell_member
from oncall.db.models import LiveOverride
from oncall.domain.enums import Purpose
from oncall.domain.shift_text import take_removed_text
from oncall.runtime import Runtime

log = logging.getLogger("oncall.rota")


class OverrideError(ValueError):
    """A removal that cannot be done; the message is for the manager."""


@dataclass(frozen=True)
class Removed:
    row: LiveOverride
    told: str | None  # the name of the engineer told by SMS, if any


def override_rows(
    session: Session, now: datetime, team: str | None = None, *, everything: bool = False
) -> list[LiveOverride]:
    """Live overrides in force or to come (``everything``: ended and removed ones too), by start."""
    query = select(LiveOverride).order_by(LiveOverride.starts_at, LiveOverride.id)
    if not everything:
        query = query.where(LiveOverride.removed_at.is_(None), LiveOverride.ends_at > now)
    if team is not None:
        query = query.where(LiveOverride.team == team)
    return list(session.scalars(query))


def remove_live_override(
    session: Session, runtime: Runtime, override_id: int, by: str, now: datetime
) -> Removed:
    """Remove a live override: the rota file applies again from now. The engineer who made it
    is told (if it hadn't ended yet). Raises :class:`OverrideError` for an unknown id or one
    already removed."""
    row = session.get(LiveOverride, override_id, with_for_update=True)
    if row is None:
        raise OverrideError(f"No live override {override_id}.")
    if row.removed_at is not None:
        raise OverrideError(f"Live override {override_id} was already removed by {row.removed_by}.")
    row.removed_at = now
    row.removed_by = by
    told = None
    team = live_team(session, runtime, row.team, now)
    if row.ends_at > now and team is not None and row.member in team.members:
        member = team.members[row.member]
        message = tell_member(
            session,
            runtime,
            now,
            member,
            purpose=Purpose.ROTA_CHANGE,
            text=take_removed_text(row.level, row.team, row.ends_at, by, team.zone),
            subject=f"Your TAKE of {row.level} for {row.team} was removed",
            dedupe_key=f"take-removed:{row.id}",
        )
        told = member.name if message is not None else None
    log.info(
        "live override %s (%s %s %s) removed by %s", row.id, row.team, row.level, row.member, by
    )
    return Removed(row, told)


def _local(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


def overrides_yaml(rows: list[LiveOverride], zones: dict[str, ZoneInfo]) -> str:
    """The overrides (those not removed) as entries for each team file's ``overrides:``
    (local times, as the file wants them), one block per team."""
    rows = [row for row in rows if row.removed_at is None]
    blocks = []
    for team in sorted({row.team for row in rows}):
        zone = zones.get(team)
        if zone is None:
            continue
        lines = [f"# rotations/{team}.yaml ({zone.key})", "overrides:"]
        for row in (r for r in rows if r.team == team):
            note = f"TAKE by {row.created_by}".replace('"', "'")
            lines.append(
                f"  - {{rotation: {row.rotation}, member: {row.member}, "
                f"from: {_local(row.starts_at, zone)}, until: {_local(row.ends_at, zone)}, "
                f'note: "{note}"}}'
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
