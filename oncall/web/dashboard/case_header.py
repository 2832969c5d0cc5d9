"""The top of a case page: its SLA clocks, the ETA and the next thing due, as far as they
still apply.

An open case shows running clocks (time to triage, time to the next status) and what the
engine will do next ("Escalation step 2 of 3: secondary, at 03:05"); an acknowledged one shows
how triage went instead of its clock; a closed one shows how it ended and no clock, no ETA and
nothing due, because none of them applies any more.

Arithmetic on rows already read, ``now`` and ``warn_before``; names come from ``name_of``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oncall.db.models import Case, CaseEvent, Deadline
from oncall.domain.contract import severity_row, snapshot_schedule
from oncall.domain.enums import CLOSURE_KINDS, CaseState, DeadlineKind
from oncall.reports.clocks import SlaClock, case_clocks, format_seconds, sla_clock
from oncall.web.dashboard.labels import label


@dataclass(frozen=True)
class Triage:
    """How triage went, once it no longer runs."""

    met: bool | None  # None: the case closed without an acknowledgement
    by: str
    at: datetime | None
    after_seconds: float | None  # from opening to the acknowledgement


@dataclass(frozen=True)
class Due:
    """The next thing the engine will do for the case."""

    at: datetime
    what: str


@dataclass(frozen=True)
class Closing:
    """How a closed case ended."""

    state: str
    at: datetime | None
    by: str
    note: str
    open_seconds: float | None


@dataclass(frozen=True)
class CaseHeader:
    triage_clock: SlaClock | None  # running: the case is open and not acknowledged
    triage: Triage | None  # finished
    status_title: str  # "First status" or "Next status"
    status_clock: SlaClock | None  # running: the case is open
    status_met: bool | None  # closed: every status target met (None: none was due)
    last_status_at: datetime | None
    eta_at: datetime | None  # only while the case is open
    eta_text: str
    next_due: Due | None
    coming: list[Due]
    missed: list[str]  # the targets breached, in words
    closing: Closing | None
    contract: tuple[str, ...] = ()  # the targets frozen on the case, in words


def case_header(
    case: Case,
    events: Sequence[CaseEvent],
    deadlines: Iterable[Deadline],
    now: datetime,
    warn_before: timedelta,
    name_of: Callable[[str], str],
) -> CaseHeader:
    is_open = case.is_open
    triaging = is_open and case.acknowledged_at is None
    missed = _missed_targets(events)
    coming = (
        # A resolved case still has its closure timers: when the customer is reminded, when it
        # closes.
        [
            Due(d.due_at, describe_deadline(case, d, name_of))
            for d in deadlines
            if is_open or d.kind in CLOSURE_KINDS
        ]
    )
    return CaseHeader(
        triage_clock=sla_clock(case.triage_due_at, now, warn_before) if triaging else None,
        triage=None if triaging else _triage(case, "triage" in missed),
        status_title="First status" if case.first_status_at is None else "Next status",
        status_clock=(
            case_clocks(case, now, warn_before)[1]  # paused while waiting for the customer
            if is_open and case.status_due_at
            else None
        ),
        status_met=None if is_open else _status_met(case, "status" in missed),
        last_status_at=case.last_status_at,
        eta_at=case.eta_at if is_open else None,
        eta_text=(case.eta_text or "") if is_open else "",
        next_due=coming[0] if coming else None,
        coming=coming,
        missed=[_MISSED.get(t, t) for t in missed],
        closing=None if is_open else _closing(case, events),
        contract=contract_words(case.targets),
    )


def contract_words(snapshot: dict[str, Any] | None) -> tuple[str, ...]:
    """``S1: triage 20m 00s, first status 1h 00m, updates every 2h 00m, resolution 24h 00m``
    and how they count, for the case page (nothing for a case from before contracts)."""
    if not snapshot:
        return ()
    row = severity_row(snapshot, snapshot["severity"])
    factor = snapshot["multiplier"] if snapshot["multiplied"] else 1
    parts = [
        f"triage {format_seconds(row['triage'] * factor)}",
        f"first status {format_seconds(row['first_status'] * factor)}",
        f"updates every {format_seconds(row['updates'])}",
    ]
    if row.get("resolution"):
        parts.append(f"resolution {format_seconds(row['resolution'])}")
    words = [f"S{snapshot['severity']} on plan {snapshot['plan']}: " + ", ".join(parts)]
    if row["clock"] == "business":
        words.append(f"counted in business hours ({snapshot_schedule(snapshot).describe()})")
    if snapshot["multiplied"]:
        words.append(f"opened after hours: response targets x{snapshot['multiplier']:g}")
    return tuple(words)


_MISSED = {"triage": "triage", "status": "status to the customer"}


def _missed_targets(events: Iterable[CaseEvent]) -> list[str]:
    targets = [str((e.data or {}).get("target") or "") for e in events if e.kind == "breach"]
    return list(dict.fromkeys(t for t in targets if t))


def _status_met(case: Case, breached: bool) -> bool | None:
    if breached:
        return False
    return True if case.first_status_at is not None else None


def _triage(case: Case, breached: bool) -> Triage:
    if case.acknowledged_at is None:
        return Triage(None, "", None, None)
    on_time = case.triage_due_at is None or case.acknowledged_at <= case.triage_due_at
    return Triage(
        met=on_time and not breached,
        by=case.acknowledged_by_name or case.acknowledged_by or "",
        at=case.acknowledged_at,
        after_seconds=(case.acknowledged_at - case.opened_at).total_seconds(),
    )


def _closing(case: Case, events: Sequence[CaseEvent]) -> Closing:
    finished = (CaseState.RESOLVED.value, CaseState.CLOSED.value)
    kind = "resolved" if case.state in finished else "severity_changed"
    last = next((e for e in reversed(events) if e.kind == kind), None)
    at = case.resolved_at or (last.at if last else None)
    by = last.actor if last is not None and last.actor != "system" else ""
    note = case.resolution_note or ""
    if case.state == CaseState.DOWNGRADED.value:
        note = f"Downgraded to S{case.severity} (claimed S{case.severity_claimed})"
    elif case.state == CaseState.CLOSED.value:
        note = (note + "; " if note else "") + "closed: no REOPEN within the window"
    return Closing(
        state=label("state", case.state),
        at=at,
        by=by,
        note=note,
        open_seconds=(at - case.opened_at).total_seconds() if at else None,
    )


def describe_deadline(case: Case, deadline: Deadline, name_of: Callable[[str], str]) -> str:
    """``Escalation step 2 of 3: secondary``; other timers by their label."""
    what = label("deadline", deadline.kind)
    if deadline.kind != DeadlineKind.ESCALATE:
        return what
    policy: dict[str, Any] = (case.escalation or {}).get("escalation") or {}
    steps = policy.get("steps") or []
    if not steps:
        return what
    rounds = max(0, int(policy.get("repeat") or 0)) + 1
    round_, index = divmod(deadline.seq, len(steps))
    if round_ >= rounds:
        return "Page the manager: nobody acknowledged"
    notify = ", ".join(name_of(name) for name in steps[index].get("notify") or [])
    text = f"{what} {index + 1} of {len(steps)}"
    if rounds > 1:
        text += f" (round {round_ + 1} of {rounds})"
    return f"{text}: {notify}" if notify else text
