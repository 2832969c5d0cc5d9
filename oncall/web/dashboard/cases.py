"""The dashboard's case pages: Now (``/``: who is on call and the open cases), the case list
with live SLA clocks (``/cases``) and a case's whole story (``/cases/<number>``).

SLA colours are computed here on the server from the runtime clock; a small script only keeps
the countdowns ticking between reloads. Every time is shown in the zone of the case's team
(the zone its escalation was snapshotted with), named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cases.members import member_of
from oncall.cases.page_link import existing_page_url
from oncall.db.models import Case, CaseEvent, Deadline, MisuseFlag, OutboundMessage
from oncall.domain.enums import OPEN_STATES, DeadlineState
from oncall.engine.wording import case_zone
from oncall.reports.clocks import SlaClock, case_clocks
from oncall.runtime import Runtime
from oncall.web.auth import login_required
from oncall.web.context import runtime
from oncall.web.dashboard.case_header import case_header
from oncall.web.dashboard.recording import recording_sid
from oncall.web.dashboard.timeline import build_timeline
from oncall.web.on_call import live_teams, on_call_board

RECENTLY_CLOSED = timedelta(days=7)


@dataclass(frozen=True)
class CaseRow:
    """A case in a list, with its clocks and the zone its times are shown in."""

    case: Case
    triage: SlaClock
    status: SlaClock
    zone: ZoneInfo


def _rows(rt: Runtime, cases: list[Case]) -> list[CaseRow]:
    now, warn = rt.clock.now(), rt.settings.sla.warn_before
    return [CaseRow(case, *case_clocks(case, now, warn), case_zone(rt, case)) for case in cases]


def _open_cases(session: Session) -> list[Case]:
    return list(
        session.scalars(select(Case).where(Case.state.in_(OPEN_STATES)).order_by(Case.opened_at))
    )


@login_required
def now_page():
    rt = runtime()
    now = rt.clock.now()
    board = on_call_board(live_teams(rt), now)
    with rt.sessions() as session:
        cases = _open_cases(session)
    return render_template(
        "now.html",
        board=board,
        now=now,
        open_cases=_rows(rt, cases),
        file_errors=rt.file_errors(),  # rotas, customers and voice flows, in full
    )


@login_required
def cases_page():
    rt = runtime()
    now = rt.clock.now()
    with rt.sessions() as session:
        open_cases = _open_cases(session)
        closed = list(
            session.scalars(
                select(Case)
                .where(Case.state.not_in(OPEN_STATES), Case.opened_at >= now - RECENTLY_CLOSED)
                .order_by(Case.opened_at.desc())
                .limit(50)
            )
        )
    return render_template(
        "cases.html", rows=_rows(rt, open_cases), closed=_rows(rt, closed), now=now
    )


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
            session.scalars(select(OutboundMessage).where(OutboundMessage.case_id == case.id))
        )
        deadlines = list(
            session.scalars(
                select(Deadline)
                .where(Deadline.case_id == case.id, Deadline.state == DeadlineState.PENDING.value)
                .order_by(Deadline.due_at, Deadline.id)
            )
        )
        flag = session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == case.id))

    def name_of(key: str) -> str:
        member = member_of(rt, case, key)
        return member.name if member is not None else key

    return render_template(
        "case.html",
        case=case,
        zone=case_zone(rt, case),
        header=case_header(case, events, deadlines, now, rt.settings.sla.warn_before, name_of),
        timeline=build_timeline(events, messages, name_of),
        flag=flag,
        has_recording=recording_sid(case) is not None,
        customer_page=existing_page_url(rt, case),
        now=now,
    )
