"""The monthly SLA report: how the cases opened in a month did against their targets.

The functions here read rows and compute; they never write, and they take the time zone and
targets as arguments, so the CLI, the dashboard and the API give the same numbers.

Rules (stated once, here):

* **The month** is a calendar month in the service's time zone (:mod:`oncall.reports.months`).
  A case belongs to the month it was *opened* in, and all of its breaches count in that month,
  even a breach that happened after midnight on the 1st: the report answers "how did we do on
  the cases opened in November".
* **Time to triage** is ``acknowledged_at - opened_at`` over acknowledged cases. The median is
  the usual middle value (mean of the two middle ones for an even count); **p90** is the
  nearest-rank 90th percentile, so it is always a time that really happened.
* **Triaged within target**: acknowledged at or before ``triage_due_at``. Counted over cases
  that were acknowledged or whose triage target has passed; a case still inside its target is
  neither met nor missed yet.
* **First status within target**: the first status (``first_status_at``; a resolution counts,
  since the customer is told about it) at or before the due time the engine armed: the case's
  ``first_status_due_at`` (from its contract snapshot), or for a case opened before contracts
  ``opened_at + sla.first_status``, scaled by ``after_hours_multiplier`` after hours. Cases
  downgraded out of the critical line without a status are left out: the target stopped
  applying to them. Cases whose target hasn't passed yet are left out too.
* **Customer escalations** are the timeline's ``customer_escalated`` events of the month's
  cases: every one counts (also those within 30 minutes of the last, which did not page the
  manager again), and the cases with at least one.
* **Time to resolve (MTTR)** is ``resolved_at - opened_at`` over resolved cases, less the time
  the case waited for the customer (:mod:`oncall.reports.lifecycle`); median and p90 as above.
* **Per plan**: the same figures for the cases of each plan (the plan the case opened under).
* **Breaches** are the timeline's ``breach`` events (``data.target`` is ``triage`` or
  ``status``). Each is charged to the engineer who acknowledged the case, or, if nobody had,
  to the last engineer paged before the breach.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter as Tally
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from oncall.db.models import Case, CaseEvent, OutboundMessage
from oncall.domain import sla as sla_rules
from oncall.domain.enums import ENGINEER_PAGE_PURPOSES, CaseState
from oncall.domain.sla import SlaSettings
from oncall.reports.lifecycle import paused_delta, paused_time
from oncall.reports.months import month_bounds


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class PlanFigures:
    plan: str
    cases: int
    triage_measured: int
    triaged_within_target: int
    first_status_measured: int
    first_status_within_target: int
    resolved: int
    median_resolution_seconds: float | None
    p90_resolution_seconds: float | None

    @property
    def triage_pct(self) -> float | None:
        return _pct(self.triaged_within_target, self.triage_measured)

    @property
    def first_status_pct(self) -> float | None:
        return _pct(self.first_status_within_target, self.first_status_measured)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["triage_pct"] = self.triage_pct
        data["first_status_pct"] = self.first_status_pct
        return data


@dataclass(frozen=True)
class SlaReport:
    month: str
    timezone: str
    start: datetime
    end: datetime
    cases: int
    acknowledged: int
    median_triage_seconds: float | None
    p90_triage_seconds: float | None
    triage_measured: int  # cases whose triage target was met or missed
    triaged_within_target: int
    first_status_measured: int
    first_status_within_target: int
    breaches: int
    breaches_by_target: dict[str, int] = field(default_factory=dict)
    breaches_by_team: list[Count] = field(default_factory=list)
    breaches_by_engineer: list[Count] = field(default_factory=list)
    breaches_by_customer: list[Count] = field(default_factory=list)
    # Customers escalating to the duty manager (phone 9, ESCALATE, the case page): every
    # escalation, the cases escalated, and by customer.
    customer_escalations: int = 0
    cases_escalated: int = 0
    escalations_by_customer: list[Count] = field(default_factory=list)
    resolved: int = 0
    median_resolution_seconds: float | None = None
    p90_resolution_seconds: float | None = None
    by_plan: list[PlanFigures] = field(default_factory=list)

    @property
    def triage_pct(self) -> float | None:
        return _pct(self.triaged_within_target, self.triage_measured)

    @property
    def first_status_pct(self) -> float | None:
        return _pct(self.first_status_within_target, self.first_status_measured)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        data["triage_pct"] = self.triage_pct
        data["first_status_pct"] = self.first_status_pct
        data["by_plan"] = [plan.to_dict() for plan in self.by_plan]
        return data


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def percentile_nearest_rank(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100.0 * len(ordered)), 1)
    return ordered[rank - 1]


def sla_report(
    session: Session,
    month: str,
    zone: ZoneInfo,
    *,
    sla: SlaSettings | None = None,
    now: datetime | None = None,
) -> SlaReport:
    """SLA compliance for the cases opened in ``month`` (see the module docstring).

    ``sla`` gives the first-status target (without it, first status is not measured); ``now``
    decides which targets have passed for cases still open (default: the wall clock).
    """
    start, end = month_bounds(month, zone)
    now = now or datetime.now(UTC)
    cases = list(
        session.scalars(
            select(Case)
            .where(Case.opened_at >= start, Case.opened_at < end)
            .order_by(Case.opened_at, Case.id)
        )
    )
    triage_times = [
        (case.acknowledged_at - case.opened_at).total_seconds()
        for case in cases
        if case.acknowledged_at is not None
    ]
    triage_met, triage_measured = _triage_target(cases, now)
    status_met, status_measured = _first_status_target(cases, sla, now)
    resolutions = _resolution_times(cases, now)
    breaches = _breaches(session, cases)
    by_target = Tally(target for target, _case, _engineer in breaches)
    teams = Tally(case.team for _target, case, _engineer in breaches)
    customers = Tally(case.customer_key for _target, case, _engineer in breaches)
    engineers = Tally(engineer[0] for _target, _case, engineer in breaches)
    customer_names = {case.customer_key: case.customer_name for case in cases}
    escalated = _escalations(session, cases)
    engineer_names = {engineer[0]: engineer[1] for _t, _c, engineer in breaches}
    return SlaReport(
        month=month,
        timezone=zone.key,
        start=start,
        end=end,
        cases=len(cases),
        acknowledged=len(triage_times),
        median_triage_seconds=statistics.median(triage_times) if triage_times else None,
        p90_triage_seconds=percentile_nearest_rank(triage_times, 90),
        triage_measured=triage_measured,
        triaged_within_target=triage_met,
        first_status_measured=status_measured,
        first_status_within_target=status_met,
        breaches=len(breaches),
        breaches_by_target=dict(sorted(by_target.items())),
        breaches_by_team=_counts(teams, {}),
        breaches_by_engineer=_counts(engineers, engineer_names),
        breaches_by_customer=_counts(customers, customer_names),
        customer_escalations=len(escalated),
        cases_escalated=len({case.id for case in escalated}),
        escalations_by_customer=_counts(
            Tally(case.customer_key for case in escalated), customer_names
        ),
        resolved=len(resolutions),
        median_resolution_seconds=statistics.median(resolutions) if resolutions else None,
        p90_resolution_seconds=percentile_nearest_rank(resolutions, 90),
        by_plan=_by_plan(cases, sla, now),
    )


def _escalations(session: Session, cases: list[Case]) -> list[Case]:
    """The case of every ``customer_escalated`` event of ``cases``."""
    by_id = {case.id: case for case in cases}
    if not by_id:
        return []
    ids = session.scalars(
        select(CaseEvent.case_id).where(
            CaseEvent.kind == "customer_escalated", CaseEvent.case_id.in_(by_id)
        )
    )
    return [by_id[case_id] for case_id in ids]


def _resolution_times(cases: list[Case], now: datetime) -> list[float]:
    """Seconds from opening to resolution, less the time waited for the customer."""
    return [
        max((case.resolved_at - case.opened_at).total_seconds() - paused_time(case, now), 0.0)
        for case in cases
        if case.resolved_at is not None
    ]


def _by_plan(cases: list[Case], sla: SlaSettings | None, now: datetime) -> list[PlanFigures]:
    plans: dict[str, list[Case]] = {}
    for case in cases:
        plans.setdefault(case.plan or "(none)", []).append(case)
    figures = []
    for plan, subset in sorted(plans.items()):
        triage_met, triage_measured = _triage_target(subset, now)
        status_met, status_measured = _first_status_target(subset, sla, now)
        resolutions = _resolution_times(subset, now)
        figures.append(
            PlanFigures(
                plan=plan,
                cases=len(subset),
                triage_measured=triage_measured,
                triaged_within_target=triage_met,
                first_status_measured=status_measured,
                first_status_within_target=status_met,
                resolved=len(resolutions),
                median_resolution_seconds=statistics.median(resolutions) if resolutions else None,
                p90_resolution_seconds=percentile_nearest_rank(resolutions, 90),
            )
        )
    return figures


def _triage_target(cases: list[Case], now: datetime) -> tuple[int, int]:
    """``(met, measured)``: acknowledged cases, and unacknowledged ones whose target passed."""
    met = measured = 0
    for case in cases:
        if case.triage_due_at is None:
            continue
        if case.acknowledged_at is not None:
            measured += 1
            met += case.acknowledged_at <= case.triage_due_at
        elif case.triage_due_at <= now:
            measured += 1
    return met, measured


def _first_status_target(
    cases: list[Case], sla: SlaSettings | None, now: datetime
) -> tuple[int, int]:
    """``(met, measured)``: the customer told (a status or the resolution), or the target passed.

    A case downgraded without a status is left out: the target stopped applying to it; so is
    one still asking its customer for the severity (its clock has not started), and a case
    from before contracts when no ``sla`` is given to work its target out.
    """
    met = measured = 0
    for case in cases:
        if case.first_status_due_at is not None:
            due = case.first_status_due_at
        elif sla is not None:
            due = case.opened_at + sla_rules.scaled(sla.first_status, sla, case.after_hours)
        else:
            continue
        # Time spent waiting for the customer (WAIT) moves the target: the clock was paused.
        due += paused_delta(case, now)
        told = case.first_status_at or case.resolved_at
        if told is not None:
            measured += 1
            met += told <= due
        elif case.state not in (CaseState.DOWNGRADED, CaseState.ASKED) and due <= now:
            measured += 1
    return met, measured


def _counts(tally: Tally, labels: dict[str, str]) -> list[Count]:
    # Most breaches first; ties in key order so the output is stable.
    ordered = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
    return [Count(key, labels.get(key, key), count) for key, count in ordered]


NOBODY = ("(nobody paged)", "(nobody paged)")


def _breaches(session: Session, cases: list[Case]) -> list[tuple[str, Case, tuple[str, str]]]:
    """(target, case, (engineer key, engineer name)) for every breach event of ``cases``."""
    if not cases:
        return []
    by_id = {case.id: case for case in cases}
    events = list(
        session.scalars(
            select(CaseEvent)
            .where(CaseEvent.kind == "breach", CaseEvent.case_id.in_(by_id))
            .order_by(CaseEvent.at, CaseEvent.id)
        )
    )
    # Pages to engineers for these cases, to charge breaches nobody had acknowledged.
    pages = list(
        session.execute(
            select(OutboundMessage.case_id, OutboundMessage.recipient, OutboundMessage.created_at)
            .where(
                and_(
                    OutboundMessage.case_id.in_(by_id),
                    OutboundMessage.purpose.in_(ENGINEER_PAGE_PURPOSES),
                    OutboundMessage.recipient.not_in(["", "customer"]),
                )
            )
            .order_by(OutboundMessage.created_at, OutboundMessage.id)
        )
    )
    out = []
    for event in events:
        case = by_id[event.case_id]
        target = str((event.data or {}).get("target") or "unknown")
        out.append((target, case, _engineer_for(case, event, pages)))
    return out


def _engineer_for(case: Case, event: CaseEvent, pages: list[Any]) -> tuple[str, str]:
    """Who a breach is charged to: whoever owned the case then, else whoever was paged."""
    names = {
        key: member.get("name", key)
        for key, member in ((case.escalation or {}).get("members") or {}).items()
        if isinstance(member, dict)
    }
    owner = case.acknowledged_by
    if owner and case.acknowledged_at is not None and case.acknowledged_at <= event.at:
        return owner, case.acknowledged_by_name or names.get(owner, owner)
    # Nobody had acknowledged: the last engineer paged before the breach let it lapse.
    # Strictly before: the manager's breach page is written in the same instant.
    paged = [p.recipient for p in pages if p.case_id == case.id and p.created_at < event.at]
    if paged:
        return paged[-1], names.get(paged[-1], paged[-1])
    if owner:
        return owner, case.acknowledged_by_name or names.get(owner, owner)
    return NOBODY
