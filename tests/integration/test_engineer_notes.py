"""Evidence kept: every note an engineer writes by SMS is on the timeline, and beside the fee.

Replays issue 15's finding 2: ``SEV 3 1001 customer asked about a password reset`` used to
throw the reason away, leaving the fee's evidence as "Downgraded from S1 to S3 by Alice Ng".
Tuesday 2026-11-24 03:00 in Toronto; Alice is primary on the support rota.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from oncall.bootstrap.runtime import build_runtime
from oncall.cases.lookup import case_by_number
from oncall.cli.main import main
from oncall.db.models import CaseEvent, MisuseFlag
from oncall.web.app import create_app
from tests.fakes.transports import ALICE, FakeTransport, PagingWorld
from tests.integration.test_dashboard import USERS, sign_in

REASON = "customer asked about a password reset"
TOKEN = "test-api-token-0123456789"


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(db_url, users=USERS)


@pytest.fixture
def world(settings, clock, db_engine) -> PagingWorld:
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    return PagingWorld(runtime, clock, fake)


def notes(world: PagingWorld, number: int) -> list[tuple[str, str, str]]:
    """(kind, verb, note) of the case's events that carry an engineer's note."""
    with world.runtime.sessions() as session:
        case = case_by_number(session, number)
        events = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
        return [(e.kind, e.data["verb"], e.data["note"]) for e in events if "note" in e.data]


def downgraded_with_a_reason(world: PagingWorld) -> None:
    world.open_case(summary="Cannot log in")
    world.advance(minutes=2)
    world.sms(ALICE, "ACK 1001 calling the customer now")
    world.advance(minutes=3)
    world.sms(ALICE, "STATUS 1001 only password resets fail for one user, ETA 20m")
    world.advance(minutes=1)
    reply = world.sms(ALICE, f"SEV 3 1001 {REASON}")
    assert reply == (  # the reply is as before: the reason changes no spelling
        "1001 downgraded to S3: off the critical line, forwarded to the support queue, flagged "
        "for the misuse fee (250 USD)."
    )


def test_the_sev_reason_is_kept_on_the_timeline_and_on_the_fee(world):
    downgraded_with_a_reason(world)
    assert notes(world, 1001) == [
        ("acknowledged", "ACK", "calling the customer now"),
        ("status", "STATUS", "only password resets fail for one user, ETA 20m"),
        ("severity_changed", "SEV 3", REASON),
    ]
    assert (
        "severity_changed",
        f"Severity changed S1 -> S3 by Alice Ng: off the critical line. Reason: {REASON}",
    ) in world.events(1001)
    with world.runtime.sessions() as session:
        flag = session.scalar(select(MisuseFlag))
    assert flag.reason == f"Downgraded from S1 to S3 by Alice Ng: {REASON}"
    forwarded = world.fake.emails_to("support-queue@vendor.example")[-1]
    assert f"was downgraded to S3 by Alice Ng: {REASON}." in forwarded.body


def test_the_reason_is_beside_the_fee_in_the_csv_export(world, settings, runner):
    downgraded_with_a_reason(world)
    config = ["--config", settings.source]
    result = runner.invoke(main, [*config, "report", "misuse", "--month", "2026-11", "--csv"])
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(io.StringIO(result.output))
    assert (row["case"], row["fee"], row["due"]) == ("1001", "250.00", "250.00")
    assert row["reason"] == f"Downgraded from S1 to S3 by Alice Ng: {REASON}"
    assert row["engineer_notes"] == (
        "2026-11-24 03:02 EST ACK (Alice Ng): calling the customer now | "
        "2026-11-24 03:05 EST STATUS (Alice Ng): only password resets fail for one user, "
        "ETA 20m | "
        f"2026-11-24 03:06 EST SEV 3 (Alice Ng): {REASON}"
    )
    table = runner.invoke(main, [*config, "report", "misuse", "--month", "2026-11"])
    assert f"      note: 2026-11-24 03:06 EST SEV 3 (Alice Ng): {REASON}" in table.output


def test_the_reason_is_beside_the_fee_on_the_misuse_page_and_in_the_api(world):
    downgraded_with_a_reason(world)
    client = create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()
    sign_in(client)
    html = client.get("/misuse?month=2026-11").text
    row = html[html.index('<tr data-case="1001">') :]
    row = row[: row.index("</tr>")]
    assert "250.00 USD" in row
    assert f"Downgraded from S1 to S3 by Alice Ng: {REASON}" in row
    assert f"2026-11-24 03:06 EST SEV 3 (Alice Ng): {REASON}" in row
    assert "STATUS (Alice Ng): only password resets fail for one user, ETA 20m" in row

    api = client.get(
        "/api/reports/misuse?month=2026-11", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    (fee,) = api.get_json()["rows"]
    assert fee["engineer_notes"].endswith(f"SEV 3 (Alice Ng): {REASON}")


def test_a_forgotten_reason_can_still_be_given(world, settings, runner):
    world.open_case()
    world.sms(ALICE, "SEV 1001 3")  # no reason
    reply = world.sms(ALICE, f"SEV 1001 3 {REASON}")
    assert reply == f"Reason noted for 1001 (S3): {REASON}"
    with world.runtime.sessions() as session:
        flag = session.scalar(select(MisuseFlag))
    assert (
        flag.reason == f"Downgraded from S1 to S3 by Alice Ng (reason added by Alice Ng: {REASON})"
    )
    assert notes(world, 1001) == [("note", "SEV 3", REASON)]
    # Said again it changes nothing; a different level is still "already downgraded".
    world.sms(ALICE, f"SEV 1001 3 {REASON}")
    with world.runtime.sessions() as session:
        assert session.scalar(select(MisuseFlag)).reason == flag.reason
    assert world.sms(ALICE, "SEV 1001 4 really").startswith("Case 1001 was downgraded to S3")


def test_the_resolve_note_and_a_critical_re_rating_reason_are_kept(world):
    world.open_case()
    world.sms(ALICE, "SEV 1001 2 checkout works for card payments")
    world.sms(ALICE, "RESOLVE 1001 restarted the payment gateway")
    assert notes(world, 1001) == [
        ("severity_changed", "SEV 2", "checkout works for card payments"),
        ("resolved", "RESOLVE", "restarted the payment gateway"),
    ]
    assert (
        "severity_changed",
        "Severity changed S1 -> S2 by Alice Ng: checkout works for card payments",
    ) in world.events(1001)
