"""Case rows written straight into the database, for tests of what reads them (dashboard, API,
browser). Tests of how cases come to be go through intake and the engine instead."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from oncall.db.models import Case


def case_row(number: int, opened_at: datetime, **overrides: Any) -> Case:
    """An unsaved S1 phone case from Acme's Wile E. Coyote, with its SLA targets set."""
    severity = overrides.pop("severity", 1)
    values: dict[str, Any] = dict(
        number=number,
        team="support",
        customer_key="acme",
        customer_name="Acme Corp",
        plan="premium",
        contact_name="Wile E. Coyote",
        contact_phone="+15551230001",
        contact_email="wile@acme.example",
        channel="voice",
        severity_claimed=severity,
        severity=severity,
        state="open",
        summary="Checkout is down for all users",
        after_hours=True,
        opened_at=opened_at,
        triage_due_at=opened_at + timedelta(minutes=15),
        status_due_at=opened_at + timedelta(hours=1),
        escalation={},
    )
    values.update(overrides)
    return Case(**values)


def add_case(session, number: int, *, opened_at: datetime, **overrides: Any) -> Case:
    case = case_row(number, opened_at, **overrides)
    session.add(case)
    session.flush()
    return case
