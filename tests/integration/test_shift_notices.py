"""Shift notices: an SMS when a member's shift on a level starts, a reminder before it, both as
durable team deadline rows; a TAKE changes who is told; several engines tell them once.

Tuesday 03:00 in Toronto (rotations/support.yaml): Alice is primary until the file's override
puts Carol on at 18:00 until Wednesday 09:00; Bob is secondary all week.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import Deadline
from oncall.db.session import make_engine
from oncall.engine.shift_notices import arm_shift_notices
from oncall.engine.tick import tick
from tests.fakes.transports import ALICE, BOB, CAROL, FakeTransport, PagingWorld

CAROL_NOW = "You are now primary for support until Wed 25 Nov 09:00 EST. Reply WHO for the team."


def make_world(make_settings, db_url, clock, db_engine, **config) -> PagingWorld:
    settings = make_settings(db_url, **config)
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def notices(world: PagingWorld, phone: str) -> list[str]:
    return [t for t in world.texts(phone) if t.startswith(("You are now", "Reminder: you are"))]


def at(world: PagingWorld) -> str:
    return world.clock.now().astimezone(world.runtime.settings.zone).strftime("%a %H:%M")


def test_a_reminder_before_the_shift_and_a_notice_when_it_starts(
    make_settings, db_url, clock, db_engine
):
    world = make_world(make_settings, db_url, clock, db_engine, notify={"shift_reminder": "1h"})
    world.advance(hours=13, minutes=59)  # 16:59
    assert notices(world, CAROL) == []
    world.advance(minutes=1)  # 17:00
    assert notices(world, CAROL) == [
        "Reminder: you are primary for support from Tue 24 Nov 18:00 EST until Wed 25 Nov 09:00 "
        "EST. Reply WHO for the team."
    ]
    world.advance(minutes=59)
    assert len(notices(world, CAROL)) == 1
    world.advance(minutes=1)  # 18:00, the handoff
    assert notices(world, CAROL)[-1] == CAROL_NOW
    assert notices(world, BOB) == []  # secondary does not change hands tonight
    # The rows are the team's timers: no case, the team, a unique key.
    with world.runtime.sessions() as session:
        rows = session.scalars(select(Deadline).where(Deadline.team == "support")).all()
    assert {r.case_id for r in rows} == {None}
    done = {(r.kind, r.data["member"]) for r in rows if r.state == "done"}
    assert done >= {("shift_reminder", "carol"), ("shift_start", "carol")}
    assert len({r.key for r in rows}) == len(rows)


def test_a_take_after_the_notice_was_armed_changes_who_is_told(
    make_settings, db_url, clock, db_engine
):
    world = make_world(make_settings, db_url, clock, db_engine)
    world.advance(hours=14, minutes=30)  # 17:30: Carol's 18:00 notice is armed
    with world.runtime.sessions() as session:
        armed = session.scalars(
            select(Deadline.data).where(Deadline.kind == "shift_start", Deadline.state == "pending")
        ).all()
    assert {"level": "primary", "member": "carol", "start": "2026-11-24T23:00:00+00:00"} in armed
    assert world.sms(BOB, "TAKE primary until 20:00") == (
        "You are primary for support until Tue 24 Nov 20:00 EST. Alice Ng and Carol Li were told."
    )
    assert world.last_text(CAROL) == (
        "Bob Roy takes primary for support from Tue 24 Nov 18:00 EST until Tue 24 Nov 20:00 EST: "
        "you are not paged as primary until then. Reply WHO for the team."
    )
    world.advance(minutes=30)  # 18:00: Carol is not coming on now: she is not told
    assert notices(world, CAROL) == []
    world.advance(hours=2)  # 20:00: Bob's TAKE ends and Carol comes on: now she is told
    assert at(world) == "Tue 20:00"
    assert notices(world, CAROL) == [CAROL_NOW]


def test_no_notices_when_they_are_switched_off(make_settings, db_url, clock, db_engine):
    world = make_world(make_settings, db_url, clock, db_engine, notify={"shift_start": False})
    world.advance(hours=16)  # past 18:00
    assert notices(world, CAROL) == []
    with world.runtime.sessions() as session:
        assert session.scalars(select(Deadline).where(Deadline.team.is_not(None))).all() == []


def test_arming_twice_arms_once(make_settings, db_url, clock, db_engine):
    world = make_world(make_settings, db_url, clock, db_engine, notify={"shift_reminder": "30m"})
    first = arm_shift_notices(world.runtime, clock.now())
    assert first == 4  # primary and secondary: the next handoff of each, notice and reminder
    assert arm_shift_notices(world.runtime, clock.now()) == 0


def test_two_engines_tell_each_member_once(make_settings, pg_url, clock):
    """POSTGRESQL: two engines arm and apply the same notices at the same moment."""
    settings = make_settings(pg_url, notify={"shift_reminder": "1h"})
    fake = FakeTransport()
    transports = {"sms": fake, "voice": fake, "email": fake}
    engines = [make_engine(pg_url), make_engine(pg_url)]
    runtimes = [build_runtime(settings, clock=clock, transports=transports, db=e) for e in engines]
    for runtime, name in zip(runtimes, ("engine-a", "engine-b"), strict=True):
        runtime.instance = name
    try:
        world = PagingWorld(runtimes[0], clock, fake)
        clock.set(datetime(2026, 11, 24, 22, 59, 59, tzinfo=UTC))  # a second before 18:00 EST
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def engine(runtime) -> None:
            try:
                start.wait()
                for _ in range(5):
                    tick(runtime)
                clock_done.wait()
                for _ in range(5):
                    tick(runtime)
            except BaseException as exc:  # reported below
                errors.append(exc)

        clock_done = threading.Event()
        threads = [threading.Thread(target=engine, args=(r,)) for r in runtimes]
        for thread in threads:
            thread.start()
        clock.set(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))  # 18:00: due for both engines
        clock_done.set()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        world.settle()
        sent = Counter((m.to, m.body) for m in fake.sent)
        assert sent[(CAROL, CAROL_NOW)] == 1
        assert {n for n in sent.values()} == {1}
        assert [b for (to, b) in sent if to == ALICE] == []
    finally:
        for runtime in runtimes:
            runtime.close()
