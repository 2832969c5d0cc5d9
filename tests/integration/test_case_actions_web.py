"""Acting on a case from the web: the dashboard's case page (signed in, CSRF-protected, members
of the team or managers) and the JSON API (a token with scope act), with the same use cases as
the SMS commands; and managing TAKEs on the Rota page.

Tuesday 03:00 in Toronto: case 1001 (Acme, S1) has paged Alice (primary); Wile is the customer.
"""

from __future__ import annotations

import html
import re

import pytest
from openapi_schema_validator import OAS31Validator
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from oncall.bootstrap.runtime import build_runtime
from oncall.db.models import LiveOverride, MisuseFlag
from oncall.web.app import create_app
from tests.fakes.transports import ALICE, BOB, CAROL, WILE, FakeTransport, PagingWorld

PASSWORD = "correct horse battery"
FAST = "pbkdf2:sha256:1000"  # cheap hashes keep the suite fast


def user(role: str, member: str | None = None) -> dict:
    entry = {"role": role, "password_hash": generate_password_hash(PASSWORD, FAST)}
    return entry | ({"member": member} if member else {})


USERS = {
    "maria": user("manager"),  # a manager who is on no rota
    "alice": user("engineer", "alice"),  # Alice Ng, on the support rota
    "eddie": user("engineer"),  # an engineer account that is nobody on a rota
    "erin": user("engineer", "erin"),  # a member of no loaded team
}
READ = "read-token-0123456789"
ACT = "act-token-0123456789"
TOKENS = [
    {"name": "grafana", "token": READ},
    {"name": "runbook-bot", "token": ACT, "scope": "act"},
    {"name": "alice-laptop", "token": "alice-token-0123456789", "scope": "act", "member": "alice"},
]


@pytest.fixture
def world(make_settings, db_url, clock, db_engine) -> PagingWorld:
    settings = make_settings(db_url, users=USERS, api={"tokens": TOKENS})
    fake = FakeTransport()
    runtime = build_runtime(
        settings, clock=clock, transports={"sms": fake, "voice": fake, "email": fake}, db=db_engine
    )
    world = PagingWorld(runtime, clock, fake)
    world.open_case()
    world.settle()
    return world


@pytest.fixture
def client(world):
    return create_app(runtime=world.runtime, test_config={"TESTING": True}).test_client()


