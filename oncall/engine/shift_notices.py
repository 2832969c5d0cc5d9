"""Shift notices: an SMS to each member when their shift on a level starts
(``notify.shift_start``), and a reminder before it does (``notify.shift_reminder``).

Durable like every timer: each notice is a ``deadlines`` row of the team (no case), due at the
handoff (or the reminder's time), claimed and applied by the tick like a case's deadline.

* **Arming** (:func:`arm_shift_notices`, every tick): for each team and level, the next time
  somebody comes on call (within :data:`ARM_HORIZON`) is read from the live rota (files and
  TAKEs), and its notice (and reminder) is inserted unless it is armed already. The row's unique
  ``key`` (kind, team, level, member, start) makes this idempotent however many engines arm at
  once. Only the next handoff is armed, so there is always a row to wake the engine for it.
* **Applying** (:func:`apply_due_team_deadlines`): a due notice is re-checked against the live
  rota at that moment, so a TAKE or an override made after it was armed changes who is told: a
  member who is no longer the one coming on gets nothing, and the newly armed notice for the
  person who is goes out instead. A notice whose shift is already over is dropped.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oncall.cases.live_rota import live_team, live_teams
from oncall.cases.outbox import mark_work_due, tell_member
from oncall.db.models import Deadline
from oncall.db.session import transaction
from oncall.domain.enums import DeadlineKind, DeadlineState, Purpose
from oncall.domain.rota.live import stretch
from oncall.domain.rota.model import Team
from oncall.domain.rota.resolve import who_is_on_call
from oncall.domain.shift_text import shift_reminder_text, shift_start_text
from oncall.runtime import Runtime

log = logging.getLogger("oncall.engine.shifts")

#: How far ahead the next handoff of a level is looked for (weekly rotas hand off within a week).
ARM_HORIZON = timedelta(days=8)
_KEY_MAX = 200


def _key(kind: DeadlineKind, team: str, level: str, member: str, start: datetime) -> str:
    key = f"{kind}:{team}:{level}:{member}:{start:%Y%m%dT%H%M%SZ}"
    if len(key) > _KEY_MAX:  # long names: a digest keeps the key unique and within the column
        key = f"{kind}:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def arm_shift_notices(runtime: Runtime, now: datetime) -> int:
    """Insert the next handoff's notices of every level that are not armed yet; how many."""
    notify = runtime.settings.notify
    if not notify.shift_start and notify.shift_reminder is None:
        return 0
    lead = notify.shift_reminder or timedelta(0)
    with transaction(runtime.sessions) as session:
        wanted: list[dict] = []
        for team in live_teams(session, runtime, now).values():
            wanted.extend(_notices(team, now, lead, notify.shift_start))
        if not wanted:
            return 0
        armed = set(
            session.scalars(
                select(Deadline.key).where(Deadline.key.in_([w["key"] for w in wanted]))
            )
        )
        missing = [w for w in wanted if w["key"] not in armed]
        for row in missing:
            _insert_once(session, row)
        if any(row["due_at"] <= now for row in missing):
            mark_work_due(session)
    return len(missing)


def _notices(team: Team, now: datetime, lead: timedelta, starts: bool) -> list[dict]:
    out = []
    for level in team.levels():
        coming = stretch(team, level, now, ARM_HORIZON).next
        if coming is None:
            continue
        data = {"level": level, "member": coming.member.key, "start": coming.start.isoformat()}
        kinds = []
        if starts:
            kinds.append((DeadlineKind.SHIFT_START, coming.start))
        if lead:
            kinds.append((DeadlineKind.SHIFT_REMINDER, max(coming.start - lead, now)))
        for kind, due in kinds:
            out.append(
                {
                    "case_id": None,
                    "team": team.key,
                    "key": _key(kind, team.key, level, coming.member.key, coming.start),
                    "kind": kind.value,
                    "seq": 0,
                    "due_at": due,
                    "state": DeadlineState.PENDING.value,
                    "data": data,
                    "created_at": now,
                }
            )
    return out


def _insert_once(session: Session, values: dict) -> None:
    """INSERT ... ON CONFLICT (key) DO NOTHING: another engine may arm the same notice."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(Deadline).values(**values).on_conflict_do_nothing(index_elements=["key"])
    )


# -- applying -------------------------------------------------------------------------------
def apply_due_team_deadlines(runtime: Runtime, now: datetime, limit: int) -> tuple[int, int]:
    """Claim and apply due team timers, each in its own transaction: (claimed, applied)."""
    claimed = applied = 0
    failed: list[int] = []
    for _ in range(limit):
        deadline_id = None
        try:
            with transaction(runtime.sessions) as session:
                deadline = _claim_one(session, now, failed)
                if deadline is None:
                    break
                deadline_id = deadline.id
                claimed += 1
                did = apply_team_deadline(session, runtime, deadline, now)
                deadline.state = DeadlineState.DONE
                deadline.done_at = now
                deadline.done_by = runtime.instance
        except Exception:
            if deadline_id is None:
                raise
            log.exception(
                "applying team deadline %s failed; retrying at the next tick", deadline_id
            )
            failed.append(deadline_id)
            continue
        applied += int(did)
    return claimed, applied


def _claim_one(session: Session, now: datetime, skip: list[int]) -> Deadline | None:
    query = (
        select(Deadline)
        .where(
            Deadline.case_id.is_(None),
            Deadline.state == DeadlineState.PENDING,
            Deadline.due_at <= now,
        )
        .order_by(Deadline.due_at, Deadline.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(Deadline.id.not_in(skip))
    return session.scalar(query)


def apply_team_deadline(
    session: Session, runtime: Runtime, deadline: Deadline, now: datetime
) -> bool:
    """Send the notice if the rota still says what it said when it was armed."""
    data = deadline.data or {}
    team = live_team(session, runtime, deadline.team or "", now)
    if team is None or data.get("level") not in team.levels():
        return False
    level, member_key = data["level"], data["member"]
    start = datetime.fromisoformat(data["start"])
    coming = who_is_on_call(team, level, start)
    before = who_is_on_call(team, level, start - timedelta(seconds=1))
    if (
        coming is None
        or coming.member.key != member_key
        or (before is not None and before.member.key == member_key)
    ):
        log.info(
            "%s: %s no longer starts %s at %s; not told", deadline.key, member_key, level, start
        )
        return False
    until = stretch(team, level, start).until
    if until is not None and until <= now:
        return False  # the shift is over (the engine was down): a notice now would mislead
    kind = DeadlineKind(deadline.kind)
    notify = runtime.settings.notify
    if kind is DeadlineKind.SHIFT_START:
        if not notify.shift_start:
            return False
        text = shift_start_text(level, team.key, until, team.zone)
        subject = f"You are now {level} for {team.key}"
    else:
        if notify.shift_reminder is None:
            return False
        text = shift_reminder_text(level, team.key, start, until, team.zone)
        subject = f"Your {level} shift for {team.key} starts soon"
    message = tell_member(
        session,
        runtime,
        now,
        coming.member,
        purpose=Purpose.SHIFT_NOTICE,
        text=text,
        subject=subject,
        dedupe_key=f"notice:{deadline.key}",
    )
    if message is not None:
        log.info("told %s: %s", coming.member.name, text)
    return message is not None
