"""Webhook idempotency: act once per receipt key, and answer a repeat what the first request got.

Twilio and SendGrid retry, sometimes while the first request is still running. Each webhook
names what makes a request the same request, as a key in
:class:`~oncall.db.models.WebhookReceipt`: ``voice:<CallSid>:<step>:<input-hash>``,
``sms:<MessageSid>``, ``email:<Message-ID>``. :func:`act_once` runs the work and writes the
receipt, with the answer given, in one transaction; a later request with the same key gets that
answer back and changes nothing. Keys built from what a sender chose (a Message-ID) are bounded
with :func:`bounded_key` so they fit their columns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
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
        with transaction(runtime.sessions) as session:
            stored = session.get(WebhookReceipt, key)
            if stored is not None:
                return Repeat(stored.response)
            result = act(session)
            # Written after the work, in the same transaction, as one INSERT … ON CONFLICT DO
            # NOTHING (no unit-of-work flush, no exception on the common path): a concurrent
            # duplicate that committed first leaves nothing inserted here, and all of this
            # request's work is rolled back.
            receipt = {"key": key, "received_at": now, "response": answer(result)}
            if insert_once(session, WebhookReceipt.__table__, receipt, "key", "key") is None:
                raise _Duplicate
    except (_Duplicate, IntegrityError) as exc:
        # The same request ran at the same time and committed first: answer what it
        # answered. Any other integrity error is a bug, not a duplicate.
        with transaction(runtime.sessions) as session:
            stored = session.get(WebhookReceipt, key)
            if stored is None:
                raise exc from None
            return Repeat(stored.response)
    return result


class _Duplicate(Exception):
    """Raised inside :func:`act_once` to roll back the work of a request that lost the race."""
