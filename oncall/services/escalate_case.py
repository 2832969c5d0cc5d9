"""``ESC [case]`` / ``ESCALATE [case]`` (and the dashboard's and the API's escalate): page the
next escalation step's people now, instead of at its time.

Works inside the caller's transaction and returns the reply, like the other case actions; the
case row is locked first (the lock order of :mod:`oncall.engine.tick`).

Rules decided here:

* **An open case** (nobody acknowledged): the next step of the policy frozen on the case is paged
  at once, by its channel (``via``), as the engine would at its time. That step's deadline is
  marked done so the engine never pages it again; the step after keeps its own time.
* **An acknowledged case**: "help wanted". The next step's people get a help request naming who
  has the case and their phone; the case stays acknowledged, no timer restarts. Each ESC walks
  one step further.
* A step whose only person is the sender is passed over. Past the last step, the team's manager
  is paged (or, with no manager, the last-resort humans).
* The timeline names who escalated, whom it paged, and the note.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.cases.deadlines import schedule
from oncall.cases.errors import CaseError
from oncall.cases.events import add_event
from oncall.cases.live_rota import live_team
from oncall.cases.members import member_of
from oncall.db.models import Case, CaseEvent, Deadline
from oncall.domain import escalation as esc
from oncall.domain.enums import CaseState, DeadlineKind, DeadlineState
from oncall.domain.rota.model import Member
from oncall.domain.rota.snapshots import targets_from_snapshot, team_from_snapshot
from oncall.domain.sms_text import page_text, to_gsm7, truncate_words
from oncall.engine.paging import page_manager, page_member
from oncall.engine.wording import short
from oncall.runtime import Runtime


def escalate_case(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    now: datetime,
    *,
    note: str = "",
    name: str | None = None,
) -> str:
    """ESC: page the next step now (see the module docstring). Returns the reply."""
    locked = session.get(Case, case.id, with_for_update=True, populate_existing=True)
    if locked is None:
        raise CaseError(f"Case {case.number} does not exist.")
    case = locked
    if not case.is_open:
        return f"Case {case.number} is {case.state}: nothing to escalate."
    sender = member_of(runtime, case, member_key)
    name = name or (sender.name if sender else member_key)
    count = _escalations_so_far(session, case)
    if case.escalation:
        paged = _page_next_step(session, runtime, case, member_key, name, note, count, now)
        if paged is not None:
            return paged
    return _page_the_manager(session, runtime, case, name, note, count, now)


def _page_next_step(
    session: Session,
    runtime: Runtime,
    case: Case,
    member_key: str,
    name: str,
    note: str,
    count: int,
    now: datetime,
) -> str | None:
    """Page the first step after the last one fired that reaches somebody besides the sender;
    None when no step is left."""
    policy = team_from_snapshot(case.escalation).escalation
    plan = esc.Plan.from_policy(policy)
    live = live_team(session, runtime, case.team, now)
    help_wanted = case.state in (CaseState.ACKNOWLEDGED, CaseState.WAITING_CUSTOMER)
    seq = _last_fired(session, case) + 1
    while seq < plan.exhausted_seq:
        step = esc.step_for(plan, case.reopened_at or case.opened_at, seq)
        assert step.index is not None
        targets = [
            m
            for m in targets_from_snapshot(case.escalation, step.index, now, live)
            if m.key != member_key and (m.phone or m.email)
        ]
        _mark_fired(session, case, seq, now, name)
        if targets:
            detail = f"{step.describe(plan)}, escalated by {name}"
            text, lead = _texts(runtime, case, name, note, member_key, help_wanted)
            via = policy.steps[step.index].via
            key = f"help{count}:{seq}" if help_wanted else str(seq)
            for member in targets:
                page_member(
                    session, runtime, case, member, now,
                    key=key, detail=detail, text=text, via=via, lead=lead,
                )  # fmt: skip
            if not help_wanted:
                following = esc.next_step(plan, case.opened_at, seq)
                if following is not None:
                    due = max(following.due_at, now)
                    schedule(session, case, now, DeadlineKind.ESCALATE, due, seq=following.seq)
            return _record(session, case, name, note, targets, step.describe(plan), now)
        seq += 1
    return None


def _page_the_manager(
    session: Session,
    runtime: Runtime,
    case: Case,
    name: str,
    note: str,
    count: int,
    now: datetime,
) -> str:
    """No step left to page: the manager, as when the policy runs out."""
    prefix = f"ESC by {short(name, 24)}. "
    text = prefix + page_text(
        case.number, case.severity, case.customer_name, case.summary, limit=160 - len(prefix)
    )
    message = page_manager(session, runtime, case, now, text=text, key=f"esc:{count}")
    who = member_of(runtime, case, message.recipient) if message is not None else None
    whom = who.name if who is not None else "the managers"
    add_event(
        session,
        case,
        now,
        "escalated",
        f"Escalated by {name}: no step of the policy is left, so {whom} was paged"
        + (f". Note: {note}" if note else ""),
        actor=name,
        note=note,
    )
    return f"Escalated {case.number}: nobody further on the policy, paged {whom}."


def _record(
    session: Session,
    case: Case,
    name: str,
    note: str,
    targets: list[Member],
    described: str,
    now: datetime,
) -> str:
    names = ", ".join(m.name for m in targets)
    help_wanted = case.state in (CaseState.ACKNOWLEDGED, CaseState.WAITING_CUSTOMER)
    what = "asked for help" if help_wanted else "escalated"
    add_event(
        session,
        case,
        now,
        "escalated",
        f"{name} {what}: paged {names} at once ({described})" + (f". Note: {note}" if note else ""),
        actor=name,
        members=[m.key for m in targets],
        note=note,
        help_wanted=help_wanted,
    )
    if help_wanted:
        return f"Help requested on {case.number}: paged {names}."
    return f"Escalated {case.number}: paged {names}."


def _texts(
    runtime: Runtime, case: Case, name: str, note: str, member_key: str, help_wanted: bool
) -> tuple[str, str]:
    """The SMS and what a call says first, for an escalation or a request for help."""
    if not help_wanted:
        prefix = to_gsm7(f"ESC by {short(name, 24)}. ")
        text = prefix + page_text(
            case.number, case.severity, case.customer_name, case.summary, limit=160 - len(prefix)
        )
        return text, f"Escalated by {name}."
    sender = member_of(runtime, case, member_key)
    call = f" Call {sender.phone}." if sender is not None and sender.phone else ""
    head = (
        f"Help wanted on case {case.number} ({short(case.customer_name)}, S{case.severity}): "
        f"{short(name, 24)} has it and asks for help"
    )
    room = 160 - len(to_gsm7(head)) - len(call) - 3
    said = f": {truncate_words(to_gsm7(note), room)}" if note and room > 10 else ""
    return to_gsm7(f"{head}{said}.{call}"), f"Help wanted. {name} asks for help with this case."


def _escalations_so_far(session: Session, case: Case) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind == "escalated")
        )
        or 0
    )


def _last_fired(session: Session, case: Case) -> int:
    """The seq of the last escalation step that ran (-1: none yet)."""
    fired = session.scalar(
        select(func.max(Deadline.seq)).where(
            Deadline.case_id == case.id,
            Deadline.kind == DeadlineKind.ESCALATE,
            Deadline.state == DeadlineState.DONE,
        )
    )
    return -1 if fired is None else int(fired)


def _mark_fired(session: Session, case: Case, seq: int, now: datetime, name: str) -> None:
    """Step ``seq`` ran now by hand: its deadline (pending, cancelled by an ACK, or not armed
    yet) is done, so the engine never runs it again."""
    row = session.scalar(
        select(Deadline).where(
            Deadline.case_id == case.id,
            Deadline.kind == DeadlineKind.ESCALATE,
            Deadline.seq == seq,
        )
    )
    if row is None:
        row = Deadline(
            case_id=case.id, kind=DeadlineKind.ESCALATE, seq=seq, due_at=now, data={},
            created_at=now,
        )  # fmt: skip
        session.add(row)
    row.state = DeadlineState.DONE
    row.done_at = now
    row.done_by = f"ESC by {name}"[:100]
    session.flush()
