"""The outbox sender: delivers outbox rows through the transports, and what follows.

States: ``pending → sending → sent → delivered | failed`` (or ``cancelled`` before sending).

**Claim, commit, then send.** :meth:`OutboxSender.run_once` claims due pending rows with
``FOR UPDATE SKIP LOCKED`` (several senders never take the same row), marks them ``sending``
(``sending_since``, ``attempts + 1``) and *commits* before the provider is called, so a crash
mid-send leaves evidence. The outcome is recorded in a new transaction, and only if the row is
still in the attempt we claimed (same state and attempt number), so a late outcome from a
process that hung can never overwrite a newer decision.

**Outcomes.** Sent: provider id and ``sent_at``. Transient error (5xx, 429, timeouts,
connection errors): back to ``pending`` after a backoff -- exponential from
``engine.retry_base``, capped at ``engine.retry_max``, jittered to between half and all of
that -- until ``engine.max_attempts``, then it is a failure. Permanent error: ``failed`` with
``error_code`` and ``last_error``, then the fallback. A timeout *after* the request may have
reached the provider is ambiguous: the provider is asked first (``transport.lookup``) and the
message counts as sent if it is there.

**Fallbacks** (the same for a permanent send error and for an ``undelivered``/``failed``
status callback), so a page is never silently lost:

* a page, manager page or reminder by SMS → a voice call to the same person (``page_voice``,
  whose TwiML reads the page and takes ``1`` to acknowledge), while the case still needs it;
* a voice page that fails (busy, no answer, failed) → the next escalation target: the case's
  next ``escalate`` deadline is pulled forward to now (the manager's own voice page has no
  next target: it is recorded);
* anything to the customer (SMS or email) → a ``delivery_failed`` event for the humans on the
  timeline, and the message is forwarded to the regular support queue (``email.forward_to``)
  so somebody contacts the customer another way.

**Reconciliation** (:func:`reconcile_stuck`, run by every engine tick). A row still
``sending`` ``engine.sending_timeout`` after its attempt began lost its outcome (the process
died mid-send). It is looked up at the provider (``transport.lookup(outgoing,
since=sending_since - 1 min)``): found → ``sent`` with that provider id; not found → back to
``pending`` and sent again, because it never reached the provider. Emails have no lookup
(SMTP): an email in doubt is sent again, since a duplicate email is the lesser harm than a
customer never hearing. A claimed row re-stamps ``sending_since`` just before its provider
call if it waited behind others (and is not sent at all if it was reconciled meanwhile), so
``sending_since`` is when the call began; ``sending_timeout`` must exceed twice the transports'
own timeout (a send, then the lookup after an ambiguous error; defaults: 60 s against 10 s), so
a send still in flight is never taken for a lost one.

**Wake, don't wait.** Intake, the engine and the webhooks wake the sender the moment they commit. A
woken sender first applies the deadlines already due (:func:`oncall.engine.tick.apply_due`; a case
that just opened has its first escalation step due *now*), then sends: a page leaves within
milliseconds of the case opening, not at the next engine tick. The engine's claiming (``FOR UPDATE
SKIP LOCKED``, state re-checked under the lock) makes this safe next to any number of engines.

**Bundling** (per person, SMS pages only; :func:`plan_bundles`). Nothing is ever held back
except a *repeat* page, and never for longer than ``engine.sms_rate_window``:

1. the first page of a case to a person is never delayed;
2. pages to one person for two or more different cases that are due together go out as one
   SMS (``bundle_text``: "3 new critical cases: 1042 Acme S1, ..."); the rows are marked
   ``bundled_into`` the bundle row and follow its fate (sent, delivered, failed, fallback);
3. a repeat page (the case already paged this person) for a *different* case than the last
   page SMS that person got within the window is held until that page's time + the window,
   and then goes out together with whatever else is due for them by then;
4. two pages of the same case are never merged: one rides in the bundle, the other goes alone.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from oncall.cases.forward import forward_to_support_queue
from oncall.cases.store import add_event, enqueue
from oncall.db.models import Case, OutboundMessage
from oncall.db.session import transaction
from oncall.domain.enums import CaseState, OutboxState, Purpose
from oncall.domain.mail.threads import make_message_id
from oncall.domain.sms_text import bundle_text
from oncall.domain.transport import LookupResult, Outgoing, SendResult, TransportError
from oncall.engine.tick import (
    apply_due,
    escalate_now,
    member_of,
    voice_script,
)
from oncall.runtime import Runtime

log = logging.getLogger("oncall.sender")

LOOKUP_SLACK = timedelta(minutes=1)  # provider clocks and our clock disagree a little
SLICE = 10  # deadlines applied / rows claimed per step of the woken sender's loop
TERMINAL = (OutboxState.DELIVERED.value, OutboxState.FAILED.value, OutboxState.CANCELLED.value)


# -- backoff --------------------------------------------------------------------------------
def backoff(attempt: int, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """Delay before retry after failed attempt number ``attempt`` (1-based).

    ``min(cap, base * 2**(attempt-1))`` jittered to between half and all of it: retries from
    many rows spread out instead of hitting a recovering provider in step.
    """
    exponent = min(max(attempt - 1, 0), 30)
    delay = min(cap, base * (2**exponent))
    return delay * (0.5 + 0.5 * rng.random())


# -- the sender -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Claim:
    id: int
    attempts: int
    channel: str
    outgoing: Outgoing
    sending_since: datetime


class OutboxSender:
    """Delivers due outbox rows; :meth:`wake` makes it look at once."""

    def __init__(self, runtime: Runtime, *, rng: random.Random | None = None):
        self.runtime = runtime
        self.rng = rng or random.Random()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="oncall-sender", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        # The tick interval is only the safety net (rows whose retry time has come); intake
        # and the engine wake the sender the moment they commit.
        interval = self.runtime.settings.engine.tick.total_seconds()
        self._wake.set()  # look once at start-up: rows may have been waiting
        while not self._stopping.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                # Deadlines already due first: a case that just opened has its first
                # escalation step due now, and its page should not wait for the next tick.
                # Then send, and again while either found work (a burst keeps coming).
                # Small slices, so that in a burst the first pages go out while later cases
                # are still being applied, rather than after all of them.
                while not self._stopping.is_set():
                    applied = apply_due(self.runtime, limit=SLICE).claimed
                    if self.run_once(limit=SLICE) == 0 and applied == 0:
                        break
            except Exception:  # the database may be down: log, wait a little, go on
                log.exception("outbox sender run failed")
                self._stopping.wait(min(interval, 5.0))

    # -- one pass --------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None, limit: int | None = None) -> int:
        """Claim due rows (at most ``limit``, default ``engine.batch_size``), send them,
        record the outcomes. Returns how many were claimed."""
        claims = self._claim(now or self.runtime.clock.now(), limit)
        # Provider calls take ~100-300 ms against the real Twilio API, so a burst delivered one
        # at a time would leave its last page tens of seconds behind its first. Each delivery
        # runs in its own transactions, so claims can be sent side by side.
        workers = min(self.runtime.settings.engine.send_concurrency, len(claims))
        if workers <= 1:
            for claim in claims:
                self._deliver(claim, now)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="oncall-send") as pool:
                for future in [pool.submit(self._deliver, claim, now) for claim in claims]:
                    future.result()
        return len(claims)

    def _claim(self, now: datetime, limit: int | None = None) -> list[_Claim]:
        settings = self.runtime.settings
        with transaction(self.runtime.sessions) as session:
            rows = list(
                session.scalars(
                    select(OutboundMessage)
                    .where(
                        OutboundMessage.state == OutboxState.PENDING.value,
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
            rows = plan_bundles(session, self.runtime, rows, now)
            claims = []
            for row in rows:
                row.state = OutboxState.SENDING.value
                row.sending_since = now
                row.attempts += 1
                if row.channel == "email" and not row.message_id:
                    # Known before the first attempt, so a resend carries the same Message-ID
                    # and replies thread to the case whichever copy the customer answers.
                    row.message_id = make_message_id(row.id, row.from_address)
                if row.purpose == Purpose.PAGE_BUNDLE:
                    _mirror(session, row)
                claims.append(
                    _Claim(row.id, row.attempts, row.channel, outgoing_for(row, self.runtime), now)
                )
            return claims

    def _deliver(self, claim: _Claim, now: datetime | None) -> None:
        claim = self._start(claim, now)
        if claim is None:
            return
        transport = self.runtime.transports.get(claim.channel)
        if transport is None:
            error = TransportError(f"no transport for channel {claim.channel}", transient=False)
            self._record(claim, now, lambda s, r, t: self._failed(s, r, t, error))
            return
        try:
            result = transport.send(claim.outgoing)
        except TransportError as exc:
            failure = exc
            if exc.transient and getattr(exc, "ambiguous", False) and claim.channel != "email":
                found = self._lookup(transport, claim)
                if found is not None:
                    sent = SendResult(found.provider_id, found.status)
                    self._record(claim, now, lambda s, r, t: self._sent(s, r, t, sent))
                    return
            self._record(claim, now, lambda s, r, t: self._failed(s, r, t, failure))
        except Exception as exc:  # a transport bug: retry like a transient error, loudly
            log.exception("transport %s raised unexpectedly", type(transport).__name__)
            error = TransportError(f"{type(exc).__name__}: {exc}", transient=True)
            self._record(claim, now, lambda s, r, t: self._failed(s, r, t, error))
        else:
            self._record(claim, now, lambda s, r, t: self._sent(s, r, t, result))

    def _start(self, claim: _Claim, now: datetime | None) -> _Claim | None:
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
                    OutboundMessage.state == OutboxState.SENDING.value,
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

    def _lookup(self, transport, claim: _Claim) -> LookupResult | None:
        try:
            return transport.lookup(claim.outgoing, claim.sending_since - LOOKUP_SLACK)
        except Exception:  # cannot tell: treat as not sent (a duplicate beats a lost page)
            log.warning("lookup after an ambiguous error failed for outbox %s", claim.id)
            return None

    def _record(
        self,
        claim: _Claim,
        now: datetime | None,
        apply: Callable[[Session, OutboundMessage, datetime], None],
    ) -> None:
        when = now or self.runtime.clock.now()
        with transaction(self.runtime.sessions) as session:
            row = lock_row(session, claim.id)
            if (
                row is None
                or row.state != OutboxState.SENDING.value
                or row.attempts != claim.attempts
            ):
                log.warning(
                    "outcome of outbox %s attempt %s arrived after the row moved on; ignored",
                    claim.id,
                    claim.attempts,
                )
                return
            # A fallback enqueued here is picked up by the sender's next pass (its loop runs
            # again after any productive pass), so no wake is needed.
            apply(session, row, when)

    def _sent(self, session: Session, row: OutboundMessage, now: datetime, result) -> None:
        mark_sent(session, self.runtime, row, now, result.provider_id, result.status)

    def _failed(
        self, session: Session, row: OutboundMessage, now: datetime, error: TransportError
    ) -> None:
        settings = self.runtime.settings.engine
        row.last_error = str(error)[:2000]
        row.error_code = error.code
        if error.transient and row.attempts < settings.max_attempts:
            delay = backoff(row.attempts, settings.retry_base, settings.retry_max, self.rng)
            row.state = OutboxState.PENDING.value
            row.next_attempt_at = now + delay
            _mirror(session, row)
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


# -- recording outcomes (shared with reconciliation and status callbacks) -------------------
def lock_row(session: Session, row_id: int) -> OutboundMessage | None:
    """Lock the cases a row touches, then the row (the lock order of the engine module)."""
    case_ids = {
        case_id
        for (case_id,) in session.execute(
            select(OutboundMessage.case_id).where(
                (OutboundMessage.id == row_id) | (OutboundMessage.bundled_into == row_id)
            )
        )
        if case_id is not None
    }
    if case_ids:
        # Loaded, not just locked, and kept referenced (the identity map is weak): the events
        # written next need them, and would otherwise read each case again.
        session.info["locked_cases"] = session.scalars(
            select(Case).where(Case.id.in_(sorted(case_ids))).order_by(Case.id).with_for_update()
        ).all()
    return session.get(OutboundMessage, row_id, with_for_update=True, populate_existing=True)


def mark_sent(
    session: Session,
    runtime: Runtime,
    row: OutboundMessage,
    now: datetime,
    provider_id: str | None,
    status: str | None,
    how: str = "sent",
) -> None:
    row.state = OutboxState.SENT.value
    row.provider_id = provider_id[:64] if provider_id else None  # an email's Message-ID can be long
    row.provider_status = status
    row.status_sequence = max(row.status_sequence or 0, status_rank(row.channel, status)[0])
    row.sent_at = now
    row.last_error = None
    row.error_code = None
    _mirror(session, row)
    for target in _rows_of(session, row):
        _event(
            session,
            runtime,
            target,
            now,
            "sent",
            f"{describe(runtime, session, target)} {how}"
            + (f" ({provider_id})" if provider_id else ""),
        )


def fail(
    session: Session,
    runtime: Runtime,
    row: OutboundMessage,
    now: datetime,
    *,
    reason: str,
    code: int | None = None,
) -> None:
    """``row`` ended badly: record it and fall back (see the module docstring)."""
    row.state = OutboxState.FAILED.value
    row.error_code = code if code is not None else row.error_code
    row.last_error = reason[:2000]
    _mirror(session, row)
    log.error(
        "outbox %s (%s %s to %s) failed: %s",
        row.id,
        row.purpose,
        row.channel,
        row.to_address,
        reason,
    )
    for target in _rows_of(session, row):
        _event(
            session,
            runtime,
            target,
            now,
            "failed",
            f"{describe(runtime, session, target)} failed: {reason}"
            + (f" (error {code})" if code else ""),
        )
        fallback(session, runtime, target, now, reason=reason, code=code)


def fallback(
    session: Session,
    runtime: Runtime,
    row: OutboundMessage,
    now: datetime,
    *,
    reason: str,
    code: int | None = None,
) -> None:
    """What happens after ``row`` (not a bundle: its members) could not be delivered."""
    settings = runtime.settings
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    who = _who(runtime, case, row)
    failure = f"{row.channel} to {who} failed" + (f" ({code})" if code else "")
    if row.purpose == Purpose.FORWARD:
        return  # the support queue itself: logged above, nothing further to fall back to
    if row.recipient == "customer":
        forwarded = forward_to_support_queue(
            session,
            runtime,
            now,
            subject=(
                f"[Case {case.number}] Could not reach the customer"
                if case
                else "Could not reach a customer"
            ),
            body=(
                f"Our {row.channel} to {row.to_address} could not be delivered ({reason}).\n"
                "Please contact the customer another way. The message was:\n\n"
                f"{row.subject + chr(10) if row.subject else ''}{row.body}"
            ),
            case=case,
            dedupe_key=f"forward:{row.id}",
        )
        if case is not None and forwarded is not None:
            add_event(
                session,
                case,
                now,
                "delivery_failed",
                f"Could not reach the customer: {failure}. Forwarded to the support queue "
                f"({settings.email.forward_to}) so somebody contacts them another way",
                outbox_id=row.id,
            )
        return
    if case is None:
        return
    if row.channel in ("sms", "email") and row.purpose in (
        Purpose.PAGE,
        Purpose.MANAGER_PAGE,
        Purpose.REMINDER,
    ):
        still_needed = case.is_open and (
            row.purpose != Purpose.PAGE or case.state == CaseState.OPEN.value
        )
        if not still_needed:
            add_event(
                session,
                case,
                now,
                "delivery_failed",
                f"{failure}; no fallback needed (case {case.state})",
                outbox_id=row.id,
            )
            return
        if row.channel == "sms":
            # A reminder or manager page is read as written, minus the SMS reply instructions
            # (the call takes 1 instead).
            body = (
                voice_script(case) if row.purpose == Purpose.PAGE else row.body.split(" Reply ")[0]
            )
            call = enqueue(
                session,
                now,
                channel="voice",
                purpose=Purpose.PAGE_VOICE,
                to=row.to_address,
                from_address=settings.twilio.critical_line,
                body=body,
                case=case,
                recipient=row.recipient,
                fallback_of=row.id,
                dedupe_key=f"voice:{row.id}",
            )
            if call is not None:
                add_event(
                    session,
                    case,
                    now,
                    "fallback",
                    f"{failure}: calling {who} instead",
                    outbox_id=row.id,
                    voice_id=call.id,
                )
            return
        # An email page (the member has no phone) that failed: nobody else can take it.
        if row.purpose == Purpose.PAGE:
            escalate_now(session, case, now, reason=failure)
        return
    if row.channel == "voice" and row.purpose == Purpose.PAGE_VOICE:
        original = session.get(OutboundMessage, row.fallback_of) if row.fallback_of else None
        if (
            original is not None
            and original.purpose == Purpose.PAGE
            and case.state == CaseState.OPEN
        ):
            escalate_now(session, case, now, reason=f"voice page to {who} failed ({reason})")
        else:
            add_event(
                session, case, now, "delivery_failed", f"{failure}: {reason}", outbox_id=row.id
            )
        return
    add_event(session, case, now, "delivery_failed", f"{failure}: {reason}", outbox_id=row.id)


# -- provider status callbacks --------------------------------------------------------------
# Ranks: statuses only move forward. Terminal ones (4 = delivered, 5 = failed) end the row;
# whichever terminal status arrives first wins.
_SMS_RANKS = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 4,
    "partially_delivered": 4,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
}
_VOICE_RANKS = {
    "queued": 1,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "answered": 3,
    "completed": 4,
    "busy": 5,
    "no-answer": 5,
    "failed": 5,
    "canceled": 5,
}


def status_rank(channel: str, status: str | None) -> tuple[int, str]:
    """``(rank, outcome)``; outcome is progress | delivered | failed | unknown."""
    ranks = _VOICE_RANKS if channel == "voice" else _SMS_RANKS
    rank = ranks.get((status or "").lower(), 0)
    outcome = {4: "delivered", 5: "failed"}.get(rank, "progress" if rank else "unknown")
    return rank, outcome


def apply_status_callback(
    runtime: Runtime,
    sid: str,
    status: str,
    now: datetime,
    *,
    error_code: int | None = None,
) -> str:
    """Apply a Twilio status callback for ``sid``; returns unknown | ignored | applied.

    Idempotent and order-proof: a status at or below the row's current rank, or any status
    after a terminal one, changes nothing. ``undelivered``/``failed`` (and for calls ``busy``,
    ``no-answer``, ``failed``, ``canceled``) trigger the same fallback as a permanent error.
    """
    with transaction(runtime.sessions) as session:
        carrier_id = session.scalar(
            select(OutboundMessage.id)
            .where(OutboundMessage.provider_id == sid, OutboundMessage.bundled_into.is_(None))
            .order_by(OutboundMessage.id)
            .limit(1)
        )
        if carrier_id is None:
            return "unknown"
        row = lock_row(session, carrier_id)
        assert row is not None
        rank, outcome = status_rank(row.channel, status)
        if outcome == "unknown" or row.state in TERMINAL or rank <= (row.status_sequence or 0):
            return "ignored"
        row.provider_status = status
        row.status_sequence = rank
        if outcome == "delivered":
            row.state = OutboxState.DELIVERED.value
            row.delivered_at = now
            _mirror(session, row)
            for target in _rows_of(session, row):
                what = "answered" if row.channel == "voice" else "delivered"
                _event(
                    session,
                    runtime,
                    target,
                    now,
                    "delivered",
                    f"{describe(runtime, session, target)} {what}",
                )
        elif outcome == "failed":
            fail(session, runtime, row, now, reason=f"provider reported {status}", code=error_code)
        else:
            _mirror(session, row)
    runtime.wake_sender()
    return "applied"


# -- reconciliation -------------------------------------------------------------------------
def reconcile_stuck(runtime: Runtime, now: datetime) -> int:
    """Decide rows left in ``sending`` longer than ``engine.sending_timeout`` (see above).

    The provider is asked outside any transaction (no lock held over the network); the
    decision is then applied only if the row is still in the very attempt that was looked up,
    so two engines reconciling at once never requeue a row twice.
    """
    settings = runtime.settings
    cutoff = now - settings.engine.sending_timeout
    with runtime.sessions() as session:
        stuck = list(
            session.scalars(
                select(OutboundMessage)
                .where(
                    OutboundMessage.state == OutboxState.SENDING.value,
                    OutboundMessage.sending_since <= cutoff,
                    OutboundMessage.bundled_into.is_(None),
                )
                .order_by(OutboundMessage.sending_since)
                .limit(settings.engine.batch_size)
            )
        )
        candidates = [
            (r.id, r.attempts, r.sending_since, r.channel, outgoing_for(r, runtime)) for r in stuck
        ]
    decided = 0
    for row_id, attempts, since, channel, outgoing in candidates:
        found: LookupResult | None = None
        if channel != "email":
            transport = runtime.transports.get(channel)
            try:
                found = transport.lookup(outgoing, since - LOOKUP_SLACK) if transport else None
            except Exception as exc:  # the provider cannot tell us now: ask again next tick
                log.warning("reconciling outbox %s: lookup failed (%s)", row_id, exc)
                continue
        with transaction(runtime.sessions) as session:
            row = lock_row(session, row_id)
            if (
                row is None
                or row.state != OutboxState.SENDING.value
                or row.attempts != attempts
                or row.sending_since != since
            ):
                continue
            if found is not None:
                mark_sent(
                    session,
                    runtime,
                    row,
                    now,
                    found.provider_id,
                    found.status,
                    how="found at the provider after a lost outcome: counted as sent",
                )
            else:
                row.state = OutboxState.PENDING.value
                row.next_attempt_at = now
                row.last_error = "outcome lost mid-send; " + (
                    "email has no lookup: sending again"
                    if channel == "email"
                    else "not found at the provider: sending again"
                )
                _mirror(session, row)
                for target in _rows_of(session, row):
                    _event(
                        session,
                        runtime,
                        target,
                        now,
                        "reconciled",
                        f"{describe(runtime, session, target)}: {row.last_error}",
                    )
            log.warning("reconciled outbox %s: %s", row_id, "sent" if found else "requeued")
            decided += 1
    return decided


# -- bundling -------------------------------------------------------------------------------
def plan_bundles(
    session: Session, runtime: Runtime, rows: list[OutboundMessage], now: datetime
) -> list[OutboundMessage]:
    """Apply the bundling rule (module docstring) to claimed rows; returns what to send now.

    Held rows get a later ``next_attempt_at`` and stay pending; bundled rows are replaced by
    one new bundle row.
    """
    window = runtime.settings.engine.sms_rate_window
    if window <= timedelta(0):
        return rows
    by_phone: dict[str, list[OutboundMessage]] = defaultdict(list)
    send: list[OutboundMessage] = []
    for row in rows:
        if row.channel == "sms" and row.purpose == Purpose.PAGE and row.case_id is not None:
            by_phone[row.to_address].append(row)
        else:
            send.append(row)
    claimed_ids = [r.id for r in rows]
    for phone, group in by_phone.items():
        last = _last_page(session, phone, claimed_ids)
        now_group: list[OutboundMessage] = []
        for row in group:
            repeat = _paged_before(session, row)
            if repeat and last is not None and last[0] > now - window and row.case_id != last[1]:
                row.next_attempt_at = last[0] + window  # held, never past the window
                log.info(
                    "page %s to %s held until %s to bundle",
                    row.id,
                    phone,
                    row.next_attempt_at.isoformat(),
                )
                continue
            now_group.append(row)
        firsts: dict[int, OutboundMessage] = {}
        extras: list[OutboundMessage] = []
        for row in now_group:
            assert row.case_id is not None
            if row.case_id in firsts:
                extras.append(row)  # same case twice: never merged
            else:
                firsts[row.case_id] = row
        send.extend(extras)
        if len(firsts) < 2:
            send.extend(firsts.values())
            continue
        send.append(_make_bundle(session, runtime, phone, list(firsts.values()), now))
    return send


def _last_page(session: Session, phone: str, exclude: list[int]) -> tuple[datetime, int] | None:
    """When this phone last got a page SMS (and for which case; 0 for a bundle)."""
    row = session.execute(
        select(
            func.coalesce(OutboundMessage.sent_at, OutboundMessage.sending_since),
            OutboundMessage.case_id,
        )
        .where(
            OutboundMessage.to_address == phone,
            OutboundMessage.channel == "sms",
            OutboundMessage.purpose.in_((Purpose.PAGE, Purpose.PAGE_BUNDLE)),
            OutboundMessage.bundled_into.is_(None),
            OutboundMessage.state.in_(
                (OutboxState.SENDING.value, OutboxState.SENT.value, OutboxState.DELIVERED.value)
            ),
            OutboundMessage.id.not_in(exclude),
        )
        .order_by(func.coalesce(OutboundMessage.sent_at, OutboundMessage.sending_since).desc())
        .limit(1)
    ).first()
    if row is None or row[0] is None:
        return None
    at = row[0]
    if isinstance(at, str):  # defensive: a driver that hands coalesce() back untyped
        at = datetime.fromisoformat(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at, row[1] or 0


def _paged_before(session: Session, row: OutboundMessage) -> bool:
    """Whether this person already got (or was sent) a page for this case."""
    return (
        session.scalar(
            select(OutboundMessage.id)
            .where(
                OutboundMessage.case_id == row.case_id,
                OutboundMessage.to_address == row.to_address,
                OutboundMessage.purpose.in_((Purpose.PAGE, Purpose.PAGE_VOICE)),
                OutboundMessage.id != row.id,
                OutboundMessage.state.in_(
                    (
                        OutboxState.SENDING.value,
                        OutboxState.SENT.value,
                        OutboxState.DELIVERED.value,
                        OutboxState.FAILED.value,
                    )
                ),
            )
            .limit(1)
        )
        is not None
    )


def _make_bundle(
    session: Session, runtime: Runtime, phone: str, members: list[OutboundMessage], now: datetime
) -> OutboundMessage:
    cases = {
        c.id: c
        for c in session.scalars(select(Case).where(Case.id.in_([m.case_id for m in members])))
    }
    items = [
        (cases[m.case_id].number, cases[m.case_id].severity, cases[m.case_id].customer_name)
        for m in members
    ]
    bundle = OutboundMessage(
        case_id=None,
        channel="sms",
        purpose=Purpose.PAGE_BUNDLE,
        recipient=members[0].recipient,
        to_address=phone,
        from_address=members[0].from_address,
        body=bundle_text(items),
        headers={},
        state=OutboxState.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(bundle)
    session.flush()
    numbers = ", ".join(str(n) for n, _s, _c in items)
    for member in members:
        member.bundled_into = bundle.id
        case = cases[member.case_id]
        add_event(
            session,
            case,
            now,
            "bundled",
            f"Page to {_who(runtime, case, member)} sent in one SMS with cases {numbers} "
            "(several pages due together)",
            outbox_id=member.id,
            bundle_id=bundle.id,
        )
    return bundle


def _mirror(session: Session, carrier: OutboundMessage) -> None:
    """Rows riding in a bundle follow the bundle's state."""
    if carrier.purpose != Purpose.PAGE_BUNDLE:
        return
    session.flush()
    for member in session.scalars(
        select(OutboundMessage).where(OutboundMessage.bundled_into == carrier.id)
    ):
        member.state = carrier.state
        member.attempts = carrier.attempts
        member.sending_since = carrier.sending_since
        member.sent_at = carrier.sent_at
        member.delivered_at = carrier.delivered_at
        member.provider_id = carrier.provider_id
        member.provider_status = carrier.provider_status
        member.status_sequence = carrier.status_sequence
        member.error_code = carrier.error_code
        member.last_error = carrier.last_error
        member.next_attempt_at = carrier.next_attempt_at


