"""Can the transports send? What ``/healthz`` says about delivery besides a stuck outbox.

Two signs that no page can leave, each in words that name no path and no secret:

* a transport that knows it cannot send (:func:`transport_problems`): the Twilio transport
  without an account SID or auth token;
* the provider refusing our account (:func:`provider_refusals`): the newest SMS or call that
  reached an outcome was refused with an authentication or account error. Those fail at
  once and are never retried, so the outbox does not look stuck while every page fails.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import OutboundMessage
from oncall.domain.enums import OutboxState
from oncall.domain.transport import Transport

#: Twilio errors that mean the account, not the message, is the problem.
ACCOUNT_ERRORS = {
    20003: "authentication failed",
    20005: "the account is not active",
}
_OUTCOMES = (OutboxState.SENT, OutboxState.DELIVERED, OutboxState.FAILED)


def transport_problems(transports: Mapping[str, Transport]) -> list[str]:
    """What each transport says stops it from sending (once per transport)."""
    problems: list[str] = []
    for channel in sorted(transports):
        check = getattr(transports[channel], "cannot_send", None)
        problem = check() if callable(check) else None
        if problem and problem not in problems:
            problems.append(problem)
    return problems


def provider_refusals(session: Session) -> list[str]:
    """The newest SMS or call with an outcome failed because the provider refused the
    account: nothing will get through until the credentials are fixed."""
    newest = session.execute(
        select(OutboundMessage.channel, OutboundMessage.state, OutboundMessage.error_code)
        .where(OutboundMessage.channel.in_(("sms", "voice")), OutboundMessage.state.in_(_OUTCOMES))
        .order_by(OutboundMessage.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return []
    channel, state, code = newest
    if state != OutboxState.FAILED or code not in ACCOUNT_ERRORS:
        return []
    what = "SMS" if channel == "sms" else "call"
    why = f"{ACCOUNT_ERRORS[code]} (error {code})"
    return [f"transport cannot send: Twilio refused the last {what}: {why}"]
