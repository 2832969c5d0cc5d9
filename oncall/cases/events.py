"""The case timeline: every event is a row on the case, and a log line with the case number."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from oncall.db.models import Case, CaseEvent

log = logging.getLogger("oncall.cases")


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
    session.add(event)
    log.info("%s", text, extra={"case": case.number, "event": kind, "actor": actor})
    return event


def note_data(verb: str, note: str) -> dict[str, Any]:
    """What an engineer wrote with a command, for an event's ``data``: the note and the verb
    it came with (``SEV 3``, ``STATUS``), so reports can show it as evidence. Empty: nothing."""
    note = " ".join((note or "").split())
    return {"note": note, "verb": verb} if note else {}
