"""Refused attempts: an inbound contact that did not open a case is recorded, never dropped."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import Attempt

log = logging.getLogger("oncall.cases")


def record_attempt(
    session: Session,
    now: datetime,
    *,
    channel: str,
    reason: str,
    contact: str,
    told: str,
    customer_key: str | None = None,
    detail: dict[str, Any] | None = None,
    intake_key: str | None = None,
    forwarded: bool = False,
) -> Attempt:
    """Record an inbound contact that did not open a case (idempotent on ``intake_key``)."""
    if intake_key:
        existing = session.scalar(select(Attempt).where(Attempt.intake_key == intake_key))
        if existing is not None:
            return existing
    attempt = Attempt(
        at=now,
        channel=channel,
        reason=reason,
        customer_key=customer_key,
        contact=contact,
        told=told,
        detail=detail or {},
        forwarded=forwarded,
        intake_key=intake_key,
    )
    session.add(attempt)
    session.flush()
    log.info(
        "refused %s contact from %s: %s",
        channel,
        contact or "unknown",
        reason,
        extra={"customer": customer_key or "-"},
    )
    return attempt
