"""The case timeline: every event is a row on the case, and a log line with the case number."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from oncall.db.models import Case, CaseEvent

log = logging.getLogger("oncall.cases")

# ``session.info`` key of the events held back by :func:`buffered_events`.
_BUFFER = "oncall.event_buffer"


def add_event(
    session: Session,
    case: Case,
    now: datetime,
    kind: str,
    text: str,
    actor: str = "system",
    **data: Any,
) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=now, kind=kind, actor=actor, text=text, data=data)
    buffer = session.info.get(_BUFFER)
    if buffer is not None:
        buffer.append(event)
    else:
        session.add(event)
    log.info("%s", text, extra={"case": case.number, "event": kind, "actor": actor})
    return event


@contextmanager
def buffered_events(session: Session) -> Iterator[None]:
    """Hold the events added inside this block and add them to the session at its end.

    The engine applies a batch of deadlines, each under its own savepoint; left in the session,
    every event would be flushed as its own INSERT when its savepoint is released. Held here,
    the batch's events go out as one multi-row INSERT in the same transaction. Nobody reads an
    event back inside the block (events are written, never consulted, by the use cases).
    """
    buffer: list[CaseEvent] = []
    session.info[_BUFFER] = buffer
    try:
        yield
    finally:
        session.info.pop(_BUFFER, None)
    if buffer:
        # A Core INSERT of plain rows: the ORM would build, track and refresh an object per
        # event and read each new id back, for rows nobody reads in this transaction.
        session.flush()  # what the session holds goes first (the events' cases exist)
        session.execute(insert(CaseEvent.__table__), [_row(event) for event in buffer])


def _row(event: CaseEvent) -> dict[str, Any]:
    """The event's columns (but its id, which the database gives) as a plain row."""
    return {c.name: getattr(event, c.name) for c in _EVENT_COLUMNS}


_EVENT_COLUMNS = [c for c in CaseEvent.__table__.columns if not c.primary_key]


def events_mark(session: Session) -> int:
    """Where the buffer stands now (for :func:`drop_events_since`); 0 when not buffering."""
    return len(session.info.get(_BUFFER, ()))


def drop_events_since(session: Session, mark: int) -> None:
    """Forget the buffered events added since ``mark``: their savepoint was rolled back."""
    buffer = session.info.get(_BUFFER)
    if buffer is not None:
        del buffer[mark:]


def note_data(verb: str, note: str) -> dict[str, Any]:
    """What an engineer wrote with a command, for an event's ``data``: the note and the verb
    it came with (``SEV 3``, ``STATUS``), so reports can show it as evidence. Empty: nothing."""
    note = " ".join((note or "").split())
    return {"note": note, "verb": verb} if note else {}
