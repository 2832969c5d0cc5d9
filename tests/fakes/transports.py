"""A fake transport for unit tests: records what was sent, fails when told to, and plays the
provider's memory for reconciliation (``lookup``).

    fake = FakeTransport()
    fake.fail("+15550100101", code=21610)              # every SMS to Alice: opted out
    fake.fail("+15550100101", transient=True, times=2)  # the next two sends: 500
    fake.fail(..., ambiguous=True, reached=True)        # timeout, but the provider got it
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from oncall.domain.transport import LookupResult, Outgoing, SendResult, TransportError


@dataclass
class _Failure:
    code: int | None
    transient: bool
    times: int | None  # None: forever
    channel: str | None
    ambiguous: bool
    reached: bool
    http_status: int | None


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []  # accepted by the "provider", in order
        self.attempts: list[Outgoing] = []  # every call to send(), failed or not
        self.lookups: list[tuple[Outgoing, datetime]] = []
        self.provider: dict[str, tuple[Outgoing, LookupResult]] = {}  # sid -> what it holds
        self._failures: dict[str, list[_Failure]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- programming -----------------------------------------------------------------------
    def fail(
        self,
        to: str,
        *,
        code: int | None = None,
        transient: bool = False,
        times: int | None = None,
        channel: str | None = None,
        ambiguous: bool = False,
        reached: bool = False,
        http_status: int | None = None,
    ) -> None:
        """Sends to ``to`` (on ``channel``, or any) fail ``times`` times (None: always)."""
        status = http_status or (500 if transient and code is None else 400)
        with self._lock:
            self._failures[to].append(
                _Failure(code, transient, times, channel, ambiguous, reached, status)
            )

    def heal(self, to: str | None = None) -> None:
        with self._lock:
            if to is None:
                self._failures.clear()
            else:
                self._failures.pop(to, None)

    def remember(self, message: Outgoing, status: str = "sent") -> str:
        """The provider holds ``message`` although we never heard back (a lost outcome)."""
        with self._lock:
            return self._accept(message, status)

    # -- the protocol ----------------------------------------------------------------------
    def send(self, message: Outgoing) -> SendResult:
        with self._lock:
            self.attempts.append(message)
            failure = self._next_failure(message)
            if failure is not None:
                if failure.reached:
                    self._accept(message, "queued")
                error = TransportError(
                    f"fake {'transient' if failure.transient else 'permanent'} error "
                    f"{failure.code or failure.http_status}",
                    transient=failure.transient,
                    code=failure.code,
                    http_status=failure.http_status,
                )
                if failure.ambiguous:
                    error.ambiguous = True  # type: ignore[attr-defined]
                raise error
            sid = self._accept(message, "queued")
            return SendResult(provider_id=sid, status="queued")

    def lookup(self, message: Outgoing, since: datetime) -> LookupResult | None:
        with self._lock:
            self.lookups.append((message, since))
            for held, result in reversed(list(self.provider.values())):
                if (held.channel, held.to, held.body) == (
                    message.channel,
                    message.to,
                    message.body,
                ):
                    return result
            return None

    # -- reading ---------------------------------------------------------------------------
    def texts_to(self, number: str) -> list[str]:
        return [m.body for m in self.sent if m.channel == "sms" and m.to == number]

    def calls_to(self, number: str) -> list[Outgoing]:
        return [m for m in self.sent if m.channel == "voice" and m.to == number]

    def emails_to(self, address: str) -> list[Outgoing]:
        return [m for m in self.sent if m.channel == "email" and m.to == address]

    def sid_of(self, message_id: int) -> str | None:
        for sid, (held, _result) in self.provider.items():
            if held.id == message_id:
                return sid
        return None

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self.attempts.clear()
            self.lookups.clear()

    # -- internals -------------------------------------------------------------------------
    def _next_failure(self, message: Outgoing) -> _Failure | None:
        queue = self._failures.get(message.to, [])
        for failure in queue:
            if failure.channel is not None and failure.channel != message.channel:
                continue
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    queue.remove(failure)
            return failure
        return None

    def _accept(self, message: Outgoing, status: str) -> str:
        prefix = {"sms": "SM", "voice": "CA"}.get(message.channel, "EM")
        sid = f"{prefix}{next(self._ids):032x}"
        self.provider[sid] = (message, LookupResult(sid, status))
        self.sent.append(message)
        return sid


# -- a small world for behaviour tests ------------------------------------------------------
ALICE, BOB, CAROL, DANA = "+15550100101", "+15550100102", "+15550100103", "+15550100104"
WILE = "+15551230001"  # Acme's first contact (the customer who calls)


class PagingWorld:
    """The service with its engine and sender, driven by a fake clock: open cases, let time
    pass, read the phones, reply by SMS. Nothing runs in the background; :meth:`settle` runs
    engine ticks and sender passes until nothing more is due."""

    def __init__(self, runtime, clock, fake: FakeTransport, *, seed: int = 7) -> None:
        import random

        from oncall.delivery.worker import OutboxSender

        self.runtime = runtime
        self.clock = clock
        self.fake = fake
        self.sender = OutboxSender(runtime, rng=random.Random(seed))
        self._sids = itertools.count(1)

    # -- intake ----------------------------------------------------------------------------
    def open_case(
        self,
        customer: str = "acme",
        *,
        severity: int = 1,
        summary: str = "Checkout is down for all users",
        channel: str = "voice",
        intake_key: str | None = None,
        team: str | None = None,
    ) -> int:
        from oncall.cases.opening import NewCase, open_case
        from oncall.db.session import transaction

        known = self.runtime.directory().customers[customer]
        contact = known.contacts[0]
        new = NewCase(
            customer_key=known.key,
            customer_name=known.name,
            plan=known.plan.key,
            team=team or known.team,
            channel=channel,
            severity=severity,
            summary=summary,
            contact_name=contact.name,
            contact_phone=contact.phone if channel == "voice" else None,
            contact_email=contact.email if channel == "email" else None,
            intake_key=intake_key,
        )
        with transaction(self.runtime.sessions) as session:
            number = open_case(session, self.runtime, new, self.clock.now()).number
        self.runtime.wake_sender()
        return number

    # -- time ------------------------------------------------------------------------------
    def settle(self, rounds: int = 50) -> None:
        from oncall.bootstrap.background import clock_pass

        for _ in range(rounds):
            ticked, reconciled = clock_pass(self.runtime)
            sent = self.sender.run_once()
            if ticked.claimed == 0 and sent == 0 and reconciled == 0:
                return
        raise AssertionError("the engine never settled")

    def advance(self, **delta: float) -> None:
        """Let time pass, stopping at every due time on the way (deadlines, retries), so each
        thing happens at its own time, as with an engine ticking every second."""
        from datetime import timedelta

        from sqlalchemy import func, select

        from oncall.db.models import Deadline, OutboundMessage

        target = self.clock.now() + timedelta(**delta)
        self.settle()
        while True:
            with self.runtime.sessions() as session:
                due = [
                    session.scalar(
                        select(func.min(Deadline.due_at)).where(Deadline.state == "pending")
                    ),
                    session.scalar(
                        select(func.min(OutboundMessage.next_attempt_at)).where(
                            OutboundMessage.state == "pending"
                        )
                    ),
                ]
            upcoming = [d for d in due if d is not None and d > self.clock.now()]
            if not upcoming or min(upcoming) > target:
                self.clock.set(target)
                self.settle()
                return
            self.clock.set(min(upcoming))
            self.settle()

    # -- phones ----------------------------------------------------------------------------
    def texts(self, number: str) -> list[str]:
        return self.fake.texts_to(number)

    def last_text(self, number: str) -> str:
        texts = self.texts(number)
        assert texts, f"no SMS to {number}"
        return texts[-1]

    def customer_text(self, number: str) -> str:
        """The last SMS to a customer's ``number`` without the case page's link, which every
        customer message ends with (asserted here, so the tests reading this prove it)."""
        text, _, link = self.last_text(number).rpartition("\nCase page: ")
        assert text and link.startswith(self.runtime.settings.public_url + "/c/"), link
        return text

    def sms(self, number: str, body: str, sid: str | None = None) -> str | None:
        from oncall.services.sms_conversation import handle_sms

        reply = handle_sms(
            self.runtime,
            from_number=number,
            body=body,
            message_sid=sid or f"SM{next(self._sids):032x}",
            now=self.clock.now(),
        )
        self.settle()
        return reply

    # -- the database ----------------------------------------------------------------------
    def case(self, number: int):
        from oncall.cases.lookup import case_by_number

        with self.runtime.sessions() as session:
            return case_by_number(session, number)

    def events(self, number: int) -> list[tuple[str, str]]:
        from sqlalchemy import select

        from oncall.cases.lookup import case_by_number
        from oncall.db.models import CaseEvent

        with self.runtime.sessions() as session:
            case = case_by_number(session, number)
            return [
                (e.kind, e.text)
                for e in session.scalars(
                    select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
                )
            ]

    def kinds(self, number: int) -> list[str]:
        return [kind for kind, _text in self.events(number)]

    def outbox(self, **filters):
        from sqlalchemy import select

        from oncall.db.models import OutboundMessage

        with self.runtime.sessions() as session:
            query = select(OutboundMessage).order_by(OutboundMessage.id)
            for name, value in filters.items():
                query = query.where(getattr(OutboundMessage, name) == value)
            return list(session.scalars(query))
