"""The engine applies due deadlines in batches (one transaction, savepoints inside): a deadline
that raises must cost only itself, and a case's deadlines must still come in due order.

Same world as ``test_engine.py``: Alice primary, Bob secondary after 5 minutes, Dana after 10.
"""

from __future__ import annotations

import pytest

from oncall.bootstrap.runtime import build_runtime
from oncall.domain.enums import DeadlineKind
from oncall.engine import crash_points
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
