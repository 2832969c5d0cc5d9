"""Webhook idempotency (:mod:`oncall.services.receipts`): one key acts once, a repeat gets the
first answer and changes nothing, and a concurrent duplicate's work is rolled back whole.

The voice, email and SMS webhooks all go through :func:`act_once`; their own tests
(``test_ivr_conversation``, ``test_email_intake``, ``test_sms_webhook``) show it per webhook.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from oncall.cases.attempts import record_attempt
from oncall.db.models import Attempt, WebhookReceipt
from oncall.services.receipts import MAX_KEY, Repeat, act_once, bounded_key


def count(runtime, model) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def stored(runtime, key: str) -> str | None:
    with runtime.sessions() as session:
        receipt = session.get(WebhookReceipt, key)
        return receipt.response if receipt is not None else None


def acting(runtime, answer: str, calls: list[str]):
    """Work that leaves a trace (a recorded attempt) and answers ``answer``."""

    def act(session):
        calls.append(answer)
        record_attempt(
            session, runtime.clock.now(), channel="email", reason="test", contact="x", told=""
        )
        return answer

    return act


def test_the_first_request_acts_and_a_repeat_gets_its_answer(runtime):
    calls: list[str] = []
    now = runtime.clock.now()
    first = act_once(runtime, "test:1", now, acting(runtime, "first", calls), str.upper)
    assert first == "first"  # what the work returned...
    assert stored(runtime, "test:1") == "FIRST"  # ...and the answer kept for repeats
    again = act_once(runtime, "test:1", now, acting(runtime, "second", calls), str.upper)
    assert again == Repeat("FIRST")
    # The receipt is not looked up first (a round trip on every request): the repeat's work
    # ran and was rolled back with its transaction, so it left nothing.
    assert calls == ["first", "second"] and count(runtime, Attempt) == 1


def test_a_repeat_whose_work_fails_still_gets_the_first_answer(runtime):
    now = runtime.clock.now()
    act_once(runtime, "test:2", now, acting(runtime, "first", []), str.upper)

    def fails(session):
        record_attempt(session, now, channel="email", reason="test", contact="y", told="")
        raise ValueError("the state the first request left is not what this work expects")

    assert act_once(runtime, "test:2", now, fails, str.upper) == Repeat("FIRST")
    assert count(runtime, Attempt) == 1
    with pytest.raises(ValueError):
        act_once(runtime, "test:3", now, fails, str.upper)  # no receipt: a real failure


def test_a_duplicate_that_committed_first_wins_and_our_work_is_rolled_back(runtime, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("needs a second writer while the first is in flight (PostgreSQL)")
    now = runtime.clock.now()

    def act(session):
        record_attempt(session, now, channel="email", reason="test", contact="x", told="")
        # The retry reached another worker, which answered and committed first. The receipt
        # is written after the work, so this insert does not wait on ours (the lock timeout
        # turns a receipt written before the work into an error instead of a hang).
        with runtime.db.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            connection.execute(
                insert(WebhookReceipt).values(
                    key="test:race", received_at=now, response="theirs", status_code=200
                )
            )
        return "ours"

    assert act_once(runtime, "test:race", now, act, str) == Repeat("theirs")
    assert count(runtime, Attempt) == 0
    assert stored(runtime, "test:race") == "theirs"


def test_an_integrity_error_that_is_not_a_duplicate_is_raised(runtime):
    now = runtime.clock.now()

    def act(session):
        for _ in range(2):
            session.execute(
                insert(WebhookReceipt).values(key="other", received_at=now, response="")
            )
        return "never"

    with pytest.raises(IntegrityError):
        act_once(runtime, "test:bug", now, act, str)
    assert count(runtime, WebhookReceipt) == 0


def test_keys_fit_their_columns():
    assert bounded_key("email:", "<a@b>") == "email:<a@b>"
    long = "<" + "x" * 500 + "@mail.example>"
    key = bounded_key("email:", long)
    assert key.startswith("email:sha256:") and len(key) <= MAX_KEY
    assert key == bounded_key("email:", long)  # the same message, the same key
    assert bounded_key("relay:", "y" * 300, 200).startswith("relay:sha256:")
