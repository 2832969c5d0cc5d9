"""The engine applies due deadlines in batches (one transaction, savepoints inside): a deadline
that raises must cost only itself, and a case's deadlines must still come in due order.

Same world as ``test_engine.py``: Alice primary, Bob secondary after 5 minutes, Dana after 10.
"""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import CaseEvent, Deadline, OutboundMessage
from oncall.domain.enums import DeadlineKind
from oncall.engine import crash_points
from oncall.engine import tick as tick_module
from oncall.engine.tick import tick
from tests.fakes.transports import ALICE, BOB, FakeTransport, PagingWorld


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def test_one_deadline_that_raises_leaves_the_rest_of_its_batch_applied(world):
    cases = [world.open_case(summary=f"outage {i}") for i in range(5)]
    broken = cases[2]

    def crash(deadline, case):
        if case.number == broken and deadline.kind == DeadlineKind.ESCALATE:
            raise RuntimeError("killed mid-transaction")

    with crash_points.armed(crash_points.AFTER_DEADLINE_APPLIED, crash):
        result = tick(world.runtime)
    assert result.failed == 1 and result.applied == 4 and result.claimed == 5
    world.sender.run_once()
    # Alice's four pages left as one bundled SMS; the broken case is not in it.
    (bundle,) = world.texts(ALICE)
    assert bundle.startswith("4 new critical cases") and str(broken) not in bundle
    assert world.kinds(broken).count("paged") == 0  # its events were rolled back with it
    world.settle()  # the next tick retries it, once
    assert str(broken) in world.texts(ALICE)[-1] and len(world.texts(ALICE)) == 2
    assert all(world.kinds(number).count("paged") == 1 for number in cases)


def test_a_case_whose_engine_was_down_gets_its_steps_in_due_order_within_a_batch(world):
    case = world.open_case()
    world.clock.advance(minutes=11)  # the first three steps and the triage reminder are due
    world.settle()
    # The reminder (due 03:10) went to everyone paged by then: Alice and Bob (paged 03:05),
    # as it would have had the engine been up.
    assert any(t.startswith("Reminder") for t in world.texts(ALICE))
    assert any(t.startswith("Reminder") for t in world.texts(BOB))
    assert world.kinds(case).count("paged") == 3


def test_a_step_another_engine_armed_after_the_claim_read_still_comes_first(world, monkeypatch):
    """Two engines: the claim query reads the deadlines as they were when it started, so a
    step another engine armed (already due) and committed meanwhile is not in it, while the
    case's later triage reminder is. The reminder must wait for that step (Bob's page), as it
    would with one engine; it used to go out first, to Alice only."""
    claim = tick_module._claim_batch
    hidden: set[int] = set()

    def claim_with_an_older_view(session, now, limit, skip):
        claimed = claim(session, now, limit, skip)
        late = {d.id for d, _c in claimed if d.kind == DeadlineKind.ESCALATE and d.seq == 1}
        late -= hidden
        hidden.update(late)
        return [(d, c) for d, c in claimed if d.id not in late]

    monkeypatch.setattr(tick_module, "_claim_batch", claim_with_an_older_view)
    world.open_case()
    world.clock.advance(minutes=11)
    world.settle()
    assert hidden  # the step was hidden from one claim
    assert any(t.startswith("Reminder") for t in world.texts(ALICE))
    assert any(t.startswith("Reminder") for t in world.texts(BOB))


# -- the batch's outbox rows (written together on PostgreSQL, one at a time on SQLite) ------
def test_every_page_of_a_batch_is_named_in_its_case_timeline(world):
    cases = [world.open_case(summary=f"outage {i}") for i in range(30)]  # two savepoint groups
    tick(world.runtime)
    rows = {row.id: row for row in world.outbox(purpose="page")}
    for number in cases:
        case = world.case(number)
        with world.runtime.sessions() as session:
            paged = session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "paged")
            ).all()
        (event,) = paged
        row = rows[event.data["outbox_id"]]
        assert (row.case_id, row.recipient) == (case.id, "alice")


def test_a_deadline_applied_again_does_not_queue_its_page_twice(world):
    number = world.open_case()
    tick(world.runtime)
    # As if the step had not been marked done (an engine that died after sending): pending again.
    with world.runtime.sessions() as session, session.begin():
        session.execute(
            update(Deadline)
            .where(Deadline.kind == DeadlineKind.ESCALATE, Deadline.seq == 0)
            .values(state="pending")
        )
    tick(world.runtime)
    assert len(world.outbox(purpose="page")) == 1
    assert world.kinds(number).count("paged") == 1


def test_a_page_another_transaction_queued_meanwhile_is_not_queued_twice(
    make_settings, pg_url, clock
):
    """The batch read its cases' dedupe keys when it started; another transaction then queues
    a row under one of the keys the batch is about to use. (Not one about the same case: that
    transaction would wait for the case the engine holds, as the lock order says; so the row
    here has no case.) The batch's INSERT meets the unique key: that group is applied again a
    deadline at a time, ON CONFLICT, and nothing is lost or doubled."""
    fake = FakeTransport()
    runtime = build_runtime(
        make_settings(pg_url), clock=clock, transports={"sms": fake, "voice": fake, "email": fake}
    )
    world = PagingWorld(runtime, clock, fake)
    cases = [world.open_case(summary=f"outage {i}") for i in range(5)]
    ids = [world.case(number).id for number in cases]
    raced: list[str] = []

    def queue_elsewhere(deadline, case):
        """After the batch's first page: queue the last case's page in another transaction."""
        if raced or case.id != ids[0]:
            return
        session = Session.object_session(case)
        first = session.scalars(
            select(OutboundMessage).where(OutboundMessage.case_id == case.id)
        ).one()
        raced.append(first.dedupe_key.replace(f"page:{ids[0]}:", f"page:{ids[-1]}:"))
        with runtime.db.begin() as connection:  # another transaction, committed now
            connection.execute(
                insert(OutboundMessage).values(
                    case_id=None, channel=first.channel, purpose=first.purpose,
                    recipient=first.recipient, to_address=first.to_address, body="raced",
                    headers={}, state="pending", attempts=0, status_sequence=0,
                    next_attempt_at=clock.now(), created_at=clock.now(), dedupe_key=raced[0],
                )
            )  # fmt: skip

    try:
        with crash_points.armed(crash_points.AFTER_DEADLINE_APPLIED, queue_elsewhere):
            result = tick(runtime)
        assert result.failed == 0 and result.claimed == 5
        pages = world.outbox(purpose="page")
        assert len(pages) == 5 and len({p.dedupe_key for p in pages}) == 5
        assert [p.case_id for p in pages].count(None) == 1
        assert [p.body for p in pages if p.dedupe_key == raced[0]] == ["raced"]
        # The four others were paged by the engine and say so; the raced one was queued by
        # the other transaction, which tells its own story.
        assert [world.kinds(n).count("paged") for n in cases] == [1, 1, 1, 1, 0]
    finally:
        runtime.close()
