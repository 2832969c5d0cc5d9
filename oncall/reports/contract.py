"""The monthly statement of one customer's contract: "did we meet Acme's contract in November?"

Every case of the customer opened in the month (a calendar month in the service's time zone,
as in :mod:`oncall.reports.sla`), with the targets that applied to it as they were frozen on
the case when it opened (``cases.targets``, see :mod:`oncall.domain.contract`), when each was
met or how late, the time the case waited for the customer, its resolution time and its fee.

Rules (stated once, here):

* **Triage** is met when the case was acknowledged at or before ``triage_due_at``.
* **First status** is met when the first status (or the resolution, which the customer is told
  about) came at or before ``first_status_due_at``.
* **Updates** are met when no later status target was breached (the timeline's ``breach``
  events for ``status`` after the first); measured once the case owed one.
* **Resolution** (only where the plan sets one) is met when the case was resolved by
  ``resolution_due_at`` plus the time it waited for the customer: that wait is the customer's.
* A target still ahead is neither met nor missed; a case downgraded out of the critical line
  or still asking its severity is left out of the targets its clock never ran for.
* **MTTA** is ``acknowledged_at - opened_at``; **MTTR** is ``resolved_at - opened_at`` less the
  time waited for the customer; medians are the middle value, p90 the nearest rank.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import Case, CaseEvent, MisuseFlag
from oncall.domain.contract import TARGET_KINDS, severity_row
from oncall.domain.enums import CaseState
from oncall.reports.lifecycle import fee_state, paused_time
from oncall.reports.months import month_bounds
from oncall.reports.sla import percentile_nearest_rank

# A target not met by a case in these states is left out: its clock stopped (downgraded out of
# the critical line) or never started (still asking the customer for the severity).
NOT_RUN = (CaseState.DOWNGRADED.value, CaseState.ASKED.value)
KIND_TITLES = {
    "triage": "Triage",
    "first_status": "First status",
    "updates": "Updates",
    "resolution": "Resolution",
}


class UnknownCustomer(LookupError):
    """No such customer in customers.yaml and no case of that key on record."""


# -- the statement --------------------------------------------------------------------------
@dataclass(frozen=True)
class TargetResult:
    kind: str  # triage | first_status | updates | resolution
    seconds: float | None  # the target as it applied (after any after-hours multiplier)
    clock: str  # wall | business
    due_at: datetime | None
    done_at: datetime | None
    met: bool | None  # None: still ahead, or the case's clock never ran for it
    late_seconds: float | None = None  # how late, when missed (to now when never done)
    missed: int = 0  # updates: how many were missed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["due_at"] = self.due_at.isoformat() if self.due_at else None
        data["done_at"] = self.done_at.isoformat() if self.done_at else None
        return data


@dataclass(frozen=True)
class StatementCase:
    number: int
    opened_at: datetime
    severity: int
    severity_claimed: int
    channel: str
    state: str
    after_hours: bool
    multiplied: bool  # the after-hours multiplier stretched its response targets
    targets: list[TargetResult]
    paused_seconds: float
    acknowledge_seconds: float | None
    resolution_seconds: float | None  # less the time waited for the customer
    fee: float | None
    currency: str | None
    fee_state: str | None

    def target(self, kind: str) -> TargetResult | None:
        return next((t for t in self.targets if t.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["opened_at"] = self.opened_at.isoformat()
        data["targets"] = [t.to_dict() for t in self.targets]
        return data


@dataclass(frozen=True)
class KindTotal:
    kind: str
    met: int
    measured: int

    @property
    def pct(self) -> float | None:
        return round(100.0 * self.met / self.measured, 1) if self.measured else None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "met": self.met, "measured": self.measured, "pct": self.pct}


@dataclass(frozen=True)
class Statement:
    customer: str
    customer_name: str
    plan: str
    month: str
    timezone: str
    start: datetime
    end: datetime
    cases: list[StatementCase]
    totals: list[KindTotal]
    median_acknowledge_seconds: float | None
    p90_acknowledge_seconds: float | None
    median_resolution_seconds: float | None
    p90_resolution_seconds: float | None
    after_hours_cases: int
    fees_due: dict[str, float] = field(default_factory=dict)

    @property
    def after_hours_pct(self) -> float | None:
        return round(100.0 * self.after_hours_cases / len(self.cases), 1) if self.cases else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "customer_name": self.customer_name,
            "plan": self.plan,
            "month": self.month,
            "timezone": self.timezone,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "cases": [c.to_dict() for c in self.cases],
            "totals": {
                "cases": len(self.cases),
                "targets": [t.to_dict() for t in self.totals],
                "mtta": {
                    "median_seconds": self.median_acknowledge_seconds,
                    "p90_seconds": self.p90_acknowledge_seconds,
                },
                "mttr": {
                    "median_seconds": self.median_resolution_seconds,
                    "p90_seconds": self.p90_resolution_seconds,
                },
                "after_hours_cases": self.after_hours_cases,
                "after_hours_pct": self.after_hours_pct,
                "fees_due": self.fees_due,
            },
        }


def contract_statement(
    session: Session,
    customer: str,
    month: str,
    zone: ZoneInfo,
    now: datetime,
    *,
    known: dict[str, tuple[str, str]] | None = None,
) -> Statement:
    """The statement of ``customer`` for ``month``. ``known`` maps the customer keys of
    customers.yaml to (name, plan); a key neither there nor on any case is
    :class:`UnknownCustomer`."""
    start, end = month_bounds(month, zone)
    cases = list(
        session.scalars(
            select(Case)
            .where(Case.customer_key == customer, Case.opened_at >= start, Case.opened_at < end)
            .order_by(Case.opened_at, Case.id)
        )
    )
    known = known or {}
    if customer in known:
        name, plan = known[customer]
    else:
        latest = session.scalar(
            select(Case).where(Case.customer_key == customer).order_by(Case.id.desc()).limit(1)
        )
        if latest is None:
            raise UnknownCustomer(customer)
        name, plan = latest.customer_name, latest.plan
    ids = [c.id for c in cases]
    fees = {
        flag.case_id: flag
        for flag in session.scalars(
            select(MisuseFlag).where(MisuseFlag.case_id.in_(ids), MisuseFlag.kind == "fee")
        )
    }
    update_breaches = _update_breaches(session, ids)
    rows = [
        _case_row(case, now, fees.get(case.id), update_breaches.get(case.id, 0)) for case in cases
    ]
    return _statement(customer, name, plan, month, zone, start, end, rows)


def _update_breaches(session: Session, ids: list[int]) -> dict[int, int]:
    """Case id -> how many status targets after the first were missed."""
    counts: dict[int, int] = {}
    for case_id, data in session.execute(
        select(CaseEvent.case_id, CaseEvent.data).where(
            CaseEvent.kind == "breach", CaseEvent.case_id.in_(ids)
        )
    ):
        data = data or {}
        if data.get("target") == "status" and (data.get("seq") or 0) > 0:
            counts[case_id] = counts.get(case_id, 0) + 1
    return counts


def _case_row(
    case: Case, now: datetime, fee: MisuseFlag | None, missed_updates: int
) -> StatementCase:
    paused = paused_time(case, now)
    resolution = None
    if case.resolved_at is not None:
        resolution = max((case.resolved_at - case.opened_at).total_seconds() - paused, 0.0)
    ack = case.acknowledged_at
    return StatementCase(
        number=case.number,
        opened_at=case.opened_at,
        severity=case.severity,
        severity_claimed=case.severity_claimed,
        channel=case.channel,
        state=case.state,
        after_hours=bool(case.after_hours),
        multiplied=bool((case.targets or {}).get("multiplied")),
        targets=_targets(case, now, paused, missed_updates),
        paused_seconds=paused,
        acknowledge_seconds=(ack - case.opened_at).total_seconds() if ack else None,
        resolution_seconds=resolution,
        fee=fee.fee if fee else None,
        currency=fee.currency if fee else None,
        fee_state=fee_state(fee) if fee else None,
    )


def _targets(case: Case, now: datetime, paused: float, missed_updates: int) -> list[TargetResult]:
    snapshot = case.targets or {}
    # A case downgraded out of the critical line was held to its critical severity's updates.
    critical = case.severity if case.severity <= 2 else snapshot.get("severity", case.severity)
    row = severity_row(snapshot, critical) if snapshot else {}
    opening = severity_row(snapshot, snapshot["severity"]) if snapshot else {}
    factor = snapshot.get("multiplier", 1) if snapshot.get("multiplied") else 1
    clock = opening.get("clock", "wall")
    ran = case.state not in NOT_RUN
    told = case.first_status_at or case.resolved_at
    results = [
        _deadline(
            "triage",
            _times(opening.get("triage"), factor),
            clock,
            case.triage_due_at,
            case.acknowledged_at,
            now,
            ran,
        ),
        _deadline(
            "first_status",
            _times(opening.get("first_status"), factor),
            clock,
            case.first_status_due_at,
            told,
            now,
            ran,
            grace=paused,  # a WAIT pauses the status clock, as the engine's deadline moved
        ),
    ]
    # Updates are owed once a first status went out (or one was already missed), whatever
    # happened to the case after.
    owed = case.state != CaseState.ASKED and (
        case.first_status_at is not None or missed_updates > 0
    )
    results.append(
        TargetResult(
            "updates",
            row.get("updates"),
            row.get("clock", "wall"),
            None,
            None,
            (missed_updates == 0) if owed else None,
            None,
            missed_updates,
        )
    )
    if case.resolution_due_at is not None:
        due = case.resolution_due_at
        results.append(
            _deadline(
                "resolution",
                opening.get("resolution"),
                clock,
                due,
                case.resolved_at,
                now,
                ran,
                grace=paused,
            )
        )
    return results


def _times(seconds: float | None, factor: float) -> float | None:
    return None if seconds is None else seconds * factor


def _deadline(
    kind: str,
    seconds: float | None,
    clock: str,
    due: datetime | None,
    done: datetime | None,
    now: datetime,
    ran: bool,
    grace: float = 0.0,
) -> TargetResult:
    """Met, missed (and by how much) or still ahead; ``grace`` seconds the customer held it."""
    if due is None:
        return TargetResult(kind, seconds, clock, None, done, None)
    limit = due + timedelta(seconds=grace)
    if done is not None:
        late = (done - limit).total_seconds()
        return TargetResult(kind, seconds, clock, due, done, late <= 0, max(late, 0) or None)
    if not ran or limit > now:
        return TargetResult(kind, seconds, clock, due, None, None)
    return TargetResult(kind, seconds, clock, due, None, False, (now - limit).total_seconds())


def _statement(
    customer: str,
    name: str,
    plan: str,
    month: str,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    rows: list[StatementCase],
) -> Statement:
    totals = []
    for kind in TARGET_KINDS:
        results = [t for r in rows if (t := r.target(kind)) is not None and t.met is not None]
        totals.append(KindTotal(kind, sum(1 for t in results if t.met), len(results)))
    acks = [r.acknowledge_seconds for r in rows if r.acknowledge_seconds is not None]
    fixes = [r.resolution_seconds for r in rows if r.resolution_seconds is not None]
    fees: dict[str, float] = {}
    for r in rows:
        # A disputed fee waits for a manager; only flagged and confirmed ones are billed.
        if r.fee is not None and r.fee_state in ("flagged", "confirmed"):
            fees[r.currency or ""] = round(fees.get(r.currency or "", 0.0) + r.fee, 2)
    return Statement(
        customer=customer,
        customer_name=name,
        plan=plan,
        month=month,
        timezone=zone.key,
        start=start,
        end=end,
        cases=rows,
        totals=totals,
        median_acknowledge_seconds=statistics.median(acks) if acks else None,
        p90_acknowledge_seconds=percentile_nearest_rank(acks, 90),
        median_resolution_seconds=statistics.median(fixes) if fixes else None,
        p90_resolution_seconds=percentile_nearest_rank(fixes, 90),
        after_hours_cases=sum(1 for r in rows if r.after_hours),
        fees_due=fees,
    )
