"""Webhook idempotency: act once per receipt key, and answer a repeat what the first request got.

Twilio and SendGrid retry, sometimes while the first request is still running. Each webhook
names what makes a request the same request, as a key in
:class:`~oncall.db.models.WebhookReceipt`: ``voice:<CallSid>:<step>:<input-hash>``,
``sms:<MessageSid>``, ``email:<Message-ID>``. :func:`act_once` runs the work and writes the
receipt, with the answer given, in one transaction; a later request with the same key gets that
answer back and changes nothing (its work runs and is rolled back with its transaction: the
receipt is not looked up first, which would cost every request a round trip to spare a rare
retry). Keys built from what a sender chose (a Message-ID) are bounded with
:func:`bounded_key` so they fit their columns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from oncall.db.models import WebhookReceipt
from oncall.db.session import transaction
from oncall.db.upsert import insert_once
from oncall.runtime import Runtime

MAX_KEY = 400  # WebhookReceipt.key, Case.intake_key and Attempt.intake_key are 400 long
DEDUPE_MAX = 200  # OutboundMessage.dedupe_key

T = TypeVar("T")


def bounded_key(prefix: str, value: str, limit: int = MAX_KEY) -> str:
    """``prefix + value``, or a hash of ``value`` when that would not fit the key column."""
    key = prefix + value
    if len(key) <= limit:
        return key
    return prefix + "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Repeat:
    """An earlier request with the same key already acted; ``response`` is what it answered."""

    response: str


def act_once(
    runtime: Runtime,
    key: str,
    now: datetime,
    act: Callable[[Session], T],
    answer: Callable[[T], str],
) -> T | Repeat:
    """Run ``act`` once per ``key``, in one transaction with the receipt that records it.

    ``answer`` gives the text stored with the receipt (what a repeat gets back). Returns what
    ``act`` returned, or :class:`Repeat` when this key was handled before, in which case
    nothing was changed now. The caller wakes the sender when the work queued something.
    """
    try:
        # No look-up of the receipt first: a retry is rare, and the receipt's INSERT below
        # finds it anyway (one round trip fewer on every request). A repeat's work is rolled
        # back with its transaction, so it changes nothing, and it gets the first answer.
        with transaction(runtime.sessions) as session:
            result = act(session)
            # Written after the work, in the same transaction, as one INSERT … ON CONFLICT DO
            # NOTHING (no unit-of-work flush, no exception on the common path): a request with
            # this key that committed first (a retry, or a duplicate running at the same time)
            # leaves nothing inserted here, and all of this request's work is rolled back.
            receipt = {"key": key, "received_at": now, "response": answer(result)}
            if insert_once(session, WebhookReceipt.__table__, receipt, "key", "key") is None:
                raise _Duplicate
    except _Duplicate:
        return _repeat(runtime, key)
    except Exception:
        # The work of a repeat may fail where the first did not (a unique row it writes again,
        # a state it no longer expects): a key handled before gets the first answer all the
        # same. Anything else (an integrity error included) is a real failure.
        stored = _stored(runtime, key)
        if stored is None:
            raise
        return stored
    return result


def _stored(runtime: Runtime, key: str) -> Repeat | None:
    with transaction(runtime.sessions) as session:
        stored = session.get(WebhookReceipt, key)
        return None if stored is None else Repeat(stored.response)


def _repeat(runtime: Runtime, key: str) -> Repeat:
    stored = _stored(runtime, key)
    if stored is None:  # the receipt is written in the same transaction as its work
        raise RuntimeError(f"receipt {key!r} conflicted but cannot be read")
    return stored


class _Duplicate(Exception):
    """Raised inside :func:`act_once` to roll back the work of a request that lost the race."""
