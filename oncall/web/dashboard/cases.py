"""The dashboard's case pages: Now (``/``: who is on call and the open cases), the case list
with live SLA clocks (``/cases``) and a case's whole story (``/cases/<number>``).

SLA colours are computed here on the server from the runtime clock; a small script only keeps
the countdowns ticking between reloads.
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, render_template
from sqlalchemy import select

from oncall.db.models import Case, CaseEvent, Deadline, MisuseFlag, OutboundMessage
from oncall.domain.enums import OPEN_STATES, DeadlineState
from oncall.reports.clocks import case_clocks
from oncall.web.auth import login_required
from oncall.web.context import runtime
from oncall.web.on_call import live_teams, on_call_board

RECENTLY_CLOSED = timedelta(days=7)


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
        file_errors=rt.file_errors(),  # rotas, customers and voice flows, in full
    )


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
