"""Sign-in as the ecosystem does it (issue 10, item 5).

The attacks of the issue, replayed: a ``next`` that leaves the site, six wrong passwords for
dana from the proxy's address, a copied session cookie used after sign-out. Plus what a
serious product does around them: the proxy's forwarded headers believed only when
configured, a per-user bound that never locks a user out of a browser they have signed in
from, one count shared by every worker, sessions that end on the server.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from oncall.db.models import SignInFailure, WebSession
from oncall.services.sign_in import ADDRESS_LIMIT, USER_LIMIT, WINDOW

PASSWORD = "correct horse battery"
FAST = "pbkdf2:sha256:1000"  # a cheap hash keeps the suite fast; `oncall user add` makes real ones
USERS = {
    "dana": {"role": "manager", "password_hash": generate_password_hash(PASSWORD, FAST)},
    "eddie": {"role": "engineer", "password_hash": generate_password_hash(PASSWORD, FAST)},
}
PROXY = "10.0.0.2"  # the reverse proxy in front of the service
ATTACKER = "203.0.113.9"
DANA = "198.51.100.4"


@pytest.fixture
def settings(make_settings, db_url):
    return make_settings(db_url, users=USERS)


@pytest.fixture
def behind_proxy(make_settings, db_url, clock, transports, db_engine):
    """The app with ``web.trusted_proxies: 1``, as deployed behind one reverse proxy."""
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    settings = make_settings(db_url, users=USERS, web={"trusted_proxies": 1})
    runtime = build_runtime(settings, clock=clock, transports=transports, db=db_engine)
    return create_app(runtime=runtime, test_config={"TESTING": True})


# -- helpers --------------------------------------------------------------------------------
def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, username="dana", password=PASSWORD, next_url=None, **environ):
    """Sign in through the form, as a browser does (GET the form, POST it)."""
    environ_base = {"REMOTE_ADDR": environ.pop("address", "127.0.0.1")}
    headers = environ.pop("headers", {})
    page = client.get("/login", environ_base=environ_base, headers=headers)
    data = {"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data, environ_base=environ_base, headers=headers)


def through_proxy(client_address: str) -> dict:
    """A request as the proxy forwards it: its own address, the client's in the header."""
    return {"address": PROXY, "headers": {"X-Forwarded-For": client_address}}


def sign_out(client):
    csrf = csrf_from(client.get("/cases").text)
    return client.post("/logout", data={"csrf_token": csrf})


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


# -- where sign-in sends you ----------------------------------------------------------------
HOSTILE_NEXT = [
    "/\t/evil.example/phish",  # the issue's /%09/evil.example/phish, decoded
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\x00/evil.example",
    "//evil.example/x",
    "/\\evil.example",
    "/\\/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/ /evil.example",
    "/\u3000/evil.example",
    "\t//evil.example",
]


