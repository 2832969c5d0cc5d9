"""The managers' dashboard: server-rendered pages, readable on a phone.

Now (``/``), open cases with live SLA clocks (``/cases``), a case's whole story
(``/cases/<number>``), the rotas (``/rotas/<team>``; ``/rota/<team>.ics`` is the iCal feed),
misuse flags and refused attempts (``/misuse``), and monthly SLA compliance (``/reports``).

Views validate, read, and render; the one that changes something (waiving a fee) calls
:func:`oncall.services.misuse.waive_misuse`. SLA colours are computed here on the server
from the runtime clock; a small script only keeps the countdowns ticking between reloads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select

from oncall.cases.store import CaseError
from oncall.config.yamlsource import format_duration
from oncall.db.models import Attempt, Case, CaseEvent, Deadline, MisuseFlag, OutboundMessage
from oncall.domain.enums import OPEN_STATES, DeadlineState
from oncall.domain.rota import OnCall, Team, shifts, to_instant, who_is_on_call
from oncall.reports.clocks import case_clocks, format_seconds
from oncall.reports.misuse import misuse_csv, misuse_report
from oncall.reports.months import month_bounds, month_of, parse_month
from oncall.reports.sla import sla_report
from oncall.services.misuse import waive_misuse
from oncall.web.auth import current_user, login_required, manager_required, safe_next
from oncall.web.context import runtime

log = logging.getLogger("oncall.web.dashboard.views")

bp = Blueprint("dashboard", __name__)

ROTA_DAYS = 14
NEXT_HORIZON = timedelta(days=60)  # how far ahead "who's next" looks
RECENTLY_CLOSED = timedelta(days=7)
MAX_REASON = 500


# -- template helpers -----------------------------------------------------------------------
def _local(
    value: datetime | None, zone: ZoneInfo | str | None = None, fmt: str = "%a %d %b %H:%M %Z"
):
    if value is None:
        return "–"
    if zone is None:
        zone = runtime().settings.zone
    elif isinstance(zone, str):
        zone = ZoneInfo(zone)
    return value.astimezone(zone).strftime(fmt)


@bp.app_template_filter("local")
def local_filter(value, zone=None, fmt="%a %d %b %H:%M %Z"):
    return _local(value, zone, fmt)


@bp.app_template_filter("duration")
def duration_filter(seconds):
    return format_seconds(seconds)


@bp.app_template_filter("span")
def span_filter(delta: timedelta) -> str:
    """A configured duration as the YAML writes it (``5m``, ``1h30m``)."""
    return format_duration(delta)


@bp.app_template_filter("iso")
def iso_filter(value: datetime | None) -> str:
    return value.isoformat() if value else ""


@bp.app_context_processor
def _dashboard_globals():
    rt = runtime()
    return {
        "company": rt.settings.company,
        "server_now": rt.clock.now(),
        "warn_seconds": int(rt.settings.sla.warn_before.total_seconds()),
    }


# -- who is on call -------------------------------------------------------------------------
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


def live_teams(rt) -> list[Team]:
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


def rota_errors_for(rt, team_key: str, source: str = ""):
    """This team's file problems (the live rota is then the last good version)."""
    out = []
    for error in rt.rotas.errors():
        path = Path(error.file)
        if (source and (error.file == source or path.name == Path(source).name)) or (
            path.stem == team_key
        ):
            out.append(error)
    return out


# -- pages ----------------------------------------------------------------------------------
@bp.get("/")
@login_required
def now_page():
    rt = runtime()
    now = rt.clock.now()
    board = on_call_board(live_teams(rt), now)
    with rt.sessions() as session:
        cases = list(
            session.scalars(
                select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.opened_at)
            )
        )
    warn = rt.settings.sla.warn_before
    clocks = [(case, *case_clocks(case, now, warn)) for case in cases]
    return render_template(
        "now.html",
        board=board,
        now=now,
        open_cases=clocks,
        rota_errors=rt.rotas.errors(),
    )


@bp.get("/cases")
@login_required
def cases_page():
    rt = runtime()
    now = rt.clock.now()
    with rt.sessions() as session:
        open_cases = list(
            session.scalars(
                select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.opened_at)
            )
        )
        closed = list(
            session.scalars(
                select(Case)
                .where(Case.state.not_in(OPEN_STATES), Case.opened_at >= now - RECENTLY_CLOSED)
                .order_by(Case.opened_at.desc())
                .limit(50)
            )
        )
    warn = rt.settings.sla.warn_before
    rows = [(case, *case_clocks(case, now, warn)) for case in open_cases]
    return render_template("cases.html", rows=rows, closed=closed, now=now)


@bp.get("/cases/<int:number>")
@login_required
def case_page(number: int):
    rt = runtime()
    now = rt.clock.now()
    with rt.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            abort(404)
        events = list(
            session.scalars(
                select(CaseEvent)
                .where(CaseEvent.case_id == case.id)
                .order_by(CaseEvent.at, CaseEvent.id)
            )
        )
        messages = list(
            session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.case_id == case.id)
                .order_by(OutboundMessage.created_at, OutboundMessage.id)
            )
        )
        deadlines = list(
            session.scalars(
                select(Deadline)
                .where(Deadline.case_id == case.id, Deadline.state == DeadlineState.PENDING.value)
                .order_by(Deadline.due_at)
            )
        )
        flag = session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == case.id))
    triage, status = case_clocks(case, now, rt.settings.sla.warn_before)
    told_events = [e for e in events if e.kind == "customer_notified"]
    told_messages = [m for m in messages if m.recipient == "customer"]
    return render_template(
        "case.html",
        case=case,
        events=events,
        messages=messages,
        deadlines=deadlines,
        flag=flag,
        triage=triage,
        status=status,
        told_events=told_events,
        told_messages=told_messages,
        recording=_safe_link(case.recording_url),
        now=now,
    )


