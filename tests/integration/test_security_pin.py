"""PIN guessing stopped (issue 10, item 3).

Calls are played the way Twilio plays them: a signed ``POST /twilio/voice``, then the
``<Gather action>`` with ``Digits``. Every wrong PIN is a database row, so the counts hold
across processes; the clock is the runtime's fake one. Limits: 5 wrong PINs from one number
within an hour lock it out for an hour; 20 on the line within an hour send every team's
manager (Dana, +15550100104) one SMS, at most one an hour.
"""

from __future__ import annotations

import shutil
import uuid
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from oncall.bootstrap.runtime import build_runtime
from oncall.cli.main import main
from oncall.db.models import Attempt, Case, OutboundMessage
from oncall.web.app import create_app
from tests.conftest import ROOT
from tests.fakes.transports import DANA, FakeTransport, PagingWorld

BASE = "https://oncall.vendor.example"
ATTACKER = "+15550009999"
LOCKED_WORDS = "Too many wrong PINs have been entered from this number"
RIGHT_PIN = "482193"  # Acme's, in the shipped customers.yaml


class Call:
    """One inbound call to the critical line, from ``number``."""

    def __init__(self, client, number: str):
        self.client = client
        self.params = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": number,
            "To": "+15555550501",
            "Caller": number,
            "Called": "+15555550501",
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        self.twiml: ET.Element | None = None

    def _post(self, url: str, **extra: str) -> ET.Element:
        params = {**self.params, **extra}
        signature = RequestValidator("test-auth-token").compute_signature(url, params)
        response = self.client.post(
            url[len(BASE) :], data=params, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        self.twiml = ET.fromstring(response.get_data(as_text=True))
        return self.twiml

    def dial_in(self) -> ET.Element:
        return self._post(BASE + "/twilio/voice", CallStatus="ringing")

    @property
    def asks_for_pin(self) -> bool:
        gather = self.twiml.find("Gather") if self.twiml is not None else None
        return gather is not None and "/pin/" in gather.get("action", "")

    @property
    def text(self) -> str:
        return " ".join(e.text or "" for e in self.twiml.iter("Say"))

    def key(self, digits: str) -> ET.Element:
        return self._post(self.twiml.find("Gather").get("action"), Digits=digits)

    def guess(self, first: int) -> int:
        """Key wrong PINs for as long as asked; how many were keyed."""
        keyed = 0
        self.dial_in()
        while self.asks_for_pin:
            self.key(f"{first + keyed:06d}")
            keyed += 1
        return keyed


@pytest.fixture
def world(make_settings, db_url, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        make_settings(db_url),
        clock=clock,
        transports={"sms": fake, "voice": fake, "email": fake},
        db=db_engine,
    )
    return PagingWorld(runtime, clock, fake)


@pytest.fixture
def client(world):
    return create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()


def count(world, *where) -> int:
    with world.runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Attempt).where(*where))


def alerts(world) -> list[str]:
    return [text for text in world.texts(DANA) if "wrong account PINs" in text]


# -- one number --------------------------------------------------------------------------------
def test_forty_calls_from_one_number_are_locked_out_after_five_wrong_pins(world, client):
    """The attack as written: 40 calls from one number guessing a PIN."""
    keyed = []
    locked_calls = 0
    for n in range(40):
        call = Call(client, ATTACKER)
        keyed.append(call.guess(first=1000 + 3 * n))
        if LOCKED_WORDS in call.text:
            locked_calls += 1
            assert "email the critical support line instead" in call.text
            assert "critical at vendor dot example" in call.text  # where to write instead
            assert call.twiml[-1].tag == "Hangup"
    assert keyed[:2] == [3, 2] and set(keyed[2:]) == {0}  # the fifth wrong PIN ends it
    assert locked_calls == 39  # the call of the fifth, and every call after it
    # Every failure is recorded: five wrong PINs, one per try, and each refused call.
    assert count(world, Attempt.reason == "wrong_pin", Attempt.contact == ATTACKER) == 5
    assert count(world, Attempt.reason == "pin_locked") == 39
    assert count(world, Attempt.reason == "bad_pin") == 1
    world.settle()
    assert alerts(world) == []  # one number alone never reaches the line-wide limit


def test_the_lockout_lasts_an_hour(world, client, clock):
    Call(client, ATTACKER).guess(first=1000)
    Call(client, ATTACKER).guess(first=2000)
    clock.advance(minutes=59)
    call = Call(client, ATTACKER)
    call.dial_in()
    assert LOCKED_WORDS in call.text and not call.asks_for_pin
    clock.advance(minutes=2)  # an hour after the fifth wrong PIN
    call = Call(client, ATTACKER)
    call.dial_in()
    assert call.asks_for_pin
    call.key(RIGHT_PIN)
    assert "Your account, Acme Corp, is verified" in call.text


def test_a_call_in_progress_cannot_keep_guessing_once_its_number_is_locked(world, client):
    waiting = Call(client, ATTACKER)
    waiting.dial_in()  # at the PIN prompt while other calls from the number guess
    assert waiting.asks_for_pin
    Call(client, ATTACKER).guess(first=1000)
    Call(client, ATTACKER).guess(first=2000)
    waiting.key(RIGHT_PIN)  # even the right PIN is not tried while the number is locked
    assert LOCKED_WORDS in waiting.text
    assert count(world, Attempt.reason == "wrong_pin") == 5
    with world.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_a_right_pin_and_silence_are_not_failures(world, client):
    for _ in range(6):
        call = Call(client, ATTACKER)
        call.dial_in()
        call.key("")  # nothing keyed: asked again, not counted
        assert call.asks_for_pin
    call.key(RIGHT_PIN)
    assert "verified" in call.text
    assert count(world, Attempt.reason == "wrong_pin") == 0


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687", ""])
def test_withheld_numbers_are_counted_together(world, client, withheld):
    Call(client, "Restricted").guess(first=1000)
    Call(client, withheld).guess(first=2000)
    call = Call(client, "+266696687")
    call.dial_in()
    assert LOCKED_WORDS in call.text


