"""Escalation snapshots: the team's policy frozen on a case when it opens.

When a case opens, :func:`policy_snapshot` stores the team's policy on the case. The rule:

* **The structure is frozen at open time**: steps, delays, ``repeat``, the rotations (members,
  order, shift, start, windows, layers), the members and their phone numbers and emails, and
  the manager. A rota edit after the case opened never changes an escalation already running.
* **The person is resolved when a step fires**, at that instant, from the snapshotted
  rotations: a normal handoff between opening and firing is honoured (a case opened at 08:58
  whose second step fires at 09:03 pages the engineer who took over at 09:00).
* **Overrides come from the live team** when it is available (:func:`targets_from_snapshot`
  ``live_team``): an override in the live file for a snapshotted rotation that covers the firing
  instant wins, so "Carol takes tonight" added after the case opened applies to every step that
  has not fired yet, and an override deleted since no longer applies. The member it names is
  taken from the snapshot (frozen contact details) or, if the member was added to the team after
  the case opened, from the live team. Overrides for rotations the snapshot doesn't have are
  ignored. Without a live team (the file was removed or never loaded) the snapshotted overrides
  apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from oncall.domain.rota.localtime import require_aware
from oncall.domain.rota.model import (
    EscalationPolicy,
    EscalationStep,
    Member,
    Override,
    Rotation,
    Team,
)
from oncall.domain.rota.resolve import resolve_targets
from oncall.domain.rota.windows import Window

SNAPSHOT_VERSION = 1


def _td(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _member_json(member: Member) -> dict[str, Any]:
    return {"name": member.name, "phone": member.phone, "email": member.email}


def policy_snapshot(team: Team, at: datetime) -> dict[str, Any]:
    """Everything needed to run this team's escalation later, as JSON-serialisable data.

    ``resolved`` lists, per step, who that step would page at ``at`` (for display: "will page
    Alice Ng, then Bob Roy"); the people actually paged are resolved when each step fires.
    """
    require_aware(at)
    return {
        "version": SNAPSHOT_VERSION,
        "team": team.key,
        "timezone": team.timezone,
        "taken_at": at.astimezone(UTC).isoformat(),
        "members": {key: _member_json(m) for key, m in team.members.items()},
        "rotations": [
            {
                "name": r.name,
                "level": r.level,
                "members": list(r.members),
                "shift_seconds": r.shift.total_seconds(),
                "start": r.start.isoformat(),
                "window": (
                    None
                    if r.window is None
                    else [[o.total_seconds(), n.total_seconds()] for o, n in r.window.spans]
                ),
            }
            for r in team.rotations
        ],
        "overrides": [
            {
                "rotation": o.rotation,
                "member": o.member,
                "start": o.start.astimezone(UTC).isoformat(),
                "end": o.end.astimezone(UTC).isoformat(),
                "note": o.note,
            }
            for o in team.overrides
        ],
        "escalation": {
            "repeat": team.escalation.repeat,
            "steps": [
                {"after_seconds": s.after.total_seconds(), "notify": list(s.notify), "via": s.via}
                for s in team.escalation.steps
            ],
        },
        "manager": team.manager,
        "resolved": [
            [{"key": m.key, "name": m.name} for m in resolve_targets(team, step, at)]
            for step in team.escalation.steps
        ],
    }


def team_from_snapshot(snapshot: Mapping[str, Any]) -> Team:
    """The team exactly as it was when the snapshot was taken."""
    if snapshot.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported rota snapshot version {snapshot.get('version')!r}")
    members = {
        key: Member(key, m["name"], m.get("phone"), m.get("email"))
        for key, m in snapshot["members"].items()
    }
    rotations = tuple(
        Rotation(
            name=r["name"],
            level=r["level"],
            members=tuple(r["members"]),
            shift=_td(r["shift_seconds"]),
            start=datetime.fromisoformat(r["start"]),
            window=(
                None
                if r["window"] is None
                else Window(tuple((_td(o), _td(n)) for o, n in r["window"]))
            ),
        )
        for r in snapshot["rotations"]
    )
    overrides = tuple(
        Override(
            o["rotation"],
            o["member"],
            datetime.fromisoformat(o["start"]),
            datetime.fromisoformat(o["end"]),
            o.get("note"),
        )
        for o in snapshot["overrides"]
    )
    escalation = EscalationPolicy(
        tuple(
            # Snapshots taken before steps had a channel paged by SMS.
            EscalationStep(_td(s["after_seconds"]), tuple(s["notify"]), s.get("via", "sms"))
            for s in snapshot["escalation"]["steps"]
        ),
        snapshot["escalation"]["repeat"],
    )
    return Team(
        snapshot["team"],
        snapshot["timezone"],
        members,
        rotations,
        overrides,
        escalation,
        snapshot.get("manager"),
    )


def _with_live_overrides(team: Team, live: Team) -> Team:
    """The snapshotted team with the live team's overrides for the snapshotted rotations."""
    if live.key != team.key:
        raise ValueError(f"live team {live.key!r} is not the snapshotted team {team.key!r}")
    names = {r.name for r in team.rotations}
    overrides = tuple(o for o in live.overrides if o.rotation in names)
    members = dict(team.members)
    for override in overrides:
        # A member added to the team after the case opened: only the live file knows them.
        if override.member not in members:
            members[override.member] = live.members[override.member]
    return replace(team, members=members, overrides=overrides)


def targets_from_snapshot(
    snapshot: Mapping[str, Any], step_index: int, at: datetime, live_team: Team | None
) -> list[Member]:
    """Who step ``step_index`` (its position in ``steps``; repeats reuse it) pages at ``at``.

    Follows the snapshot rule in the module docstring: frozen structure, rotations resolved at
    ``at``, live overrides win.
    """
    team = team_from_snapshot(snapshot)
    if live_team is not None:
        team = _with_live_overrides(team, live_team)
    steps = team.escalation.steps
    if not 0 <= step_index < len(steps):
        raise IndexError(f"the policy has {len(steps)} steps; there is no step {step_index}")
    return resolve_targets(team, steps[step_index], at)


def manager_from_snapshot(snapshot: Mapping[str, Any]) -> Member | None:
    """The manager as snapshotted (SLA breaches page them), with frozen contact details."""
    key = snapshot.get("manager")
    if not key or key not in snapshot.get("members", {}):
        return None
    data = snapshot["members"][key]
    return Member(key, data["name"], data.get("phone"), data.get("email"))
