"""ACK ALL, ESC, TAKE and WHO in detail: what each does to the cases, the rota and the phones.

Tuesday 03:00 in Toronto: Alice is primary, Bob secondary, Dana the manager
(rotations/support.yaml). A second team, nights, has Bob and Eve, so Bob is on two rotas.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import Deadline, LiveOverride
from tests.conftest import ROOT
from tests.fakes.transports import ALICE, BOB, CAROL, DANA, WILE, FakeTransport, PagingWorld

EVE = "+15550100199"
NIGHTS = """
team: nights
timezone: Europe/London
members:
  bob: {name: Bob Roy, phone: "+15550100102"}
  eve: {name: Eve Park, phone: "+15550100199"}
rotations:
  primary: {members: [eve, bob], shift: 1w, start: 2026-11-02T09:00}
escalation:
  steps:
    - {after: 0m, notify: [primary]}
manager: eve
"""


@pytest.fixture
def world(make_settings, db_url, clock, db_engine, tmp_path) -> PagingWorld:
    rotations = tmp_path / "rotations"
    rotations.mkdir()
    shutil.copy(ROOT / "rotations" / "support.yaml", rotations / "support.yaml")
    (rotations / "nights.yaml").write_text(NIGHTS)
    settings = make_settings(db_url, paths={"rotations": str(rotations)})
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def storm(world: PagingWorld, count: int) -> list[int]:
    numbers = [world.open_case(["acme", "globex", "initech"][i % 3]) for i in range(count)]
    world.settle()
    return numbers


# -- ACK ALL ----------------------------------------------------------------------------------
def test_ack_all_acknowledges_only_what_was_paged_to_the_sender(world):
    first = storm(world, 3)
    assert world.sms(BOB, "ACK 1002").startswith("Acknowledged 1002")  # Bob, on the rota
    world.advance(minutes=6)  # Bob is paged for 1001 and 1003 (step 2)
    assert (
        world.sms(ALICE, "ack all")
        == "Acknowledged 2 cases: 1001, 1003. First status due by 04:00 EST."
    )
    assert [world.case(n).acknowledged_by for n in first] == ["alice", "bob", "alice"]
    # Bob hears it once for both, not once per case; the customers each hear it.
    assert world.last_text(BOB) == "1001, 1003 acknowledged by Alice Ng"
    assert [t for t in world.texts(BOB) if "acknowledged by" in t] == [
        "1001, 1003 acknowledged by Alice Ng"
    ]
    assert len([t for t in world.texts(WILE) if t.startswith("An engineer is working")]) == 1
    (acknowledged,) = [text for kind, text in world.events(1003) if kind == "acknowledged"]
    assert acknowledged.startswith("Acknowledged by Alice Ng via sms (ACK ALL), 6 min after")
    # Nothing left: a second ACK ALL says so and changes nothing.
    assert world.sms(ALICE, "ACK ALL") == (
        "Nothing to acknowledge: no open case you were paged for is waiting."
    )


def test_ack_all_ignores_pages_that_have_not_left(world):
    with world.runtime.sessions() as session:
        assert session.scalar(select(Deadline.id).limit(1)) is None
    world.open_case("acme")  # not settled: the page is still waiting in the outbox
    assert world.sms(ALICE, "ACK ALL") == (
        "Nothing to acknowledge: no open case you were paged for is waiting."
    )


def test_a_bare_ack_with_several_cases_offers_ack_all(world):
    storm(world, 2)
    assert world.sms(ALICE, "ACK") == (
        "Which case? Open: 1001 Acme Corp S1, 1002 Globex S1. Reply e.g. ACK 1001 or ACK ALL"
    )
    assert world.case(1001).state == "open"


def test_a_storm_beyond_the_cap_gives_the_count_and_the_link(
    make_settings, db_url, clock, db_engine
):
    settings = make_settings(db_url, engine={"bundle_max_cases": 3})
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    world = PagingWorld(runtime, clock, fake)
    storm(world, 5)
    assert world.texts(ALICE) == [
        "5 new critical cases: 1001 Acme Corp S1, 1002 Globex S1, 1003 Initech S1 +2 more: "
        "https://oncall.vendor.example/cases. Reply ACK ALL or ACK <case>"
    ]
    assert world.sms(ALICE, "ACK ALL").startswith("Acknowledged 5 cases: 1001, 1002, 1003, 1004")


# -- ESC --------------------------------------------------------------------------------------
def test_esc_pages_the_next_step_now_and_the_engine_does_not_page_it_again(world):
    world.open_case()
    world.advance(minutes=1)
    assert world.sms(ALICE, "ESC need a DBA") == "Escalated 1001: paged Bob Roy."
    assert world.last_text(BOB).startswith("ESC by Alice Ng. [S1] Case 1001")
    escalated = [text for kind, text in world.events(1001) if kind == "escalated"]
    assert escalated == [
        "Alice Ng escalated: paged Bob Roy at once (step 2 of 3, round 1 of 2). Note: need a DBA"
    ]
    world.advance(minutes=5)  # 03:06: step 2's own time has passed; Bob is not paged twice
    assert len([t for t in world.texts(BOB) if "Case 1001" in t and "Reply ACK" in t]) == 1
    world.advance(minutes=5)  # 03:11: step 3 keeps its time (03:10): Dana
    assert world.texts(DANA)[0].startswith("[S1] Case 1001")


def test_esc_on_an_acknowledged_case_asks_for_help_and_walks_on(world):
    world.open_case()
    world.settle()
    world.sms(ALICE, "ACK")
    assert world.sms(ALICE, "ESC 1001 the database is beyond me") == (
        "Help requested on 1001: paged Bob Roy."
    )
    assert world.last_text(BOB) == (
        "Help wanted on case 1001 (Acme Corp, S1): Alice Ng has it and asks for help: the "
        "database is beyond me. Call +15550100101."
    )
    case = world.case(1001)
    assert case.state == "acknowledged" and case.acknowledged_by == "alice"
    assert world.sms(ALICE, "ESC 1001") == "Help requested on 1001: paged Dana Ortiz."
    # Round 2 starts with Alice herself: passed over, so Bob is next.
    assert world.sms(ALICE, "ESC 1001") == "Help requested on 1001: paged Bob Roy."
    world.sms(ALICE, "ESC 1001")  # Dana again
    # Past the last step: the manager, as the policy's end does.
    assert world.sms(ALICE, "ESC 1001") == (
        "Escalated 1001: nobody further on the policy, paged Dana Ortiz."
    )
    assert world.last_text(DANA).startswith("ESC by Alice Ng. [S1] Case 1001")


def test_esc_on_a_closed_case_changes_nothing(world):
    world.open_case()
    world.settle()
    world.sms(ALICE, "RESOLVE fixed")
    assert world.sms(ALICE, "ESC 1001") == "Case 1001 is resolved: nothing to escalate."


# -- TAKE -------------------------------------------------------------------------------------
def test_take_until_the_end_of_the_current_shift_by_default(world):
    assert world.sms(CAROL, "TAKE") == (
        "You are primary for support until Tue 24 Nov 18:00 EST. Alice Ng was told."
    )
    (row,) = overrides(world)
    assert (row.team, row.level, row.member, row.replaced) == (
        "support",
        "primary",
        "carol",
        "alice",
    )
    assert (row.created_by, row.created_via) == ("Carol Li", "sms")
    world.open_case()
    world.settle()
    assert world.texts(CAROL)[-1].startswith("[S1] Case 1001")
    assert not any(t.startswith("[S1]") for t in world.texts(ALICE))


def test_take_until_a_time_tells_everyone_it_replaces(world):
    assert world.sms(CAROL, "take secondary until 10am") == (
        "You are secondary for support until Tue 24 Nov 10:00 EST. Bob Roy was told."
    )
    assert world.last_text(BOB) == (
        "Carol Li takes secondary for support until Tue 24 Nov 10:00 EST: you are not paged as "
        "secondary until then. Reply WHO for the team."
    )


def test_take_what_you_already_hold_changes_nothing(world):
    assert world.sms(ALICE, "TAKE") == (
        "You are already primary for support until Tue 24 Nov 18:00 EST. To stay longer: "
        "TAKE primary for 12h"
    )
    assert world.sms(ALICE, "TAKE primary for 2h") == (
        "You are already primary for support until Tue 24 Nov 05:00 EST."
    )
    assert overrides(world) == []


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("TAKE tertiary", "No level tertiary on your rota (support: primary, secondary)."),
        ("TAKE primary for 15d", "A TAKE lasts at most 14d: longer swaps belong in the rota "
         "file (ask a manager)."),
        ("TAKE until 2am today", "That time has passed today: say until tomorrow 9am, or for 8h."),
        ("TAKE nights/primary", "You are not on the nights rota."),
    ],
)  # fmt: skip
def test_take_refusals(world, body, reply):
    assert world.sms(CAROL, body) == reply
    assert overrides(world) == []


def test_someone_on_two_rotas_says_which(world):
    assert world.sms(BOB, "TAKE primary") == (
        "You are on the nights and support rotas: say which, e.g. TAKE nights/primary"
    )
    assert world.sms(BOB, "TAKE support/primary for 1h") == (
        "You are primary for support until Tue 24 Nov 04:00 EST. Alice Ng was told."
    )
    assert world.sms(BOB, "TAKE secondary for 1h") == (
        "You are already secondary for support until Tue 24 Nov 04:00 EST."
    )


def test_take_and_who_are_for_rota_members_only(world):
    world.open_case()
    world.settle()
    world.sms(ALICE, "ACK")
    # Wile is a customer: not on any rota, and never paged: he learns nothing.
    assert world.sms(WILE, "TAKE primary") is None
    assert world.sms(WILE, "WHO") is None
    assert overrides(world) == []


def test_a_later_take_wins_and_ends_with_its_own_time(world):
    world.sms(CAROL, "TAKE primary for 4h")  # until 07:00
    world.sms(DANA, "TAKE primary for 1h")  # until 04:00
    world.open_case()
    world.settle()
    assert world.last_text(DANA).startswith("[S1] Case 1001")
    world.sms(DANA, "RESOLVE")
    world.advance(hours=1, minutes=30)  # 04:30: Dana's ended, Carol's still runs
    world.open_case("globex")
    world.settle()
    assert world.last_text(CAROL).startswith("[S1] Case 1002")


# -- WHO --------------------------------------------------------------------------------------
def test_who_answers_for_the_senders_teams_or_the_team_named(world):
    assert world.sms(EVE, "WHO") == (
        "nights (Europe/London): primary Bob Roy +15550100102 until Mon 30 Nov 09:00 GMT; "
        "manager Eve Park +15550100199"
    )
    both = world.sms(BOB, "who")
    assert both.startswith("nights (Europe/London): primary Bob Roy") and " | support " in both
    assert world.sms(EVE, "WHO support").startswith("support (America/Toronto): primary Alice Ng")
    assert world.sms(EVE, "WHO platform") == (
        "No team platform. Teams: nights, support. Reply WHO for your own."
    )


def overrides(world: PagingWorld) -> list[LiveOverride]:
    with world.runtime.sessions() as session:
        rows = list(session.scalars(select(LiveOverride).order_by(LiveOverride.id)))
        session.expunge_all()
    return rows


def test_who_shows_a_gap(world):
    world.clock.set(world.clock.now() - timedelta(days=60))  # before the rota starts
    assert "primary nobody; secondary nobody" in world.sms(ALICE, "WHO support")
