"""Issue 15, finding 8: the CLI and the messages, polished.

Times in engineers' SMS name the zone; one-team commands default the team; every ``--from`` is
the team's local time; re-waiving a waived fee says so and exits 1; ``/metrics`` forgets
engines that have not beaten for a day.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from werkzeug.security import generate_password_hash

from oncall.bootstrap.runtime import build_runtime
from oncall.cli.main import main
from oncall.clock import FakeClock
from oncall.db.models import EngineHeartbeat, MisuseFlag
from tests.fakes import seed
from tests.fakes.transports import ALICE, BOB, CAROL, FakeTransport, PagingWorld

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


# -- times in SMS carry the zone ------------------------------------------------------------
@pytest.mark.parametrize(
    ("opened", "zone"),
    [
        (datetime(2026, 11, 24, 8, 0, tzinfo=UTC), "EST"),  # 03:00 in Toronto, winter
        (datetime(2027, 7, 13, 7, 0, tzinfo=UTC), "EDT"),  # 03:00 in Toronto, summer
    ],
)
def test_engineer_sms_replies_name_the_zone(settings, db_engine, opened, zone):
    fake = FakeTransport()
    clock = FakeClock(opened)
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    world = PagingWorld(runtime, clock, fake)
    world.open_case()
    world.settle()
    (engineer,) = [phone for phone in (ALICE, BOB, CAROL) if world.texts(phone)]
    assert world.sms(engineer, "ACK") == (
        f"Acknowledged 1001 (Acme Corp, S1). Status due to the customer by 04:00 {zone}."
    )
    reply = world.sms(engineer, "STATUS rolled back the deploy ETA 30m")
    assert reply == (
        f"Status sent to Acme Corp for 1001. ETA 03:30 {zone}. Next update due by 07:00 {zone}."
    )


# -- one-team commands default the team; --from is local --------------------------------------
@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "srv"
    folder.mkdir()
    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("rotations", "voice_flows"):
        shutil.copytree(ROOT / name, folder / name)
    return folder / "config.yaml"


def oncall(runner, config: Path, *args: str):
    return runner.invoke(main, ["--config", str(config), *args])


def test_one_team_commands_default_the_team(runner, project):
    show = oncall(runner, project, "rota", "show", "--from", "2026-11-24", "--days", "1")
    assert show.exit_code == 0, show.output
    assert show.output.startswith("support: on call from Tue 2026-11-24 00:00 EST")
    ics = oncall(runner, project, "rota", "ics", "--from", "2026-11-24", "--days", "1")
    assert ics.exit_code == 0 and "BEGIN:VCALENDAR" in ics.output
    feed = oncall(runner, project, "rota", "feed-url", "--member", "carol")
    assert feed.exit_code == 0 and "/rota/support/carol.ics?token=" in feed.output


def test_with_several_teams_the_team_must_be_named(runner, project):
    rotations = project.parent / "rotations"
    rota = yaml.safe_load((rotations / "support.yaml").read_text())
    rota["team"] = "billing"
    (rotations / "billing.yaml").write_text(yaml.safe_dump(rota))
    for command in ("show", "ics", "feed-url"):
        result = oncall(runner, project, "rota", command)
        assert result.exit_code == 2
        assert "give --team: one of billing, support" in result.output
    named = oncall(runner, project, "rota", "show", "--team", "billing", "--days", "1")
    assert named.exit_code == 0 and named.output.startswith("billing: on call from")


def test_rota_check_from_is_the_teams_local_time_like_rota_show(runner, project):
    # The example rota starts Monday 2026-11-02 09:00 Toronto time (14:00 UTC). Read as UTC,
    # 09:00 would be 04:00 local, five hours before anybody is on call: a coverage error.
    check = oncall(runner, project, "rota", "check", "--from", "2026-11-02T09:00", "--days", "7")
    assert check.exit_code == 0, check.output
    assert check.output == "ok: 1 team(s) (support), covered for the next 7 days\n"
    early = oncall(runner, project, "rota", "check", "--from", "2026-11-02T04:00", "--days", "7")
    assert early.exit_code == 1
    assert "from Mon 2026-11-02 04:00 EST until Mon 2026-11-02 09:00 EST" in early.output
    # The same instant written with its offset is honoured.
    utc = oncall(runner, project, "rota", "check", "--from", "2026-11-02T14:00+00:00")
    assert utc.exit_code == 0, utc.output
    show = oncall(runner, project, "rota", "show", "--from", "2026-11-02T09:00", "--days", "1")
    assert show.output.startswith("support: on call from Mon 2026-11-02 09:00 EST")


def test_rota_who_phone_prints_the_number_to_text_from(runner, project):
    result = oncall(
        runner, project, "rota", "who", "--at", "2026-11-24 03:00", "--level", "primary", "--phone"
    )
    assert result.exit_code == 0, result.output
    assert result.output == "+15550100101\n"
    unknown = oncall(runner, project, "rota", "who", "--level", "tertiary")
    assert unknown.exit_code == 1
    assert "team 'support' has no level 'tertiary' (levels: primary, secondary)" in unknown.output


# -- re-waiving -------------------------------------------------------------------------------
@pytest.fixture
def flagged(runtime):
    with runtime.sessions() as session, session.begin():
        case = seed.add_case(
            session, 1001, opened_at=runtime.clock.now(), state="downgraded", severity=3
        )
        session.add(
            MisuseFlag(
                kind="fee",
                case_id=case.id,
                customer_key="acme",
                month="2026-11",
                flagged_at=runtime.clock.now(),
                flagged_by="alice",
                severity_claimed=1,
                severity_set=3,
                fee=250.0,
                currency="USD",
            )
        )
    return 1001


def test_rewaiving_a_waived_fee_says_already_waived_with_the_reason_and_exits_1(
    runner, settings, flagged
):
    args = ["--config", settings.source, "misuse", "waive", "1001", "--by", "Dana Ortiz"]
    first = runner.invoke(main, [*args, "--reason", "goodwill"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, [*args, "--reason", "second thoughts"])
    assert again.exit_code == 1
    assert re.fullmatch(
        r"Error: Case 1001: the misuse fee is already waived \(reason: goodwill; by Dana Ortiz "
        r"on \d{4}-\d\d-\d\d \d\d:\d\d E[SD]T\)\n",
        again.output,
    ), again.output


@pytest.fixture
def settings(make_settings, db_url):
    hashed = generate_password_hash(PASSWORD, "pbkdf2:sha256:1000")
    return make_settings(db_url, users={"maria": {"role": "manager", "password_hash": hashed}})


def test_rewaiving_on_the_dashboard_says_already_waived_too(client, flagged):
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    login = {"username": "maria", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/misuse").text).group(1)
    for reason in ("first offence", "again"):
        form = {"reason": reason, "csrf_token": token, "next": "/misuse"}
        assert client.post("/misuse/1001/waive", data=form).status_code == 302
    html = client.get("/misuse").text
    assert (
        "Case 1001: the misuse fee is already waived (reason: first offence; by maria on "
        "2026-11-24 03:00 EST)"
    ) in html


# -- /metrics forgets engines that stopped beating a day ago ----------------------------------
def test_metrics_forget_engine_instances_silent_for_a_day(client, runtime, clock):
    now = clock.now()
    with runtime.sessions() as session, session.begin():
        session.add_all(
            [
                EngineHeartbeat(instance="box:101", last_tick_at=now - timedelta(seconds=1)),
                EngineHeartbeat(instance="box:99", last_tick_at=now - timedelta(hours=25)),
            ]
        )
    text = client.get("/metrics").text
    assert 'oncall_engine_seconds_since_tick{instance="box:101"} 1.0' in text
    assert 'instance="box:99"' not in text
    clock.advance(days=1, seconds=1)
    assert 'instance="box:101"' not in client.get("/metrics").text
