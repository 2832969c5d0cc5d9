"""POSTGRESQL ONLY: several engines and senders on one database never double a page.

Two runtimes, each with its own connection pool and instance name (as two ``oncall clock``
processes would be), tick the same PostgreSQL database from two threads at once while two
outbox senders drain it. Many cases have several deadlines due at the same moment. Every page
must go out exactly once: none twice (``FOR UPDATE SKIP LOCKED`` on deadlines, cases and
outbox rows) and none missed. Uses the ``pg_url`` fixture: skipped without a PostgreSQL server,
a failure under ``CI=true``.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import Deadline, OutboundMessage
from oncall.db.session import make_engine
from oncall.delivery.worker import OutboxSender
from oncall.engine.tick import tick
from tests.fakes.transports import ALICE, BOB, DANA, FakeTransport, PagingWorld

CASES = 40


def test_two_engines_and_two_senders_page_everyone_exactly_once(make_settings, pg_url, clock):
    # Bundling off: this test counts one SMS per page.
    settings = make_settings(pg_url, engine={"sms_rate_window": "0s", "batch_size": 25})
    fake = FakeTransport()
    transports = {"sms": fake, "voice": fake, "email": fake}
    engines = [make_engine(pg_url), make_engine(pg_url)]
    runtimes = [build_runtime(settings, clock=clock, transports=transports, db=e) for e in engines]
    for runtime, name in zip(runtimes, ("engine-a", "engine-b"), strict=True):
        runtime.instance = name
    try:
        world = PagingWorld(runtimes[0], clock, fake)
        for index in range(CASES):
            world.open_case(("acme", "globex", "initech")[index % 3], summary=f"outage {index}")
        # Nobody ran for 11 minutes: steps 1-3 and the triage reminder are all overdue.
        clock.advance(minutes=11)

        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def engine(runtime) -> None:
            try:
                start.wait()
                idle = 0
                while idle < 3:
                    idle = idle + 1 if tick(runtime).claimed == 0 else 0
            except BaseException as exc:  # reported below
                errors.append(exc)

        def sender(runtime) -> None:
            try:
                outbox = OutboxSender(runtime)
                start.wait()
                idle = 0
                while idle < 20:
                    idle = idle + 1 if outbox.run_once() == 0 else 0
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=engine, args=(r,)) for r in runtimes]
        threads += [threading.Thread(target=sender, args=(r,)) for r in runtimes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)
        world.settle()  # anything the racing threads left (nothing, normally)

        sent = Counter((m.to, m.body) for m in fake.sent if m.channel == "sms")
        doubled = {key: n for key, n in sent.items() if n > 1}
        assert doubled == {}, f"pages sent twice: {doubled}"
        for number in (ALICE, BOB, DANA):
            pages = [b for (to, b), _n in sent.items() if to == number and b.startswith("[S1]")]
            assert len(pages) == CASES, (number, len(pages))
        reminders = [b for (to, b) in sent if to in (ALICE, BOB) and b.startswith("Reminder")]
        assert len(reminders) == 2 * CASES

        with runtimes[0].sessions() as session:
            rows = session.scalars(select(OutboundMessage)).all()
            assert Counter(r.state for r in rows) == {"sent": len(rows)}
            assert all(r.attempts == 1 for r in rows)
            done = session.scalars(
                select(Deadline).where(Deadline.state == "done", Deadline.kind == "escalate")
            ).all()
            assert len(done) == 3 * CASES
            assert {d.done_by for d in done} <= {"engine-a", "engine-b"}
            pending = session.scalars(
                select(Deadline).where(Deadline.state == "pending", Deadline.kind == "escalate")
            ).all()
            assert len(pending) == CASES  # one next step (round 2) armed per case, no more
            assert all(d.seq == 3 for d in pending)
            assert all(d.due_at - clock.now() == timedelta(minutes=4) for d in pending)
    finally:
        for runtime in runtimes:
            runtime.close()