def test_sign_in_next_with_an_encoded_tab_stays_on_the_site(client):
    """``/login?next=/%09/evil.example/phish`` must not send a signed-in manager away."""
    assert sign_in(client).status_code == 302
    response = client.get("/login?next=/%09/evil.example/phish")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_never_redirects_off_the_site(client, target):
    response = sign_in(client, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/", target


@pytest.mark.parametrize("target", ["/cases", "/cases/1001", "/misuse?month=2026-11", "/rotas/ops"])
def test_sign_in_keeps_a_path_on_the_site(client, target):
    response = sign_in(client, next_url=target)
    assert response.headers["Location"] == target


def test_the_sign_in_form_carries_only_a_safe_next(client):
    page = client.get("/login?next=/%09/evil.example/phish").text
    assert 'name="next" value="/"' in page


# -- the limiter: per client address, and loosely per user ----------------------------------
def test_six_wrong_passwords_for_dana_from_the_proxy_do_not_lock_her_out(behind_proxy):
    """Behind a proxy every request comes from its address; with ``web.trusted_proxies`` the
    limiter keys on the client's address from X-Forwarded-For instead."""
    attacker, dana = behind_proxy.test_client(), behind_proxy.test_client()
    for _ in range(ADDRESS_LIMIT):
        assert sign_in(attacker, password="guess", **through_proxy(ATTACKER)).status_code == 401
    assert sign_in(attacker, password="guess", **through_proxy(ATTACKER)).status_code == 429
    assert sign_in(attacker, **through_proxy(ATTACKER)).status_code == 429  # even the right one
    assert sign_in(dana, **through_proxy(DANA)).status_code == 302
    assert dana.get("/").status_code == 200


def test_six_wrong_passwords_from_elsewhere_do_not_lock_dana_out(client):
    for _ in range(ADDRESS_LIMIT + 1):
        sign_in(client, password="guess", address=ATTACKER)
    assert sign_in(client, address=ATTACKER).status_code == 429
    assert sign_in(client, address=DANA).status_code == 302


def test_without_trusted_proxies_forwarded_headers_are_ignored(client):
    """Anyone can send X-Forwarded-For: unless configured, a new one per try changes nothing."""
    for n in range(ADDRESS_LIMIT):
        forged = {"address": ATTACKER, "headers": {"X-Forwarded-For": f"192.0.2.{n}"}}
        assert sign_in(client, password="guess", **forged).status_code == 401
    forged = {"address": ATTACKER, "headers": {"X-Forwarded-For": "192.0.2.99"}}
    assert sign_in(client, **forged).status_code == 429


def test_the_address_limit_covers_every_user_name(client):
    """Guessing one password across all the managers counts against the address too."""
    for name in ("dana", "eddie", "nobody", "dana", "eddie"):
        assert sign_in(client, name, "guess", address=ATTACKER).status_code == 401
    assert sign_in(client, "eddie", address=ATTACKER).status_code == 429


def test_the_block_lifts_when_the_window_has_passed(client, clock):
    for _ in range(ADDRESS_LIMIT):
        sign_in(client, password="guess", address=ATTACKER)
    blocked = sign_in(client, address=ATTACKER)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= WINDOW.total_seconds() + 1
    clock.advance(WINDOW)
    assert sign_in(client, address=ATTACKER).status_code == 302


def test_many_addresses_guessing_one_user_stop_at_the_user_bound(app, client, clock):
    """A botnet spreads its guesses over many addresses: the per-user bound stops it, but
    Dana's own browser, which has signed in as her before, still gets in."""
    known = app.test_client()
    assert sign_in(known, address=DANA).status_code == 302
    sign_out(known)
    for n in range(USER_LIMIT):
        bot = app.test_client()
        assert sign_in(bot, password="guess", address=f"203.0.113.{n + 1}").status_code == 401
    stranger = app.test_client()
    assert sign_in(stranger, address="192.0.2.44").status_code == 429  # a new browser waits
    assert sign_in(known, address="192.0.2.45").status_code == 302  # hers does not
    assert sign_in(app.test_client(), "eddie", address="192.0.2.46").status_code == 302


def test_a_forged_known_device_cookie_does_not_pass_the_user_bound(app):
    for n in range(USER_LIMIT):
        sign_in(app.test_client(), password="guess", address=f"203.0.113.{n + 1}")
    forger = app.test_client()
    forger.set_cookie("oncall_device", "ImRhbmEi.forged", path="/login")
    assert sign_in(forger, address="192.0.2.50").status_code == 429


def test_the_count_is_shared_by_every_worker(make_settings, db_url, clock, transports, db_engine):
    """Two app instances on one database (two gunicorn workers) see one count."""
    from oncall.bootstrap.runtime import build_runtime
    from oncall.web.app import create_app

    settings = make_settings(db_url, users=USERS)
    workers = [
        create_app(
            runtime=build_runtime(settings, clock=clock, transports=transports, db=db_engine)
        )
        for _ in range(2)
    ]
    for n in range(ADDRESS_LIMIT):
        worker = workers[n % 2].test_client()
        assert sign_in(worker, password="guess", address=ATTACKER).status_code == 401
    for worker in workers:
        assert sign_in(worker.test_client(), address=ATTACKER).status_code == 429


def test_failed_sign_ins_are_pruned_after_the_window(client, runtime, clock):
    for _ in range(3):
        sign_in(client, password="guess", address=ATTACKER)
    clock.advance(WINDOW)
    sign_in(client, password="guess", address=DANA)
    with runtime.sessions() as session:
        rows = session.scalars(select(SignInFailure)).all()
    assert [row.address for row in rows] == [DANA]


# -- proxies: the scheme is the client's too ------------------------------------------------
def test_behind_a_trusted_proxy_the_scheme_is_the_clients(behind_proxy):
    """Forwarded as https, a POST must come from our own pages (Flask-WTF's Referer check on
    https), and a foreign Referer is refused."""
    client = behind_proxy.test_client()
    https = {"X-Forwarded-For": DANA, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "oncall"}
    page = client.get("/login", environ_base={"REMOTE_ADDR": PROXY}, headers=https)
    data = {"username": "dana", "password": PASSWORD, "csrf_token": csrf_from(page.text)}
    foreign = client.post(
        "/login",
        data=data,
        environ_base={"REMOTE_ADDR": PROXY},
        headers={**https, "Referer": "https://evil.example/login"},
    )
    assert foreign.status_code == 400
    ours = client.post(
        "/login",
        data=data,
        environ_base={"REMOTE_ADDR": PROXY},
        headers={**https, "Referer": "https://oncall/login"},
    )
    assert ours.status_code == 302


# -- sessions end on the server -------------------------------------------------------------
def test_a_copied_session_cookie_stops_working_after_sign_out(app, client):
    assert sign_in(client).status_code == 302
    stolen = app.test_client()
    stolen.set_cookie("session", session_cookie(client))
    assert stolen.get("/").status_code == 200  # the copy works while the session lives ...
    assert sign_out(client).status_code == 302
    response = stolen.get("/")  # ... and not a moment after sign-out
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signing_out_ends_only_that_session(app, client):
    laptop, phone = client, app.test_client()
    sign_in(laptop)
    sign_in(phone)
    sign_out(laptop)
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 200


def test_the_session_table_holds_no_usable_token(client, runtime):
    sign_in(client)
    with runtime.sessions() as session:
        (row,) = session.scalars(select(WebSession)).all()
    assert row.username == "dana"
    assert row.token_hash not in session_cookie(client)
    assert re.fullmatch(r"[0-9a-f]{64}", row.token_hash)


def test_a_session_ends_after_its_lifetime(client, clock):
    sign_in(client)
    clock.advance(hours=12, minutes=1)
    assert client.get("/").status_code == 302


def test_a_changed_password_ends_the_session(client, runtime):
    from dataclasses import replace

    from oncall.config.settings import User

    sign_in(client)
    users = dict(runtime.settings.users)
    users["dana"] = User("dana", "manager", generate_password_hash("new password", FAST))
    runtime.settings = replace(runtime.settings, users=users)
    assert client.get("/").status_code == 302


def test_csrf_tokens_come_from_flask_wtf(client):
    """Signed, bound to the session: a token from another session is refused."""
    other_token = csrf_from(client.application.test_client().get("/login").text)
    page = client.get("/login")
    assert csrf_from(page.text) != other_token
    response = client.post(
        "/login", data={"username": "dana", "password": PASSWORD, "csrf_token": other_token}
    )
    assert response.status_code == 400
    assert "CSRF token missing or wrong" in response.text
