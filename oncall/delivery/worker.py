"""The outbox worker: claims due outbox rows, sends them through the transports, and records
the outcome, with retries and backoff.

States: ``pending → sending → sent → delivered | failed`` (or ``cancelled`` before sending).

**Claim, commit, then send.** :meth:`OutboxSender.claim` takes due pending rows with
``FOR UPDATE SKIP LOCKED`` (several senders never take the same row), marks them ``sending``
(``sending_since``, ``attempts + 1``) and *commits* before the provider is called, so a crash
mid-send leaves evidence (:mod:`oncall.delivery.reconcile` decides it later).
:meth:`OutboxSender.record` writes the outcome in a new transaction, and only if the row is
still in the attempt that was claimed (same state and attempt number), so a late outcome from a
process that hung can never overwrite a newer decision. A claimed row re-stamps
``sending_since`` just before its provider call if it waited behind others (and is not sent at
all if it was reconciled meanwhile), so ``sending_since`` is when the call began.

**Outcomes.** Sent: provider id and ``sent_at``. Transient error (5xx, 429, timeouts,
connection errors): back to ``pending`` after a backoff -- exponential from
``engine.retry_base``, capped at ``engine.retry_max``, jittered to between half and all of
that -- until ``engine.max_attempts``, then it is a failure. Permanent error: ``failed`` with
``error_code`` and ``last_error``, then the fallback (:mod:`oncall.delivery.fallback`). A
timeout *after* the request may have reached the provider is ambiguous: the provider is asked
first (``transport.lookup``) and the message counts as sent if it is there.

**Wake, don't wait.** Intake, the engine and the webhooks wake the sender the moment they
commit. A woken sender first applies the deadlines already due
(:func:`oncall.engine.tick.apply_due`; a case that just opened has its first escalation step
due *now*), then sends: a page leaves within milliseconds of the case opening, not at the next
engine tick. The engine's claiming (``FOR UPDATE SKIP LOCKED``, state re-checked under the
lock) makes this safe next to any number of engines. Pages due together for one person may go
out as one SMS (:mod:`oncall.delivery.bundling`).
"""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall.db.models import OutboundMessage
from oncall.db.session import paging_first, transaction
from oncall.delivery.bundling import mirror, plan_bundles
from oncall.delivery.outcomes import fail, mark_sent
from oncall.delivery.reconcile import LOOKUP_SLACK
from oncall.delivery.rows import lock_row, outgoing_for
from oncall.domain.enums import OutboxState, Purpose
from oncall.domain.mail.threads import make_message_id
from oncall.domain.transport import (
    LookupResult,
    Outgoing,
    SendResult,
    Transport,
    TransportError,
)
from oncall.engine.tick import apply_due
from oncall.runtime import Runtime

log = logging.getLogger("oncall.sender")

SLICE = 10  # deadlines applied / rows claimed per step of the woken sender's loop