def sign_in(client, username: str) -> str:
    """Sign ``username`` in through the form; returns the CSRF token their pages carry."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.text
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/cases").text).group(1)


def act(client, csrf: str, action: str, number: int = 1001, **form):
    response = client.post(f"/cases/{number}/{action}", data={"csrf_token": csrf, **form})
    return response


def flashes(client, number: int = 1001) -> list[str]:
    page = client.get(f"/cases/{number}").text
    found = re.findall(r'class="flash (?:ok|error)" role="status">([^<]+)<', page)
    return [html.unescape(message) for message in found]


# -- the dashboard ----------------------------------------------------------------------------
def test_a_member_acknowledges_and_posts_a_status_with_an_eta(world, client):
    csrf = sign_in(client, "alice")
    page = client.get("/cases/1001").text
    assert 'id="act-ack"' in page and 'id="act-status"' in page and 'id="act-resolve"' in page
    response = act(client, csrf, "ack")
    assert response.status_code == 302 and response.location.endswith("/cases/1001")
    assert flashes(client) == [
        "Case 1001: Acknowledged 1001 (Acme Corp, S1). Status due to the customer by 04:00 EST."
    ]
    case = world.case(1001)
    assert (case.state, case.acknowledged_by, case.acknowledged_by_name) == (
        "acknowledged", "alice", "Alice Ng",
    )  # fmt: skip
    (text,) = [t for k, t in world.events(1001) if k == "acknowledged"]
    assert text.startswith("Acknowledged by Alice Ng via dashboard (alice)")

    act(client, csrf, "status", text="Failing over the database", eta="45m")
    world.settle()
    assert world.last_text(WILE).startswith(
        "Update on case 1001 from Alice Ng:\nFailing over the database ETA 45m\n"
        "Estimated time to resolution: 03:45 EST.\nCase page: https://"
    )
    assert "target_met" in world.kinds(1001)


def test_a_manager_escalates_downgrades_with_a_reason_and_is_named(world, client):
    csrf = sign_in(client, "maria")
    act(client, csrf, "escalate", text="Alice is on a plane")
    world.settle()
    assert world.last_text(BOB).startswith("ESC by maria. [S1] Case 1001")
    assert flashes(client) == ["Case 1001: Escalated 1001: paged Bob Roy."]

    act(client, csrf, "downgrade", severity="3", text="")  # a downgrade needs a reason
    assert flashes(client) == ["Case 1001: Give the reason for the downgrade."]
    assert world.case(1001).state == "open"
    act(client, csrf, "downgrade", severity="3", text="one user, a workaround exists")
    assert flashes(client)[0].startswith("Case 1001: 1001 downgraded to S3: off the critical line")
    case = world.case(1001)
    assert (case.state, case.severity) == ("downgraded", 3)
    reasons = [t for k, t in world.events(1001) if k == "downgrade_reason"]
    assert reasons == ["Reason for the downgrade, from maria: one user, a workaround exists"]
    with world.runtime.sessions() as session:
        flag = session.scalar(select(MisuseFlag))
    assert flag.reason == "Downgraded from S1 to S3 by maria: one user, a workaround exists"
    # A closed case: nothing changes, and the page says so.
    act(client, csrf, "resolve")
    assert flashes(client) == ["Case 1001: Case 1001 is downgraded: nothing changed."]
    assert world.case(1001).state == "downgraded"


def test_resolve_from_the_dashboard_tells_the_customer(world, client):
    csrf = sign_in(client, "alice")
    act(client, csrf, "resolve", text="Rolled back the release")
    world.settle()
    assert world.case(1001).state == "resolved"
    told = world.customer_text(WILE)
    assert told == (  # by SMS (a phone case): how to reopen within closure.reopen_within
        "Your case 1001 has been resolved.\nRolled back the release\n"
        "Not solved? Text REOPEN 1001 to this number by Tue 01 Dec 2026 03:00 EST."
    )
    assert 'id="actions"' not in client.get("/cases/1001").text  # nothing left to do


@pytest.mark.parametrize("username", ["eddie", "erin"])
def test_users_who_are_not_on_the_team_cannot_act(world, client, username):
    csrf = sign_in(client, username)
    page = client.get("/cases/1001").text
    assert "Only a manager or a member of team support can act on this case here." in page
    assert 'id="act-ack"' not in page
    for action in ("ack", "status", "escalate", "downgrade", "resolve"):
        response = act(client, csrf, action, text="x", severity="3")
        assert response.status_code == 403, action
    assert world.case(1001).state == "open"


def test_actions_need_the_csrf_token_and_a_known_case(world, client):
    csrf = sign_in(client, "alice")
    assert client.post("/cases/1001/ack").status_code == 400
    assert client.post("/cases/1001/ack", data={"csrf_token": "forged"}).status_code == 400
    assert world.case(1001).state == "open"
    assert act(client, csrf, "ack", number=4242).status_code == 404
    assert act(client, csrf, "snooze").status_code == 404  # not an action here
    assert act(client, csrf, "downgrade", severity="high", text="x").status_code == 400
    act(client, csrf, "downgrade", severity="2", text="still critical")
    assert flashes(client) == ["Case 1001: Downgrade to S3 or S4."]
    act(client, csrf, "status", text="Working on it", eta="soonish")
    assert flashes(client) == [
        "Case 1001: ETA 'soonish' is not a time like 2h, 45m, 04:30 or tomorrow 9am."
    ]
    assert world.case(1001).state == "open"


def test_signed_out_the_actions_send_you_to_sign_in(world, client):
    response = client.post("/cases/1001/ack")
    assert response.status_code == 302 and "/login" in response.location
    assert world.case(1001).state == "open"


# -- the API ----------------------------------------------------------------------------------
def api(client, path: str, token: str = ACT, **body):
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_api_actions_need_a_token_with_scope_act(world, client):
    response = api(client, "/api/cases/1001/ack", token=READ)
    assert response.status_code == 403
    assert response.get_json() == {"error": "token 'grafana' may only read (scope: read)"}
    assert client.post("/api/cases/1001/ack").status_code == 401
    assert world.case(1001).state == "open"


def test_api_acknowledge_status_escalate_resolve(world, client):
    document = client.get("/api/openapi.json", headers={"Authorization": f"Bearer {READ}"})
    document = document.get_json()

    def check(response, template: str, status: str) -> dict:
        assert str(response.status_code) == status, response.get_json()
        schema = document["paths"][template]["post"]["responses"][status]["content"][
            "application/json"
        ]["schema"]
        OAS31Validator({**schema, "components": document["components"]}).validate(
            response.get_json()
        )
        return response.get_json()

    body = check(api(client, "/api/cases/1001/ack"), "/api/cases/{number}/ack", "200")
    assert (
        body["message"]
        == "Acknowledged 1001 (Acme Corp, S1). Status due to the customer by 04:00 EST."
    )
    assert body["case"]["state"] == "acknowledged"
    assert body["case"]["acknowledged_by_name"] == "runbook-bot"
    check(api(client, "/api/cases/1001/status", text=""), "/api/cases/{number}/status", "400")
    body = check(
        api(client, "/api/cases/1001/status", text="Restoring from backup", eta="2h"),
        "/api/cases/{number}/status",
        "200",
    )
    assert body["case"]["eta_at"] == "2026-11-24T10:00:00+00:00"
    # An ETA the service cannot read is left out, as from a STATUS by SMS, and the answer says so.
    body = check(
        api(client, "/api/cases/1001/status", text="Still restoring", eta="when it's done"),
        "/api/cases/{number}/status",
        "200",
    )
    assert body["message"].startswith("Status sent to Acme Corp for 1001. ETA 05:00 EST.")
    world.settle()
    assert world.last_text(WILE).startswith(
        "Update on case 1001 from runbook-bot:\nStill restoring"
    )
    assert "when it's done" not in world.last_text(WILE)
    body = check(
        api(client, "/api/cases/1001/escalate", note="need the DBA"),
        "/api/cases/{number}/escalate",
        "200",
    )
    assert body["message"] == "Help requested on 1001: paged Bob Roy."
    body = check(
        api(client, "/api/cases/1001/resolve", note="restored"),
        "/api/cases/{number}/resolve",
        "200",
    )
    assert body["case"]["state"] == "resolved"
    body = check(api(client, "/api/cases/1001/resolve"), "/api/cases/{number}/resolve", "409")
    assert body["error"] == "Case 1001 is resolved: nothing changed."
    check(api(client, "/api/cases/4242/ack"), "/api/cases/{number}/ack", "404")
    kinds = [k for k, _t in world.events(1001)]
    assert kinds.count("acknowledged") == 1 and "escalated" in kinds and "resolved" in kinds


def test_api_token_acting_as_a_member_and_bad_bodies(world, client):
    token = "alice-token-0123456789"
    bad = client.post(
        "/api/cases/1001/status",
        data="[1, 2]",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    assert api(client, "/api/cases/1001/status", token=token, text=["x"]).status_code == 400
    response = api(client, "/api/cases/1001/ack", token=token)
    assert response.status_code == 200
    assert world.case(1001).acknowledged_by == "alice"


# -- TAKEs on the Rota page ------------------------------------------------------------------
def test_the_rota_pages_show_a_take_and_a_manager_removes_it(world, client):
    world.sms(CAROL, "TAKE primary for 3h")
    csrf = sign_in(client, "maria")
    now_page = client.get("/").text
    assert "Carol Li" in now_page and "until Tue 24 Nov 06:00 EST" in now_page
    page = html.unescape(client.get("/rotas/support").text)
    assert 'id="live-overrides"' in page and "instead of Alice Ng" in page
    assert (
        "- {rotation: primary, member: carol, from: 2026-11-24T03:00, until: 2026-11-24T06:00, "
        'note: "TAKE by Carol Li"}'
    ) in page
    (row_id,) = re.findall(r'data-override="(\d+)"', page)
    response = client.post(f"/rotas/support/overrides/{row_id}/remove", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert (
        "the rota file applies again; Carol Li is told by SMS." in client.get("/rotas/support").text
    )
    world.settle()
    assert world.last_text(CAROL).startswith("maria removed your TAKE of primary for support")
    with world.runtime.sessions() as session:
        removed = session.scalar(select(LiveOverride))
    assert (removed.removed_by, removed.removed_at) == ("maria", world.clock.now())
    world.open_case("globex")
    world.settle()
    assert world.last_text(ALICE).startswith("[S1] Case 1002")  # the file's primary again


def test_only_managers_remove_takes(world, client):
    world.sms(CAROL, "TAKE primary for 3h")
    csrf = sign_in(client, "alice")
    page = client.get("/rotas/support").text
    assert "Remove</button>" not in page
    (row_id,) = re.findall(r'data-override="(\d+)"', page)
    response = client.post(f"/rotas/support/overrides/{row_id}/remove", data={"csrf_token": csrf})
    assert response.status_code == 403
