"""Honest when broken: health means "can page", and nobody is told a page went out that did not.

Replays issue 15's findings 1 and its "Done when" through the public surface: `/healthz`, the
dashboard, the phone line as Twilio walks it, the email intake as SendGrid posts it, and the
SMS the managers and engineers receive. Tuesday 2026-11-24 03:00 in Toronto: Acme (premium,
always covered) calls; the support rota has Alice on primary and Dana as manager. Every
service here reads its own copy of rotations/ and customers.yaml, so a test can rename,
delete and add files as a manager would.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from oncall.bootstrap.runtime import build_runtime
from oncall.cli.main import main
from oncall.db.models import Case, Deadline, OutboundMessage, RetiredRota
from oncall.web.app import create_app
from tests.conftest import ROOT
from tests.fakes.transports import ALICE, BOB, DANA, WILE, FakeTransport, PagingWorld
from tests.integration.test_dashboard import USERS, sign_in
from tests.integration.test_email_intake import post, simple
from tests.integration.test_ivr_conversation import Caller

PAGE_1001 = "[S1] Case 1001 Acme Corp: Phone report (recording 14s). Reply ACK 1001"
NIGHTS_ONLY_FIRST_STEP = """
team: support
timezone: America/Toronto
members:
  alice: {name: Alice Ng, phone: "+15550100101"}
  bob: {name: Bob Roy, phone: "+15550100102"}
  dana: {name: Dana Ortiz, phone: "+15550100104"}
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
manager: dana
"""


@dataclass
class Service:
    """One running service (without its background threads: the test is the clock) and the
    files its manager edits."""

    world: PagingWorld
    client: object
    rotations: Path
    customers: Path
    settings: object

    @property
    def runtime(self):
        return self.world.runtime

    def health(self) -> tuple[int, list[str], str]:
        response = self.client.get("/healthz")
        return response.status_code, response.get_json()["reasons"], response.text

    def outbox(self, **filters) -> list[OutboundMessage]:
        return self.world.outbox(**filters)

    def customers_name_team(self, team: str) -> None:
        text = self.customers.read_text().replace("team: support", f"team: {team}")
        self.customers.write_text(text + "\n# edited\n")  # a new size: the poll sees it


@pytest.fixture
def make_service(make_settings, db_url, clock, db_engine, tmp_path):
    def _make(rota: str | None = "copy", **config) -> Service:
        rotations = tmp_path / "rotations"
        rotations.mkdir(exist_ok=True)
        if rota == "copy":
            shutil.copy(ROOT / "rotations" / "support.yaml", rotations / "support.yaml")
        elif rota is not None:
            (rotations / "support.yaml").write_text(rota)
        customers = tmp_path / "customers.yaml"
        shutil.copy(ROOT / "customers.yaml", customers)
        settings = make_settings(
            db_url,
            paths={"rotations": str(rotations), "customers": str(customers)},
            users=USERS,
            **config,
        )
        fake = FakeTransport()
        runtime = build_runtime(
            settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake},
            db=db_engine,
        )  # fmt: skip
        world = PagingWorld(runtime, clock, fake)
        client = create_app(runtime=runtime, test_config={"TESTING": True}).test_client()
        return Service(world, client, rotations, customers, settings)

    return _make


def call_in_an_s1(client) -> Caller:
    call = Caller(client, WILE)
    call.dial_in()
    call.press("1")
    call.speak()
    return call


def customer_texts(service: Service) -> list[OutboundMessage]:
    return [m for m in service.outbox(recipient="customer")]


# -- 1. health means "can page" --------------------------------------------------------------
def test_a_renamed_rota_is_503_while_its_last_good_version_keeps_paging(make_service, tmp_path):
    service = make_service()
    assert service.health()[:2] == (200, [])

    (service.rotations / "support.yaml").rename(service.rotations / "support.yml")
    service.runtime.poll_files()

    status, reasons, _ = service.health()
    assert status == 503
    assert reasons == [
        "rota file support.yaml is gone (support.yml found beside it: rota files are named "
        "TEAM.yaml): team 'support' keeps paging with the last good version loaded at "
        "2026-11-24 08:00 UTC until the file is back or a manager runs "
        "`oncall rota retire support`"
    ]
    assert all(str(tmp_path) not in reason for reason in reasons)  # a name, never a path

    # ... and the last good version keeps paging: the caller is put through to Alice, who was
    # paged as the case opened.
    call = call_in_an_s1(service.client)
    assert call.last.dial.find("Number").text == ALICE
    t = call.engineer_does_not_answer()
    t = call.engineer_does_not_answer()  # Bob, the second level, does not answer either
    assert "The on-call engineer has been paged" in t.text
    service.world.settle()
    assert service.world.texts(ALICE) == [PAGE_1001]


def test_a_deleted_rota_shows_a_red_banner_on_the_dashboard(make_service):
    service = make_service()
    sign_in(service.client)
    assert "banner-red" not in service.client.get("/").text

    (service.rotations / "support.yaml").unlink()
    service.runtime.poll_files()

    assert service.runtime.rotas.team("support") is not None  # a deletion is not a wish
    for page in ("/", "/cases", "/misuse"):
        html = service.client.get(page).text
        assert 'class="banner-red" role="alert"' in html, page
        assert "rota file support.yaml is gone: team &#39;support&#39; keeps paging" in html
    assert service.health()[0] == 503


def test_retiring_a_gone_rota_drops_the_team_until_its_file_is_back(make_service, runner):
    service = make_service()
    config = ["--config", service.settings.source]

    refused = runner.invoke(main, [*config, "rota", "retire", "support"])
    assert refused.exit_code == 1
    assert "support.yaml is still in the rotations directory: remove it first" in refused.output

    (service.rotations / "support.yaml").rename(service.rotations / "support.yml")
    service.runtime.poll_files()
    retired = runner.invoke(main, [*config, "rota", "retire", "support", "--by", "dana"])
    assert retired.exit_code == 0, retired.output
    assert "Team support retired: running services stop paging it within 1s." in retired.output
    assert "Warning: Acme Corp, Globex, Initech still name team 'support'" in retired.output

    service.runtime.poll_files()  # the running service's next file poll
    assert service.runtime.rotas.team("support") is None
    status, reasons, _ = service.health()
    assert status == 503 and reasons == [
        "team 'support' has no rota loaded: a call from Acme Corp would page no engineer "
        "(the managers are alerted instead)",
        "nobody would be alerted instead either: no loaded rota names a manager with a phone "
        "or email, and config.yaml sets no escalation_contacts",
    ]

    # The file is back: the team pages again, and the retirement is over (a later
    # disappearance is kept live again).
    (service.rotations / "support.yml").rename(service.rotations / "support.yaml")
    service.runtime.poll_files()
    assert service.runtime.rotas.team("support") is not None
    assert service.health()[:2] == (200, [])
    with service.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RetiredRota)) == 0


def test_a_gone_rota_no_customer_names_any_more_is_let_go(make_service):
    service = make_service()
    (service.rotations / "support.yaml").unlink()
    service.runtime.poll_files()
    assert service.runtime.rotas.team("support") is not None

    service.customers_name_team("platform")  # the manager moved every customer elsewhere
    service.runtime.poll_files()
    assert service.runtime.rotas.team("support") is None
    assert service.health()[1] == [
        "team 'platform' has no rota loaded: a call from Acme Corp would page no engineer "
        "(the managers are alerted instead)",
        "nobody would be alerted instead either: no loaded rota names a manager with a phone "
        "or email, and config.yaml sets no escalation_contacts",
    ]


def test_a_first_step_with_nobody_on_call_now_is_503(make_service):
    service = make_service(rota=NIGHTS_ONLY_FIRST_STEP)
    status, reasons, _ = service.health()
    assert status == 503
    assert (
        "team 'support': nobody can be paged for the first escalation step (weekend) now: a "
        "call from Acme Corp would page no engineer at once"
    ) in reasons


def test_a_team_only_business_hours_customers_reach_is_fine_at_night(make_service):
    service = make_service()
    text = service.customers.read_text()
    # Globex (standard: business hours only) moves to a team with no rota; at 03:00 it
    # cannot call the critical line, so nobody is left without a pager right now.
    globex = text.index("  globex:")
    service.customers.write_text(
        text[:globex] + text[globex:].replace("team: support", "team: days", 1)
    )
    service.runtime.poll_files()
    assert service.health()[:2] == (200, [])


def test_a_provider_that_refuses_our_credentials_is_503(make_service):
    service = make_service()
    for number in (ALICE, BOB, DANA):  # Twilio answers 401 "Authenticate" to everything
        service.world.fake.fail(number, code=20003)
    service.world.open_case()
    service.world.settle()
    status, reasons, _ = service.health()
    assert status == 503
    assert (
        "transport cannot send: Twilio refused the last call: authentication failed (error 20003)"
        in reasons
    )


def test_the_twilio_transport_without_credentials_is_503(make_settings, db_url, clock, db_engine):
    from oncall.delivery.transports.twilio import TwilioTransport

    settings = make_settings(db_url, twilio={"account_sid": "", "auth_token": ""})
    twilio = TwilioTransport(settings)
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": twilio, "voice": twilio}, db=db_engine
    )
    response = create_app(runtime=runtime).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["reasons"] == [
        "transport cannot send: the Twilio transport has no account SID or auth token"
    ]


# -- 2. never a false promise ----------------------------------------------------------------
def test_no_rota_at_all_the_caller_hears_the_truth_and_the_managers_are_paged_at_once(
    make_service,
):
    service = make_service()
    service.customers_name_team("nights")  # nobody wrote rotations/nights.yaml
    service.runtime.poll_files()
    status, reasons, _ = service.health()
    assert status == 503 and reasons == [
        "team 'nights' has no rota loaded: a call from Acme Corp would page no engineer "
        "(the managers are alerted instead)"
    ]

    call = call_in_an_s1(service.client)
    t = call.last
    assert "Your case number is 1 0 0 1" in t.text
    assert "our support managers have been alerted" in t.text
    assert "has been paged" not in t.text
    assert t.dial is None and t.hangs_up  # nobody to put the caller through to

    # At once, in the request that opened the case: no engine tick has run.
    (alert,) = service.outbox(purpose="manager_page")
    assert (alert.to_address, alert.channel) == (DANA, "sms")
    assert alert.body.startswith("UNROUTABLE case 1001 (Acme Corp, S1): no rota for team")
    assert service.outbox(purpose="page") == []
    told = {m.channel: m.body for m in customer_texts(service)}
    assert told["sms"].startswith(
        "Vendor Support: your critical case 1001 is open and our support managers have been "
        "alerted. Quote case 1001 when you contact us.\nCase page: https://"
    )
    assert "our support managers have been alerted" in told["email"]
    assert all("has been paged" not in body for body in told.values())

    service.world.settle()
    assert service.world.texts(DANA)[0].startswith("UNROUTABLE case 1001")
    assert len(service.world.fake.emails_to("support-queue@vendor.example")) == 1


def test_no_rota_at_all_the_email_auto_reply_tells_the_truth(make_service):
    service = make_service()
    service.customers_name_team("nights")
    service.runtime.poll_files()

    response = post(service.client, simple())
    assert response.get_json()["outcome"] == "case"
    (reply,) = service.outbox(purpose="opened")
    assert "your case is open and our support managers have been alerted" in reply.body
    assert "has been paged" not in reply.body
    (alert,) = service.outbox(purpose="manager_page")
    assert alert.to_address == DANA and "no rota for team 'nights'" in alert.body


def test_escalation_contacts_are_who_is_alerted(make_service):
    service = make_service(escalation_contacts=["+15550100199", "Duty@Vendor.example"])
    service.customers_name_team("nights")
    service.runtime.poll_files()

    post(service.client, simple())
    alerts = {(m.channel, m.to_address) for m in service.outbox(purpose="manager_page")}
    # The contacts, and no other team's manager (Dana manages support, not nights).
    assert alerts == {("sms", "+15550100199"), ("email", "duty@vendor.example")}
    service.world.settle()
    # A contact who was alerted may take the case by SMS.
    reply = service.world.sms("+15550100199", "ACK 1001")
    assert reply.startswith("Acknowledged 1001 (Acme Corp, S1).")


def test_nobody_on_call_for_the_first_step_the_caller_is_not_told_a_page_went_out(
    make_service,
):
    service = make_service(rota=NIGHTS_ONLY_FIRST_STEP)
    call = call_in_an_s1(service.client)
    # The first step pages nobody; the managers are alerted at once ...
    (alert,) = service.outbox(purpose="manager_page")
    assert alert.to_address == DANA
    assert "the first escalation step of team 'support' reaches nobody now" in alert.body
    # ... and the caller is rung through to the next step's Bob, who does not answer. No
    # engine has run yet, so no page to an engineer has gone out: the caller hears that.
    assert call.last.dial.find("Number").text == BOB
    t = call.engineer_does_not_answer()
    assert "our support managers have been alerted" in t.text
    assert "has been paged" not in t.text
    # The engine pages the next step at once (an empty step does not wait for its time).
    service.world.settle()
    assert service.world.texts(BOB) == [PAGE_1001]
    assert service.world.texts(ALICE) == []


def test_an_unroutable_case_pages_within_one_tick_of_its_rota_appearing(make_service):
    service = make_service()
    service.customers_name_team("nights")
    service.runtime.poll_files()
    call_in_an_s1(service.client)
    service.world.advance(seconds=20)  # the route check looks at every tick, on one row
    with service.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.kind == "route_check")) == 1  # fmt: skip
    assert service.world.texts(ALICE) == []

    text = (
        (ROOT / "rotations" / "support.yaml").read_text().replace("team: support", "team: nights")
    )
    (service.rotations / "nights.yaml").write_text(text)
    service.runtime.poll_files()  # the service notices the file (reload_poll, or SIGHUP)
    service.world.advance(seconds=1)  # one tick
    assert service.world.texts(ALICE) == [PAGE_1001]
    kinds = service.world.kinds(1001)
    assert kinds.index("unroutable") < kinds.index("routed") < kinds.index("paged")
    with service.runtime.sessions() as session:
        case = session.scalar(select(Case))
        assert case.escalation  # the team's policy, frozen on the case from now on


def test_a_first_page_that_fails_still_opens_the_case_and_tells_the_truth(
    make_service, monkeypatch, caplog
):
    from oncall.engine import escalation

    service = make_service()

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug in the first page")

    with monkeypatch.context() as patch:
        patch.setattr(escalation, "run_escalation", broken)
        response = post(service.client, simple())
    assert response.get_json()["outcome"] == "case"  # the case opened all the same
    (reply,) = service.outbox(purpose="opened")
    assert "our support managers have been alerted" in reply.body
    (alert,) = service.outbox(purpose="manager_page")
    assert alert.to_address == DANA and "the first page could not be queued" in alert.body
    assert "paging the first step failed; the tick retries" in caplog.text
    service.world.settle()  # the bug is gone: the tick pages the first step after all
    assert service.world.texts(ALICE)[0].startswith("[S1] Case 1001 Acme Corp: Sev 1")


def test_retire_on_a_database_never_migrated_says_what_to_do(make_settings, tmp_path, runner):
    settings = make_settings(f"sqlite:///{tmp_path / 'empty.db'}")
    result = runner.invoke(main, ["--config", settings.source, "rota", "retire", "nights"])
    assert result.exit_code == 1
    # The CLI's database preflight (issue 15 item 7) answers before anything opens the file.
    assert result.output == (
        f"Error: no database at {tmp_path / 'empty.db'}: run `oncall db upgrade` to create it\n"
    )
    assert not (tmp_path / "empty.db").exists()  # and no empty database is left behind
    (tmp_path / "empty.db").touch()  # a database file that was never migrated
    result = runner.invoke(main, ["--config", settings.source, "rota", "retire", "nights"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: the database sqlite:///{tmp_path / 'empty.db'} has no tables yet: "
        "run `oncall db upgrade`\n"
    )


def test_after_a_restart_without_the_rota_the_team_manager_is_still_alerted(make_service):
    first = make_service()
    call_in_an_s1(first.client)
    first.world.settle()
    first.world.sms(ALICE, "RESOLVE 1001 false alarm")
    (first.rotations / "support.yaml").unlink()

    restarted = make_service(rota=None)  # same database, the file gone: no team at all
    assert restarted.runtime.rotas.teams() == {}
    call = call_in_an_s1(restarted.client)
    assert "our support managers have been alerted" in call.last.text
    # Dana, as the team's newest case froze its rota, is alerted at once.
    alerts = [m for m in restarted.outbox(purpose="manager_page") if m.case_id == 2]
    assert [(m.to_address, m.recipient) for m in alerts] == [(DANA, "dana")]


def test_when_not_even_a_manager_can_be_alerted_nobody_is_told_they_were(make_service):
    service = make_service(rota=None)  # no rota, no case before, no escalation_contacts
    status, reasons, _ = service.health()
    assert status == 503 and reasons == [
        "team 'support' has no rota loaded: a call from Acme Corp would page no engineer (the "
        "managers are alerted instead)",
        "nobody would be alerted instead either: no loaded rota names a manager with a phone "
        "or email, and config.yaml sets no escalation_contacts",
    ]
    call = call_in_an_s1(service.client)
    said = call.last.text
    assert "we could not reach an engineer or a manager just now" in said
    assert "passed to our support team by email" in said
    assert "have been alerted" not in said and "has been paged" not in said
    assert service.outbox(purpose="manager_page") == []
    (forward,) = service.outbox(purpose="forward")
    assert forward.to_address == "support-queue@vendor.example" and "UNROUTABLE" in forward.subject
    told = {m.channel: m.body for m in customer_texts(service)}
    assert "could not reach an engineer or a manager" in told["sms"]
    assert "could not reach an engineer or a manager" in told["email"]


def test_a_contact_who_is_also_the_manager_is_alerted_once(make_service):
    service = make_service(rota=NIGHTS_ONLY_FIRST_STEP, escalation_contacts=[DANA, "+15550100199"])
    post(service.client, simple())
    alerts = sorted(m.to_address for m in service.outbox(purpose="manager_page"))
    assert alerts == ["+15550100104", "+15550100199"]