def test_the_count_is_the_databases_so_it_holds_across_processes(
    world, client, make_settings, db_url, clock, db_engine
):
    # A second web process on the same database, with its own runtime and app.
    other = build_runtime(make_settings(db_url), clock=clock, transports={}, db=db_engine)
    other_client = create_app(runtime=other, test_config={"TESTING": True}).test_client()
    assert Call(client, ATTACKER).guess(first=1000) == 3
    assert Call(other_client, ATTACKER).guess(first=2000) == 2  # the fifth, in the other
    call = Call(client, ATTACKER)
    call.dial_in()
    assert LOCKED_WORDS in call.text


# -- the whole line ----------------------------------------------------------------------------
def test_guessing_from_many_numbers_sends_the_managers_one_sms_an_hour(world, client, clock):
    for n in range(40):  # 40 calls, each from a different (spoofed) number, 3 PINs each
        assert Call(client, f"+1555001{n:04d}").guess(first=1000 + 3 * n) == 3
    world.settle()
    assert count(world, Attempt.reason == "wrong_pin") == 120  # every failure recorded
    (alert,) = alerts(world)  # one SMS, not one per failure
    assert alert.startswith("Vendor Support critical line: 20 wrong account PINs")
    assert "from 7 number(s)" in alert
    with world.runtime.sessions() as session:
        (row,) = session.scalars(
            select(OutboundMessage).where(OutboundMessage.purpose == "security_alert")
        )
        assert row.to_address == DANA and row.recipient == "dana" and row.case_id is None
    clock.advance(minutes=30)
    for n in range(10):
        Call(client, f"+1555002{n:04d}").guess(first=5000 + 3 * n)
    world.settle()
    assert len(alerts(world)) == 1  # still within the hour
    clock.advance(minutes=31)
    for n in range(10):
        Call(client, f"+1555003{n:04d}").guess(first=7000 + 3 * n)
    world.settle()
    assert len(alerts(world)) == 2  # a new hour, still under attack: one more


def test_every_teams_manager_is_alerted(make_settings, db_url, clock, db_engine, tmp_path):
    rotations = tmp_path / "rotations"
    rotations.mkdir()
    shutil.copy(ROOT / "rotations" / "support.yaml", rotations / "support.yaml")
    (rotations / "nights.yaml").write_text(
        "team: nights\ntimezone: America/Toronto\n"
        'members:\n  eve: {name: Eve Park, phone: "+15550100199"}\n'
        "rotations:\n  primary: {members: [eve], shift: 1w, start: 2026-11-02T09:00}\n"
        "escalation:\n  steps:\n    - {after: 0m, notify: [primary]}\nmanager: eve\n"
    )
    fake = FakeTransport()
    runtime = build_runtime(
        make_settings(db_url, paths={"rotations": str(rotations)}),
        clock=clock,
        transports={"sms": fake, "voice": fake, "email": fake},
        db=db_engine,
    )
    world = PagingWorld(runtime, clock, fake)
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    for n in range(7):
        Call(client, f"+1555004{n:04d}").guess(first=3 * n)
    world.settle()
    assert len(alerts(world)) == 1
    assert len([t for t in world.texts("+15550100199") if "wrong account PINs" in t]) == 1


# -- PINs in customers.yaml --------------------------------------------------------------------
def _project(tmp_path, pin: str):
    for name in ("config.yaml", "customers.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "rotations", tmp_path / "rotations")
    shutil.copytree(ROOT / "voice_flows", tmp_path / "voice_flows")
    customers = tmp_path / "customers.yaml"
    customers.write_text(customers.read_text().replace('pin: "482193"', f'pin: "{pin}"'))
    return tmp_path / "config.yaml"


def test_check_warns_about_a_four_digit_pin_and_still_passes(runner, tmp_path):
    result = runner.invoke(main, ["--config", str(_project(tmp_path, "4821")), "check"])
    assert result.exit_code == 0, result.output
    assert "customers.yaml:" in result.output
    assert "warning: customers.acme.pin: a 4-digit PIN is easy to guess" in result.output
    assert "ok:" in result.output and "1 warning(s)" in result.output


@pytest.mark.parametrize("pin", ["482193", "48219367", "4821936750", "4821936750123456"])
def test_check_accepts_pins_of_six_digits_and_more_without_a_warning(runner, tmp_path, pin):
    result = runner.invoke(main, ["--config", str(_project(tmp_path, pin)), "check"])
    assert result.exit_code == 0 and result.output.startswith("ok:"), result.output


def test_check_refuses_a_pin_that_is_not_4_to_16_digits(runner, tmp_path):
    result = runner.invoke(
        main, ["--config", str(_project(tmp_path, "48219367501234567")), "check"]
    )
    assert result.exit_code == 1
    assert "a PIN is 4 to 16 digits" in result.output


def test_a_ten_digit_pin_works_on_the_phone(make_settings, db_url, clock, db_engine, tmp_path):
    config = _project(tmp_path, "4821936750")
    settings = make_settings(db_url, paths={"customers": str(config.parent / "customers.yaml")})
    runtime = build_runtime(settings, clock=clock, transports={}, db=db_engine)
    client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
    call = Call(client, ATTACKER)
    call.dial_in()
    call.key("4821936750")
    assert "Your account, Acme Corp, is verified" in call.text
