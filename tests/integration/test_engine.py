"""The paging engine, as the people involved live it.

Tuesday 03:00 in Toronto. Acme's production is down; Wile calls the critical line and case 1001
opens. The support team's rota (rotations/support.yaml): Alice is primary, Bob secondary, Dana
the manager; the policy pages primary at once, secondary after 5 minutes, Dana after 10, and
runs once more (repeat: 1). Triage is due at 03:15, the first status at 04:00 (S1 updates
every 4 hours after that). Time only moves when a test moves it.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.cases.errors import CaseError
from oncall.cases.lookup import case_by_number
from oncall.cases.members import member_of
from oncall.db.models import Deadline, MisuseFlag
from oncall.db.session import make_engine, transaction
from oncall.domain.enums import DeadlineKind
from oncall.domain.rota.model import Member
from oncall.engine import crash_points
from oncall.engine.escalation import run_escalation
from oncall.engine.tick import tick
from oncall.services.misuse import review_refused_attempts, waive_misuse
from tests.conftest import ROOT
from tests.fakes.transports import ALICE, BOB, CAROL, DANA, WILE, FakeTransport, PagingWorld

PAGE_1001 = "[S1] Case 1001 Acme Corp: Checkout is down for all users. Reply ACK 1001"


def make_world(settings, clock, db_engine, fake=None) -> PagingWorld:
    fake = fake or FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    return make_world(settings, clock, db_engine)


def pages(world: PagingWorld, number: str) -> list[str]:
    return [t for t in world.texts(number) if t.startswith("[S")]


# -- escalation ------------------------------------------------------------------------------
def test_nobody_answers_each_step_then_the_repeat_then_the_manager(world):
    case = world.open_case()
    world.settle()
    assert world.texts(ALICE) == [PAGE_1001]  # at once, nobody else yet
    assert world.texts(BOB) == [] and world.texts(DANA) == []

    world.advance(minutes=5)  # 03:05
    assert world.texts(BOB) == [PAGE_1001]
    world.advance(minutes=5)  # 03:10: Dana, and a reminder to the two already paged
    assert world.texts(DANA) == [PAGE_1001]
    assert world.last_text(ALICE) == (
        "Reminder: case 1001 (Acme Corp, S1) is not acknowledged. Triage due 03:15 EST. "
        "Reply ACK 1001"
    )
    assert world.last_text(BOB).startswith("Reminder: case 1001")

    world.advance(minutes=5)  # 03:15: the triage target lapses; round 2 starts with Alice
    assert world.texts(DANA)[-1] == (
        "SLA breach: case 1001 (Acme Corp, S1) not acknowledged by 03:15 EST. Reply ACK 1001"
    )
    assert world.texts(ALICE)[-1] == PAGE_1001
    world.advance(minutes=5)  # 03:20
    assert pages(world, BOB) == [PAGE_1001, PAGE_1001]
    world.advance(minutes=5)  # 03:25
    assert world.texts(DANA)[-1] == PAGE_1001
    world.advance(minutes=5)  # 03:30: the policy ran out: the manager once more, as such
    assert world.texts(DANA)[-1] == "No ACK after escalation. " + PAGE_1001

    world.advance(minutes=20)  # nothing more from the escalation
    assert len(pages(world, ALICE)) == 2 and len(pages(world, BOB)) == 2
    assert len(world.texts(DANA)) == 4  # step 3 twice, the breach, exhausted ... and no more
    assert world.texts(CAROL) == []

    kinds = world.kinds(case)
    assert kinds.count("paged") == 8  # 6 steps + breach + exhausted
    assert kinds.count("breach") == 1 and kinds.count("exhausted") == 1
    assert world.case(case).state == "open"


def test_ack_stops_the_escalation_for_everyone_and_tells_them(world):
    case = world.open_case()
    world.advance(minutes=6)  # Alice and Bob have been paged
    reply = world.sms(ALICE, "ACK 1001")
    assert reply == "Acknowledged 1001 (Acme Corp, S1). Status due to the customer by 04:00 EST."
    assert world.last_text(BOB) == "1001 acknowledged by Alice Ng"
    assert world.customer_text(WILE) == (
        "An engineer is working on your case 1001. You will get a status update with an "
        "estimated time to resolution by 04:00 EST."
    )

    world.advance(minutes=30)
    assert world.texts(DANA) == []  # never woken
    assert pages(world, ALICE) == [PAGE_1001] and pages(world, BOB) == [PAGE_1001]
    assert "breach" not in world.kinds(case)
    stored = world.case(case)
    assert stored.state == "acknowledged" and stored.acknowledged_by == "alice"

    # A second ACK is harmless, and tells Bob who has it.
    assert world.sms(ALICE, "ack") == "You already acknowledged 1001. Status due by 04:00 EST."
    assert world.sms(BOB, "ACK 1001") == "1001 was already acknowledged by Alice Ng at 03:06 EST."
    assert world.kinds(case).count("acknowledged") == 1


def test_status_reaches_the_customer_verbatim_with_the_eta_and_meets_the_target(world):
    case = world.open_case()
    world.advance(minutes=2)
    world.sms(ALICE, "ACK")
    world.advance(minutes=18)  # 03:20
    reply = world.sms(ALICE, "STATUS 1001 Database failed over, replaying orders. ETA 45m")
    assert (
        reply == "Status sent to Acme Corp for 1001. ETA 04:05 EST. Next update due by 07:20 EST."
    )
    assert world.customer_text(WILE) == (
        "Update on case 1001 from Alice Ng:\nDatabase failed over, replaying orders. ETA 45m\n"
        "Estimated time to resolution: 04:05 EST."
    )
    world.advance(minutes=60)  # past 04:00: the first status target was met
    assert "breach" not in world.kinds(case)
    assert [t for t in world.texts(ALICE) if "status to the customer due" in t] == []
    stored = world.case(case)
    assert stored.first_status_at is not None and stored.eta_text == "ETA 45m"
    assert "target_met" in world.kinds(case)


def test_a_status_implies_the_acknowledgement(world):
    case = world.open_case()
    world.advance(minutes=3)
    reply = world.sms(ALICE, "STATUS 1001 looking at it, ETA 1h")
    assert reply.startswith("Status sent to Acme Corp for 1001. ETA 04:03 EST.")
    stored = world.case(case)
    assert stored.state == "acknowledged" and stored.acknowledged_by == "alice"
    world.advance(minutes=20)
    assert world.texts(BOB) == [] and world.texts(DANA) == []


def test_a_status_without_an_eta_is_sent_but_does_not_meet_the_target(world):
    case = world.open_case()
    world.sms(ALICE, "ACK 1001")
    reply = world.sms(ALICE, "STATUS 1001 investigating")
    assert reply == (
        "Sent to Acme Corp, but with no ETA the status target is still open: "
        "STATUS 1001 <text> ETA 2h"
    )
    assert world.customer_text(WILE) == "Update on case 1001 from Alice Ng:\ninvestigating"
    world.advance(minutes=61)
    assert "breach" in world.kinds(case)


def test_reminder_then_breach_when_no_status_comes(world):
    case = world.open_case()
    world.advance(minutes=1)
    world.sms(ALICE, "ACK 1001")
    world.advance(minutes=53)  # 03:54
    assert not any("status to the customer due" in t for t in world.texts(ALICE))
    world.advance(minutes=1)  # 03:55: five minutes before the target
    assert world.last_text(ALICE) == (
        "Case 1001 (Acme Corp): status to the customer due by 04:00 EST. "
        "Reply STATUS 1001 <text> ETA <time>"
    )
    assert world.texts(BOB) == []  # acknowledged before Bob's turn: he never hears of it
    world.advance(minutes=5)  # 04:00
    assert world.last_text(DANA) == (
        "SLA breach: case 1001 (Acme Corp, S1): no status to the customer by 04:00 EST. "
        "Engineer: Alice Ng"
    )
    breaches = [text for kind, text in world.events(case) if kind == "breach"]
    assert breaches == [
        "Status target missed: no first status with an ETA to the customer by 04:00 EST; "
        "manager paged"
    ]
    # The clock keeps running: still no status four hours later pages the manager again.
    world.advance(hours=4)
    assert world.last_text(DANA).startswith("SLA breach: case 1001 (Acme Corp, S1): no status")
    assert world.kinds(case).count("breach") == 2


def test_the_update_cadence_after_the_first_status(world):
    case = world.open_case()
    world.sms(ALICE, "ACK 1001")
    world.advance(minutes=30)  # 03:30
    world.sms(ALICE, "STATUS 1001 restoring from backup ETA 06:00")
    world.advance(hours=3, minutes=54)  # 07:24: the S1 cadence is 4h, the reminder 5m before
    assert not any("due by 07:30 EST" in t for t in world.texts(ALICE))
    world.advance(minutes=1)  # 07:25
    assert world.last_text(ALICE).startswith(
        "Case 1001 (Acme Corp): status to the customer due by 07:30 EST"
    )
    reply = world.sms(ALICE, "STATUS 1001 restore at 80%, ETA 08:30")
    assert reply.endswith("ETA 08:30 EST. Next update due by 11:25 EST.")
    world.advance(minutes=10)
    assert "breach" not in world.kinds(case)
    with world.runtime.sessions() as session:
        due = session.scalars(
            select(Deadline.seq).where(Deadline.kind == "status_due", Deadline.state == "pending")
        ).all()
    assert due == [2]


def test_resolve_closes_the_case_and_tells_the_customer(world):
    case = world.open_case()
    world.sms(ALICE, "ACK 1001")
    world.sms(ALICE, "STATUS 1001 failover done ETA 15m")
    reply = world.sms(ALICE, "RESOLVE 1001 failover complete, orders flowing")
    assert reply == "Resolved 1001 (Acme Corp, S1). The customer has been told."
    assert world.customer_text(WILE) == (
        "Your case 1001 has been resolved.\nfailover complete, orders flowing\n"
        "Not solved? Text REOPEN 1001 to this number by Tue 01 Dec 2026 03:00 EST."
    )
    stored = world.case(case)
    assert (
        stored.state == "resolved" and stored.resolution_note == "failover complete, orders flowing"
    )
    world.advance(hours=5)
    assert "breach" not in world.kinds(case) and "reminder" not in world.kinds(case)
    assert world.sms(ALICE, "RESOLVE 1001") == "Case 1001 is already resolved."
    assert world.sms(ALICE, "ACK 1001") == "Case 1001 is already resolved."


def test_resolve_without_ack_stops_everyone(world):
    case = world.open_case()
    world.advance(minutes=6)
    world.sms(BOB, "RESOLVE 1001 false alarm, customer confirmed")
    assert world.last_text(ALICE) == "1001 resolved by Bob Roy"
    world.advance(minutes=30)
    assert world.texts(DANA) == []
    assert world.case(case).acknowledged_by == "bob"


def test_sev_3_downgrades_flags_misuse_and_a_manager_waives_it(world, runner):
    case = world.open_case(severity=1, summary="Report export is slow")
    world.advance(minutes=6)
    reply = world.sms(ALICE, "SEV 1001 3")
    assert reply == (
        "1001 downgraded to S3: off the critical line, forwarded to the support queue, flagged "
        "for the misuse fee (250 USD)."
    )
    assert world.last_text(BOB) == "1001 downgraded to S3 by Alice Ng; no action needed."
    assert "critical line is for Severity 1 and 2" in world.last_text(WILE)
    forwarded = world.fake.emails_to("support-queue@vendor.example")
    assert len(forwarded) == 1 and forwarded[0].subject.startswith("[Case 1001] Forwarded")
    stored = world.case(case)
    assert stored.state == "downgraded" and stored.severity == 3 and stored.severity_claimed == 1
    world.advance(minutes=60)
    assert world.texts(DANA) == []  # escalation and targets stopped

    with world.runtime.sessions() as session:
        flag = session.scalar(select(MisuseFlag))
        assert (flag.kind, flag.fee, flag.currency, flag.month) == ("fee", 250.0, "USD", "2026-11")
        assert flag.flagged_by == "Alice Ng"
    assert "misuse_flagged" in world.kinds(case)
    # Saying it twice changes nothing.
    assert world.sms(ALICE, "SEV 1001 3").startswith("Case 1001 was downgraded to S3")

    with (
        pytest.raises(CaseError, match="reason is required"),
        transaction(world.runtime.sessions) as session,
    ):
        waive_misuse(session, world.runtime, 1001, "Dana Ortiz", "  ", world.clock.now())
    with transaction(world.runtime.sessions) as session:
        flag = waive_misuse(
            session, world.runtime, 1001, "Dana Ortiz", "first time; new contact", world.clock.now()
        )
        assert flag.waived_by == "Dana Ortiz"
    assert world.events(case)[-1] == (
        "misuse_waived",
        "Misuse fee (250 USD) waived by Dana Ortiz: first time; new contact",
    )


def test_the_misuse_waiver_from_the_command_line(world, runner, settings):
    from oncall.cli.main import main

    world.open_case()
    world.sms(ALICE, "SEV 4")
    result = runner.invoke(
        main,
        [
            "--config",
            settings.source,
            "misuse",
            "waive",
            "1001",
            "--reason",
            "goodwill",
            "--by",
            "Dana Ortiz",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Case 1001: misuse fee 250 USD waived by Dana Ortiz: goodwill"
    result = runner.invoke(
        main, ["--config", settings.source, "misuse", "waive", "1999", "--reason", "x"]
    )
    assert result.exit_code == 1 and "No case 1999" in result.output


def test_the_fee_per_plan_comes_from_config(make_settings, db_url, clock, db_engine):
    settings = make_settings(db_url, penalties={"per_plan": {"premium": 100}, "currency": "CAD"})
    world = make_world(settings, clock, db_engine)
    world.open_case()
    assert world.sms(ALICE, "SEV 1001 4").endswith("(100 CAD).")


def test_sev_2_changes_the_severity_and_keeps_paging(world):
    case = world.open_case()
    assert world.sms(ALICE, "SEV 1001 2") == "1001 is now S2. Not acknowledged yet: reply ACK 1001."
    world.advance(minutes=5)
    assert world.last_text(BOB).startswith("[S2] Case 1001")
    assert world.case(case).severity == 2


def test_refused_attempts_raise_one_review_flag_a_month(world):
    from oncall.cases.attempts import record_attempt

    runtime = world.runtime
    for attempt in range(4):
        with transaction(runtime.sessions) as session:
            record_attempt(
                session,
                world.clock.now(),
                channel="voice",
                reason="not_critical",
                contact=WILE,
                told="regular line",
                customer_key="acme",
            )
            flag = review_refused_attempts(session, runtime, "acme", world.clock.now())
            assert (flag is None) == (attempt < 2)
    with runtime.sessions() as session:
        flags = session.scalars(select(MisuseFlag)).all()
    assert [(f.kind, f.fee, f.review_key) for f in flags] == [
        ("review", 0.0, "review:acme:2026-11")
    ]


# -- durability ------------------------------------------------------------------------------
def test_a_restart_mid_escalation_continues_and_nothing_happens_twice(
    settings, clock, db_engine, db_url
):
    fake = FakeTransport()
    first = make_world(settings, clock, db_engine, fake)
    case = first.open_case()
    first.advance(minutes=6)  # Alice and Bob paged
    first.runtime.close()  # the process dies

    # A new process: a new Runtime and a new database engine on the same database.
    engine = make_engine(db_url)
    try:
        second = make_world(settings, clock, engine, fake)
        second.advance(minutes=5)
        assert pages(second, ALICE) == [PAGE_1001]
        assert pages(second, BOB) == [PAGE_1001]
        assert pages(second, DANA) == [PAGE_1001]
        assert [k for k in second.kinds(case) if k == "paged"] == ["paged"] * 3
    finally:
        engine.dispose()


def test_what_fell_due_while_the_engine_was_down_happens_once_when_it_returns(world):
    case = world.open_case()
    world.settle()
    world.clock.advance(minutes=12)  # the engine is down: nothing runs for twelve minutes
    world.settle()
    assert pages(world, BOB) == [PAGE_1001] and pages(world, DANA) == [PAGE_1001]
    assert sum("Reminder" in t for t in world.texts(ALICE)) == 1
    world.settle()
    assert world.kinds(case).count("paged") == 3


def test_a_deadline_that_fails_is_rolled_back_and_applied_once_later(world):
    case = world.open_case()

    def crash(deadline, case):
        # The step was applied (its pages enqueued) ... and then the process "dies".
        if deadline.kind == DeadlineKind.ESCALATE:
            raise RuntimeError("killed mid-transaction")

    with crash_points.armed(crash_points.AFTER_DEADLINE_APPLIED, crash):
        result = tick(world.runtime)
    assert result.failed == 1 and result.applied == 0
    world.sender.run_once()
    assert world.texts(ALICE) == []  # rolled back: nothing was sent
    world.settle()
    assert world.texts(ALICE) == [PAGE_1001]
    assert world.kinds(case).count("paged") == 1


def test_a_done_deadline_cannot_be_applied_again(world):
    case = world.open_case()
    world.settle()
    assert tick(world.runtime).claimed == 0  # nothing due: the first step is done
    # Even forcing the same step through the engine again enqueues nothing new.
    with transaction(world.runtime.sessions) as session:
        stored = case_by_number(session, case, for_update=True)
        run_escalation(session, world.runtime, stored, 0, world.clock.now())
    world.settle()
    assert world.texts(ALICE) == [PAGE_1001]
    with world.runtime.sessions() as session:
        done = session.scalars(
            select(Deadline).where(Deadline.kind == "escalate", Deadline.seq == 0)
        ).one()
        assert done.state == "done" and done.done_by == world.runtime.instance


def test_the_tick_writes_a_heartbeat_with_the_lag(world):
    from oncall.db.models import EngineHeartbeat

    world.open_case()
    world.clock.advance(seconds=3)
    result = tick(world.runtime)
    assert result.claimed == 1 and result.lag_seconds == 3.0
    with world.runtime.sessions() as session:
        beat = session.get(EngineHeartbeat, world.runtime.instance)
        assert beat.last_tick_at == world.clock.now() and beat.last_lag_ms == 3000.0


# -- who a member is -------------------------------------------------------------------------
NIGHTS = """
team: nights
timezone: America/Toronto
members:
  nina: {name: Nina Park, phone: "+15550100106"}
