"""The phone line's guard against PIN guessing.

Every wrong PIN is an :class:`~oncall.db.models.Attempt` (reason ``wrong_pin``, the caller's
number as its contact), so the count is the database's and holds across processes. Limits
are :data:`oncall.domain.pin_guard.PIN_LIMITS`: five wrong PINs from one number within an hour
and that number is told to email instead and not asked for a PIN for an hour; twenty on the
whole line within an hour and every team's manager gets one SMS (then none for an hour,
however many more fail). Time is the caller's ``now`` (the runtime's clock).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.cases.attempts import record_attempt
from oncall.cases.outbox import enqueue
from oncall.db.models import Attempt, OutboundMessage
from oncall.domain.enums import Purpose
from oncall.domain.phones import parse_phone
from oncall.domain.pin_guard import PIN_LIMITS, lockout_until
from oncall.domain.sms_text import to_gsm7
from oncall.runtime import Runtime

log = logging.getLogger("oncall.intake")

WRONG_PIN = "wrong_pin"
WITHHELD = "withheld"  # every caller without a usable number shares one count
_MAX_ROWS = 500  # a locked number adds no failures, so a few rows per number at most


def caller_key(caller: str, region: str) -> str:
    """The number failures are counted under: E.164 when it is one, else ``withheld``."""
    try:
        return parse_phone(caller, region) if caller.strip() else WITHHELD
    except ValueError:  # "anonymous", "+266696687" and other ways of hiding the number
        return WITHHELD


def locked_until(session: Session, caller: str, now: datetime) -> datetime | None:
    """Until when ``caller`` (a :func:`caller_key`) is not asked for a PIN, or None."""
    window = PIN_LIMITS.window
    times = session.scalars(
        select(Attempt.at)
        .where(
            Attempt.reason == WRONG_PIN, Attempt.contact == caller, Attempt.at > now - 2 * window
        )
        .order_by(Attempt.at.desc())
        .limit(_MAX_ROWS)
    )
    return lockout_until(list(times), now, PIN_LIMITS)


def record_wrong_pin(
    session: Session,
    runtime: Runtime,
    caller: str,
    now: datetime,
    *,
    call_sid: str,
    attempt: int,
    told: str,
) -> bool:
    """Record one wrong PIN and alert the managers when the line is under attack.

    Returns whether a manager alert was queued (the caller wakes the sender).
    """
    record_attempt(
        session,
        now,
        channel="voice",
        reason="wrong_pin",  # WRONG_PIN written out: every stored reason reads as a literal
        contact=caller,
        told=told,
        detail={"call_sid": call_sid, "try": attempt},
        intake_key=f"pin:{call_sid}:{attempt}"[:400],
    )
    return _alert_if_guessing(session, runtime, now)


def _alert_if_guessing(session: Session, runtime: Runtime, now: datetime) -> bool:
    """One SMS to every team's manager when the line-wide limit is reached, at most once per
    window (counted from the alerts in the outbox, so every process agrees)."""
    since = now - PIN_LIMITS.window
    failures, numbers = session.execute(
        select(func.count(), func.count(func.distinct(Attempt.contact))).where(
            Attempt.reason == WRONG_PIN, Attempt.at > since
        )
    ).one()
    if failures < PIN_LIMITS.line_wide or _alerted_since(session, since):
        return False
    text = to_gsm7(
        f"{runtime.settings.company} critical line: {failures} wrong account PINs in the last "
        f"{_minutes(PIN_LIMITS.window)} minutes from {numbers} number(s). Someone may be "
        f"guessing PINs; each number is locked out after {PIN_LIMITS.per_number}. "
        f"See the Misuse page."
    )
    queued = _sms_every_manager(session, runtime, now, text)
    log.warning("PIN guessing on the critical line: %s wrong PINs; managers alerted", failures)
    return queued


def _alerted_since(session: Session, since: datetime) -> bool:
    return (
        session.scalar(
            select(OutboundMessage.id)
            .where(
                OutboundMessage.purpose == Purpose.SECURITY_ALERT,
                OutboundMessage.created_at > since,
            )
            .limit(1)
        )
        is not None
    )


def _sms_every_manager(session: Session, runtime: Runtime, now: datetime, text: str) -> bool:
    """One SMS per manager phone of the loaded teams; whether any was queued."""
    window = int(PIN_LIMITS.window.total_seconds())
    bucket = int(now.timestamp()) // window  # two requests racing share one alert
    seen: set[str] = set()
    queued = False
    for team in runtime.rotas.teams().values():
        manager = team.manager_member()
        if manager is None or not manager.phone or manager.phone in seen:
            continue
        seen.add(manager.phone)
        try:
            with session.begin_nested():
                queued |= (
                    enqueue(
                        session,
                        now,
                        channel="sms",
                        purpose=Purpose.SECURITY_ALERT,
                        recipient=manager.key,
                        to=manager.phone,
                        from_address=runtime.settings.twilio.critical_line,
                        body=text,
                        dedupe_key=f"pin-alert:{bucket}:{manager.phone}",
                    )
                    is not None
                )
        except IntegrityError:  # a concurrent wrong PIN queued this alert first
            continue
    if not seen:
        log.error("PIN guessing on the critical line, and no team has a manager to alert")
    return queued


def _minutes(window: timedelta) -> int:
    return int(window.total_seconds() // 60)