def _rows_of(session: Session, row: OutboundMessage) -> list[OutboundMessage]:
    """The rows whose cases an outcome concerns: the bundle's members, or the row itself."""
    if row.purpose == Purpose.PAGE_BUNDLE:
        return list(
            session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.bundled_into == row.id)
                .order_by(OutboundMessage.id)
            )
        )
    return [row]


# -- small helpers --------------------------------------------------------------------------
def outgoing_for(row: OutboundMessage, runtime: Runtime) -> Outgoing:
    """The transport's view of a row."""
    base = runtime.settings.public_url
    headers = dict(row.headers or {})
    if row.channel == "email" and row.message_id:
        headers.setdefault("Message-ID", row.message_id)
    return Outgoing(
        id=row.id,
        channel=row.channel,
        to=row.to_address,
        from_=row.from_address,
        body=row.body,
        subject=row.subject,
        headers=headers,
        status_callback=f"{base}/twilio/status" if row.channel in ("sms", "voice") else None,
        voice_url=f"{base}/twilio/page/{row.id}" if row.channel == "voice" else None,
    )


_LABELS = {
    Purpose.PAGE: "Page",
    Purpose.PAGE_VOICE: "Voice page",
    Purpose.PAGE_BUNDLE: "Bundled page",
    Purpose.MANAGER_PAGE: "Manager page",
    Purpose.REMINDER: "Reminder",
    Purpose.FORWARD: "Forward to the support queue",
}


def describe(runtime: Runtime, session: Session, row: OutboundMessage) -> str:
    label = _LABELS.get(row.purpose)
    if label is None:
        label = "Message to the customer" if row.recipient == "customer" else "Message"
    channel = {"sms": "SMS", "voice": "call", "email": "email"}.get(row.channel, row.channel)
    case = session.get(Case, row.case_id) if row.case_id is not None else None
    return f"{label} ({channel}) to {_who(runtime, case, row)}"


def _who(runtime: Runtime, case: Case | None, row: OutboundMessage) -> str:
    if row.recipient and row.recipient != "customer" and case is not None:
        member = member_of(runtime, case, row.recipient)
        if member is not None:
            return f"{member.name} ({row.to_address})"
    if row.recipient == "customer":
        return f"the customer ({row.to_address})"
    return row.to_address


def _event(
    session: Session, runtime: Runtime, row: OutboundMessage, now: datetime, kind: str, text: str
) -> None:
    if row.case_id is None:
        return
    case = session.get(Case, row.case_id)
    if case is not None:
        add_event(
            session,
            case,
            now,
            kind,
            text,
            outbox_id=row.id,
            channel=row.channel,
            purpose=row.purpose,
        )
