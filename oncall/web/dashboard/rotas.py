"""The dashboard's rota pages: the list of teams (``/rotas``) and one team's rota
(``/rotas/<team>``): who is on call now and next, a calendar of the coming days per level, the
coming overrides, the live overrides (engineers' TAKEs, which a manager may remove here, and
copy into the file as YAML), and the problems in the team's file. ``/rota/<team>.ics`` is the
iCal feed (:mod:`oncall.web.feeds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from flask import abort, flash, redirect, render_template, url_for

from oncall.config.yamlsource import SourceError
from oncall.db.session import transaction
from oncall.domain.rota.localtime import to_instant
from oncall.domain.rota.model import EscalationStep, OnCall, Team
from oncall.domain.rota.resolve import shifts, who_is_on_call
from oncall.runtime import Runtime
from oncall.services.live_overrides import (
    OverrideError,
    override_rows,
    overrides_yaml,
    remove_live_override,
)
from oncall.web.auth import current_user, login_required, manager_required
from oncall.web.context import runtime
from oncall.web.on_call import live_team_now, live_teams, on_call_board

ROTA_DAYS = 14


@login_required
def rotas_page():
    rt = runtime()
    teams = live_teams(rt)
    if len(teams) == 1 and not rt.rotas.errors():
        return redirect(url_for("dashboard.rota_page", team=teams[0].key))
    return render_template("rotas.html", teams=teams, errors=rt.rotas.errors())


@login_required
def rota_page(team: str):
    rt = runtime()
    now = rt.clock.now()
    live = live_team_now(rt, team, now)
    if live is None:
        abort(404)
    horizon = now + timedelta(days=ROTA_DAYS + 1)
    overrides = [o for o in live.overrides if o.end > now and o.start < horizon]
    with rt.sessions() as session:
        takes = override_rows(session, now, live.key)
    return render_template(
        "rota.html",
        team=live,
        teams=live_teams(rt, now),
        days=rota_days(live, now),
        levels=live.levels(),
        board=on_call_board([live], now)[0],
        steps=[escalation_row(live, step, now) for step in live.escalation.steps],
        overrides=overrides,
        errors=rota_errors_for(rt, live.key, live.source),
        now=now,
        takes=takes,
        takes_yaml=overrides_yaml(takes, {live.key: live.zone}),
    )


@manager_required
def remove_override(team: str, override_id: int):
    rt = runtime()
    user = current_user()
    try:
        with transaction(rt.sessions) as session:
            removed = remove_live_override(session, rt, override_id, user.username, rt.clock.now())
            what = f"{removed.row.member} as {removed.row.level} (live override {removed.row.id})"
    except OverrideError as exc:
        flash(str(exc), "error")
        return redirect(url_for("dashboard.rota_page", team=team))
    rt.wake_sender()
    told = f"; {removed.told} is told by SMS" if removed.told else ""
    flash(f"Removed {what}: the rota file applies again{told}.", "ok")
    return redirect(url_for("dashboard.rota_page", team=team))


def rota_errors_for(rt: Runtime, team_key: str, source: str = "") -> list[SourceError]:
    """This team's file problems (the live rota is then the last good version)."""
    out = []
    for error in rt.rotas.errors():
        path = Path(error.file)
        if (source and (error.file == source or path.name == Path(source).name)) or (
            path.stem == team_key
        ):
            out.append(error)
    return out


# -- the escalation policy ------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One name a step notifies, for people: a level with who holds it now, or a member."""

    name: str  # the level or rotation name, or the member's name
    now: str  # who a level pages now ("" for a member, "nobody" for an empty level)
    is_level: bool


@dataclass(frozen=True)
class StepRow:
    after: timedelta
    targets: list[Target]


def escalation_row(team: Team, step: EscalationStep, now: datetime) -> StepRow:
    targets = []
    for name in step.notify:
        if team.is_schedule(name):
            current = who_is_on_call(team, name, now)
            targets.append(Target(name, current.member.name if current else "nobody", True))
        else:
            member = team.members.get(name)
            targets.append(Target(member.name if member else name, "", False))
    return StepRow(step.after, targets)


# -- the calendar ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """One on-call period as it shows in one day's cell of the rota calendar."""

    period: OnCall
    hours: str  # "all day", or a span of local times such as 18:00 to 24:00


@dataclass(frozen=True)
class DayRow:
    day: date
    today: bool
    cells: list[list[Slot]]  # per level, in team.levels() order


def rota_days(team: Team, now: datetime, days: int = ROTA_DAYS) -> list[DayRow]:
    """``days`` local days from today, each with the on-call periods per level clipped to it.

    Day edges are local midnights (a DST day is 23 or 25 hours long).
    """
    zone = team.zone
    today = now.astimezone(zone).date()
    bounds = [
        to_instant(datetime.combine(today + timedelta(d), time()), zone) for d in range(days + 1)
    ]
    per_level = {level: shifts(team, level, bounds[0], bounds[-1]) for level in team.levels()}

    def hours(start: datetime, end: datetime, day_start: datetime, day_end: datetime) -> str:
        if start <= day_start and end >= day_end:
            return "all day"
        begin = "00:00" if start <= day_start else start.astimezone(zone).strftime("%H:%M")
        until = "24:00" if end >= day_end else end.astimezone(zone).strftime("%H:%M")
        return f"{begin}–{until}"

    rows = []
    for index in range(days):
        start, end = bounds[index], bounds[index + 1]
        cells = [
            [
                Slot(p, hours(p.start, p.end, start, end))
                for p in per_level[level]
                if p.start < end and p.end > start
            ]
            for level in team.levels()
        ]
        rows.append(DayRow(today + timedelta(index), index == 0, cells))
    return rows