rotations:
  primary: {members: [nina], shift: 1w, start: 2026-11-02T09:00}
escalation:
  steps:
    - {after: 0m, notify: [primary]}
manager: nina
"""


def test_a_member_is_who_they_were_when_the_case_opened_for_every_part(
    make_settings, db_url, clock, db_engine, tmp_path
):
    """The snapshot rule (rotations/README.md): the people on a case keep the contact details
    they had when it opened; the live rotas only add people the snapshot does not know. The
    engine, the sender and the phone line all ask :func:`member_of`."""
    from oncall.services.case_people import case_people

    rotations = tmp_path / "rotations"
    rotations.mkdir()
    support = (ROOT / "rotations" / "support.yaml").read_text()
    (rotations / "support.yaml").write_text(support)
    world = make_world(make_settings(db_url, paths={"rotations": str(rotations)}), clock, db_engine)
    case = world.open_case()
    world.settle()

    # After the case opened: Alice's phone changes, Erin joins the team, and a second team's
    # file appears (its manager may be paged as a last resort for a case that had no rota).
    erin = '  erin:  {name: Erin Fox, phone: "+15550100105"}\n'
    edited = support.replace(ALICE, "+15550100199").replace("  dana:", erin + "  dana:")
    (rotations / "support.yaml").write_text(edited)
    (rotations / "nights.yaml").write_text(NIGHTS)
    world.runtime.rotas.reload()
    assert world.runtime.rotas.team("support").members["alice"].phone == "+15550100199"

    runtime = world.runtime
    with runtime.sessions() as session:
        stored = case_by_number(session, case)
        assert member_of(runtime, stored, "alice") == Member(
            "alice", "Alice Ng", ALICE, "alice@example.com"
        )
        assert member_of(runtime, stored, "erin") == Member(  # joined after the opening
            "erin", "Erin Fox", "+15550100105", None
        )
        assert member_of(runtime, stored, "nina") == Member(  # another team's manager
            "nina", "Nina Park", "+15550100106", None
        )
        assert member_of(runtime, stored, "nobody") is None
        assert member_of(runtime, stored, None) is None

    world.sms(ALICE, "ACK 1001")
    with runtime.sessions() as session:  # a caller about the case is put through to ALICE
        stored = case_by_number(session, case)
        (person,) = case_people(session, runtime, stored, clock.now())
        assert person.phone == ALICE
    world.advance(minutes=55)  # 03:55: the status reminder goes to her number as it was
    assert world.last_text(ALICE).startswith("Case 1001 (Acme Corp): status to the customer due")
    assert world.texts("+15550100199") == []


# -- cases nobody can be paged for -----------------------------------------------------------
def test_a_case_without_a_rota_reaches_a_human_and_escalates_once_one_is_loaded(
    make_settings, db_url, clock, db_engine, tmp_path
):
    rotations = tmp_path / "rotations"
    rotations.mkdir()
    shutil.copy(ROOT / "rotations" / "support.yaml", rotations / "support.yaml")
    settings = make_settings(db_url, paths={"rotations": str(rotations)})
    world = make_world(settings, clock, db_engine)

    case = world.open_case(team="nights")  # nobody wrote rotations/nights.yaml
    world.settle()
    assert world.last_text(DANA).startswith("UNROUTABLE case 1001 (Acme Corp, S1): no rota for")
    queue = world.fake.emails_to("support-queue@vendor.example")
    assert len(queue) == 1 and "UNROUTABLE" in queue[0].subject
    assert "unroutable" in world.kinds(case)

    world.advance(minutes=4)
    assert len(world.texts(DANA)) == 1  # told once, not every check

    text = (
        (ROOT / "rotations" / "support.yaml").read_text().replace("team: support", "team: nights")
    )
    (rotations / "nights.yaml").write_text(text)
    world.runtime.rotas.reload()
    world.advance(minutes=1)  # the next check finds the rota and starts from step 1
    assert world.texts(ALICE)[-1] == PAGE_1001
    assert "routed" in world.kinds(case)


def test_every_event_is_on_the_timeline_with_time_and_actor(world):
    case = world.open_case()
    world.advance(minutes=1)
    world.sms(ALICE, "ACK 1001")
    world.sms(ALICE, "STATUS 1001 on it ETA 30m")
    world.sms(ALICE, "RESOLVE 1001 fixed")
    from oncall.db.models import CaseEvent

    with world.runtime.sessions() as session:
        stored = case_by_number(session, case)
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == stored.id)).all()
    kinds = [e.kind for e in events]
    for kind in (
        "opened",
        "paged",
        "sent",
        "acknowledged",
        "customer_notified",
        "status",
        "target_met",
        "resolved",
    ):
        assert kind in kinds, kind
    by_alice = {e.kind for e in events if e.actor == "Alice Ng"}
    assert {"acknowledged", "status", "resolved"} <= by_alice
    assert all(e.at.tzinfo is not None for e in events)
    assert events[-1].at - events[0].at == timedelta(minutes=1)


def test_a_step_that_reaches_nobody_moves_on_at_once(
    make_settings, db_url, clock, db_engine, tmp_path
):
    rotations = tmp_path / "rotations"
    rotations.mkdir()
    (rotations / "support.yaml").write_text(
        """
team: support
timezone: America/Toronto
members:
  alice: {name: Alice Ng, phone: "+15550100101"}
  bob: {name: Bob Roy, phone: "+15550100102"}
rotations:
  weekend:
    members: [alice]
    shift: 1w
    start: 2026-11-06T18:00
    window: {from: fri 18:00, until: mon 09:00}
escalation:
  steps:
    - {after: 0m, notify: [weekend]}
    - {after: 10m, notify: [bob]}
manager: bob
"""
    )
    settings = make_settings(db_url, paths={"rotations": str(rotations)})
    world = make_world(settings, clock, db_engine)
    assert world.runtime.rotas.team("support") is not None  # loaded despite the gap
    case = world.open_case()
    world.settle()  # Tuesday 03:00: nobody is on the weekend rotation
    assert world.texts(ALICE) == []
    assert world.texts(BOB) == [PAGE_1001]  # at 03:00, not 03:10
    assert "step_empty" in world.kinds(case)
