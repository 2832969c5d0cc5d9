"""Finding cases: by their human number, by the call or email that opened them, and a
customer's open case (a second call joins it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import INTEGER_MAX, Case
from oncall.domain.enums import OPEN_STATES


def case_by_number(session: Session, number: int, for_update: bool = False) -> Case | None:
    """The case numbered ``number``; None for a number no case can have (out of the column's
    range: a subject naming ``[Case 3000000000]`` is a new contact, not a database error)."""
    if not 0 < number <= INTEGER_MAX:
        return None
    query = select(Case).where(Case.number == number)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def find_case_by_intake_key(session: Session, intake_key: str) -> Case | None:
    return session.scalar(select(Case).where(Case.intake_key == intake_key))


def open_case_for_customer(session: Session, customer_key: str) -> Case | None:
    """The customer's most recent open case, if any (a second call joins it)."""
    return session.scalar(
        select(Case)
        .where(Case.customer_key == customer_key, Case.state.in_(OPEN_STATES))
        .order_by(Case.opened_at.desc())
        .limit(1)
    )