def _safe_link(url: str | None) -> str | None:
    # Autoescaping stops markup, not a javascript: URL in href; only web links are links.
    if url and (url.startswith("https://") or url.startswith("http://")):
        return url
    return None


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


@bp.get("/rotas")
@login_required
def rotas_page():
    rt = runtime()
    teams = live_teams(rt)
    if len(teams) == 1 and not rt.rotas.errors():
        return redirect(url_for("dashboard.rota_page", team=teams[0].key))
    return render_template("rotas.html", teams=teams, errors=rt.rotas.errors())


@bp.get("/rotas/<team>")
@login_required
def rota_page(team: str):
    rt = runtime()
    live = rt.rotas.team(team)
    if live is None:
        abort(404)
    now = rt.clock.now()
    horizon = now + timedelta(days=ROTA_DAYS + 1)
    overrides = [o for o in live.overrides if o.end > now and o.start < horizon]
    return render_template(
        "rota.html",
        team=live,
        teams=live_teams(rt),
        days=rota_days(live, now),
        levels=live.levels(),
        board=on_call_board([live], now)[0],
        overrides=overrides,
        errors=rota_errors_for(rt, live.key, live.source),
        now=now,
    )


def _month_arg(rt) -> str:
    month = request.args.get("month") or month_of(rt.clock.now(), rt.settings.zone)
    try:
        parse_month(month)
    except ValueError as exc:
        abort(400, str(exc))
    return month


@bp.get("/misuse")
@login_required
def misuse_page():
    rt = runtime()
    month = _month_arg(rt)
    start, end = month_bounds(month, rt.settings.zone)
    with rt.sessions() as session:
        flags = list(
            session.execute(
                select(MisuseFlag, Case.number, Case.customer_name)
                .outerjoin(Case, Case.id == MisuseFlag.case_id)
                .where(MisuseFlag.month == month)
                .order_by(MisuseFlag.flagged_at.desc(), MisuseFlag.id.desc())
            )
        )
        per_customer = list(
            session.execute(
                select(
                    Attempt.customer_key,
                    Attempt.reason,
                    func.count(),
                    func.max(Attempt.at),
                )
                .where(Attempt.at >= start, Attempt.at < end)
                .group_by(Attempt.customer_key, Attempt.reason)
                .order_by(func.count().desc(), Attempt.customer_key)
            )
        )
        attempts = list(
            session.scalars(
                select(Attempt)
                .where(Attempt.at >= start, Attempt.at < end)
                .order_by(Attempt.at.desc())
                .limit(100)
            )
        )
    directory = rt.directory()
    names = {key: customer.name for key, customer in directory.customers.items()}
    refused: dict[str, dict] = {}
    for key, reason, count, last in per_customer:
        entry = refused.setdefault(
            key or "", {"total": 0, "reasons": {}, "last": last, "name": names.get(key or "", "")}
        )
        entry["total"] += count
        entry["reasons"][reason] = count
        entry["last"] = max(entry["last"], last)
    refused_rows = sorted(refused.items(), key=lambda item: (-item[1]["total"], item[0]))
    return render_template(
        "misuse.html",
        month=month,
        flags=flags,
        refused=refused_rows,
        attempts=attempts,
        names=names,
        can_waive=(current_user().role == "manager"),
    )


@bp.post("/misuse/<int:number>/waive")
@manager_required
def waive(number: int):
    rt = runtime()
    back = safe_next(request.form.get("next"), url_for("dashboard.misuse_page"))
    reason = " ".join(request.form.get("reason", "").split())
    if not reason:
        flash("Give a reason to waive the fee.", "error")
        return redirect(back)
    if len(reason) > MAX_REASON:
        flash(f"Keep the reason under {MAX_REASON} characters.", "error")
        return redirect(back)
    user = current_user()
    try:
        with rt.sessions() as session, session.begin():
            waive_misuse(session, rt, number, user.username, reason, rt.clock.now())
    except CaseError as exc:  # refusals worded for the person who asked
        flash(f"Case {number}: {exc}", "error")
        return redirect(back)
    rt.wake_sender()
    log.info("misuse fee waived by %s: %s", user.username, reason, extra={"case": number})
    flash(f"Case {number}: fee waived.", "ok")
    return redirect(back)


@bp.get("/reports")
@login_required
def reports_page():
    rt = runtime()
    month = _month_arg(rt)
    zone = rt.settings.zone
    with rt.sessions() as session:
        report = sla_report(session, month, zone, sla=rt.settings.sla, now=rt.clock.now())
        misuse = misuse_report(session, month, zone)
    totals: dict[str, float] = {}
    for row in misuse:
        totals[row.currency] = totals.get(row.currency, 0.0) + row.due
    return render_template("reports.html", month=month, report=report, misuse=misuse, totals=totals)


@bp.get("/reports/misuse.csv")
@login_required
def misuse_csv_download():
    rt = runtime()
    month = _month_arg(rt)
    with rt.sessions() as session:
        rows = misuse_report(session, month, rt.settings.zone)
    return Response(
        misuse_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="misuse-{month}.csv"'},
    )