def backoff(attempt: int, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """Delay before retry after failed attempt number ``attempt`` (1-based).

    ``min(cap, base * 2**(attempt-1))`` jittered to between half and all of it: retries from
    many rows spread out instead of hitting a recovering provider in step.
    """
    exponent = min(max(attempt - 1, 0), 30)
    delay = min(cap, base * (2**exponent))
    return delay * (0.5 + 0.5 * rng.random())


@dataclass(frozen=True)
class Claim:
    """One attempt at one row, as claimed (committed ``sending``)."""

    id: int
    attempts: int
    channel: str
    outgoing: Outgoing
    sending_since: datetime


class OutboxSender:
    """Delivers due outbox rows; :meth:`wake` makes it look at once.

    :meth:`run_once` is one pass: :meth:`claim`, then :meth:`deliver` each claim (which
    :meth:`record`\\ s the outcome). The three are public so that a test can stop between
    them, as a process that dies or hangs would.
    """

    def __init__(self, runtime: Runtime, *, rng: random.Random | None = None):
        self.runtime = runtime
        self.rng = rng or random.Random()
        self._stopping = threading.Event()
        # Guards the two flags below: whether a wake is waiting to be served, and whether the
        # thread has served every wake and is waiting for the next (what wait_idle waits for).
        self._state = threading.Condition()
        self._woken = False
        self._idle = False
        self._thread: threading.Thread | None = None

    # -- the thread ------------------------------------------------------------------------
    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        with self._state:
            self._woken = True  # look once at start-up: rows may have been waiting
            self._idle = False
        self._thread = threading.Thread(target=self._loop, name="oncall-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        with self._state:
            self._woken = True
            self._idle = False
            self._state.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._state:
            self._state.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the thread has served every wake so far and waits for the next one
        (False if ``timeout`` seconds passed first). A wake after the start-up pass, or after
        a commit that woke it, has then been served."""
        with self._state:
            return self._state.wait_for(lambda: self._idle, timeout)

    def _loop(self) -> None:
        # The tick interval is only the safety net (rows whose retry time has come); intake
        # and the engine wake the sender the moment they commit.
        interval = self.runtime.settings.engine.tick.total_seconds()
        while not self._stopping.is_set():
            with self._state:
                if not self._woken:
                    self._idle = True
                    self._state.notify_all()
                self._state.wait_for(lambda: self._woken or self._stopping.is_set(), interval)
                self._woken = False
                self._idle = False
            if self._stopping.is_set():
                break
            try:
                with paging_first():
                    self._drain()
            except Exception:  # the database may be down: log, wait a little, go on
                log.exception("outbox sender run failed")
                self._stopping.wait(min(interval, 5.0))

    def _drain(self) -> None:
        # Deadlines already due first: a case that just opened has its first escalation step
        # due now, and its page should not wait for the next tick. Then send, and again while
        # either found work (a burst keeps coming). Small slices, so that in a burst the first
        # pages go out while later cases are still being applied, rather than after all of them.
        while not self._stopping.is_set():
            applied = apply_due(self.runtime, limit=SLICE).claimed
            if self.run_once(limit=SLICE) == 0 and applied == 0:
                break

    # -- one pass --------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Claim due rows (at most ``limit``, default ``engine.batch_size``), send them,
        record the outcomes. Returns how many were claimed."""
        claims = self.claim(now or self.runtime.clock.now(), limit)
        # Provider calls take ~100-300 ms against the real Twilio API, so a burst delivered one
        # at a time would leave its last page tens of seconds behind its first. Each delivery
        # runs in its own transactions, so claims can be sent side by side.
        workers = min(self.runtime.settings.engine.send_concurrency, len(claims))
        if workers <= 1:
            for claim in claims:
                self.deliver(claim, now)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="oncall-send") as pool:
                for future in [pool.submit(self._deliver_first, claim, now) for claim in claims]:
                    future.result()
        return len(claims)

    def _deliver_first(self, claim: Claim, now: datetime | None) -> None:
        with paging_first():  # a send thread records its outcome ahead of the web
            self.deliver(claim, now)

    def claim(self, now: datetime, limit: int | None = None) -> list[Claim]:
        """Take due rows (bundling pages due together) and commit them as ``sending``."""
        settings = self.runtime.settings
        with transaction(self.runtime.sessions) as session:
            rows = list(
                session.scalars(
                    select(OutboundMessage)
                    .where(
                        OutboundMessage.state == OutboxState.PENDING,
                        OutboundMessage.next_attempt_at <= now,
                        OutboundMessage.bundled_into.is_(None),
                    )
                    .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
                    .limit(limit or settings.engine.batch_size)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                return []
            return [
                self._claim_row(session, row, now)
                for row in plan_bundles(session, self.runtime, rows, now)
            ]

    def _claim_row(self, session: Session, row: OutboundMessage, now: datetime) -> Claim:
        row.state = OutboxState.SENDING
        row.sending_since = now
        row.attempts += 1
        if row.channel == "email" and not row.message_id:
            # Known before the first attempt, so a resend carries the same Message-ID and
            # replies thread to the case whichever copy the customer answers.
            row.message_id = make_message_id(row.id, row.from_address)
        if row.purpose == Purpose.PAGE_BUNDLE:
            mirror(session, row)
        return Claim(row.id, row.attempts, row.channel, outgoing_for(row, self.runtime), now)

    def deliver(self, claim: Claim, now: datetime | None = None) -> None:
        """Send one claimed row (unless it was taken away meanwhile) and record the outcome."""
        started = self._still_ours(claim, now)
        if started is None:
            return
        transport = self.runtime.transports.get(started.channel)
        if transport is None:
            error = TransportError(f"no transport for channel {started.channel}", transient=False)
            self.record(started, error, now)
            return
        self.record(started, self._send(transport, started), now)

    def _still_ours(self, claim: Claim, now: datetime | None) -> Claim | None:
        """Just before the provider call: is the row still ours? (None: leave it alone.)

        Rows are claimed in batches, so a row can wait in ``sending`` while the ones before
        it are sent; behind a hanging provider that wait can outlast ``sending_timeout``, and
        the reconciler may meanwhile have decided the row was lost and queued it again. So a
        row that waited re-stamps ``sending_since`` -- only if it is still in the attempt we
        claimed -- and a row that was taken away is not sent a second time.
        """
        started = now or self.runtime.clock.now()
        patience = min(timedelta(seconds=1), self.runtime.settings.engine.sending_timeout / 4)
        if started - claim.sending_since < patience:
            return claim
        with transaction(self.runtime.sessions) as session:
            still_ours = session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == claim.id,
                    OutboundMessage.state == OutboxState.SENDING,
                    OutboundMessage.attempts == claim.attempts,
                )
                .values(sending_since=started),
                execution_options={"synchronize_session": False},
            ).rowcount
        if not still_ours:
            log.warning(
                "outbox %s was reconciled while it waited to be sent; not sending it again",
                claim.id,
            )
            return None
        return replace(claim, sending_since=started)

    def _send(self, transport: Transport, claim: Claim) -> SendResult | TransportError:
        """The provider's answer: a result, or the error (ambiguous ones looked up first)."""
        try:
            return transport.send(claim.outgoing)
        except TransportError as exc:
            if exc.transient and getattr(exc, "ambiguous", False) and claim.channel != "email":
                found = self._lookup(transport, claim)
                if found is not None:
                    return SendResult(found.provider_id, found.status)
            return exc
        except Exception as exc:  # a transport bug: retry like a transient error, loudly
            log.exception("transport %s raised unexpectedly", type(transport).__name__)
            return TransportError(f"{type(exc).__name__}: {exc}", transient=True)

    def _lookup(self, transport: Transport, claim: Claim) -> LookupResult | None:
        try:
            return transport.lookup(claim.outgoing, claim.sending_since - LOOKUP_SLACK)
        except Exception:  # cannot tell: treat as not sent (a duplicate beats a lost page)
            log.warning("lookup after an ambiguous error failed for outbox %s", claim.id)
            return None

    # -- recording the outcome -------------------------------------------------------------
    def record(
        self, claim: Claim, outcome: SendResult | TransportError, now: datetime | None = None
    ) -> None:
        """Record the provider's answer to ``claim``: sent, or the error (retry or failure).

        Ignored if the row moved on since it was claimed (reconciled, or decided by a newer
        attempt): a late answer never overwrites a newer decision.
        """
        when = now or self.runtime.clock.now()
        with transaction(self.runtime.sessions) as session:
            row = lock_row(session, claim.id)
            if row is None or row.state != OutboxState.SENDING or row.attempts != claim.attempts:
                log.warning(
                    "outcome of outbox %s attempt %s arrived after the row moved on; ignored",
                    claim.id,
                    claim.attempts,
                )
                return
            # A fallback enqueued here is picked up by the sender's next pass (its loop runs
            # again after any productive pass), so no wake is needed.
            if isinstance(outcome, TransportError):
                self._failed(session, row, when, outcome)
            else:
                mark_sent(session, self.runtime, row, when, outcome.provider_id, outcome.status)

    def _failed(
        self, session: Session, row: OutboundMessage, now: datetime, error: TransportError
    ) -> None:
        settings = self.runtime.settings.engine
        row.last_error = str(error)[:2000]
        row.error_code = error.code
        if error.transient and row.attempts < settings.max_attempts:
            delay = backoff(row.attempts, settings.retry_base, settings.retry_max, self.rng)
            row.state = OutboxState.PENDING
            row.next_attempt_at = now + delay
            mirror(session, row)
            log.warning(
                "outbox %s (%s to %s) attempt %s failed (%s); retrying in %.1fs",
                row.id,
                row.channel,
                row.to_address,
                row.attempts,
                error,
                delay.total_seconds(),
            )
            return
        reason = str(error) if not error.transient else f"gave up after {row.attempts} attempts"
        fail(session, self.runtime, row, now, reason=reason, code=error.code)
