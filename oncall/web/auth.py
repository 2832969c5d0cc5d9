"""Dashboard sign-in, sessions, CSRF, and the guard that keeps every other page private.

Users live in ``config.yaml`` (``users:``, made with ``oncall user add``); the session is
Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind https: set by the app factory).

The guard (:func:`init_app`) runs before every request: anything that is not in
:data:`PUBLIC` needs a signed-in user, and every state-changing request to a private page (and
to the sign-in form itself) must carry the session's CSRF token. Public paths are listed in one
place, each with what protects it instead, so adding a route can never make it public by
accident: a new route is private until someone adds it here.

The sign-in rate limiter is in memory and **per process**: with several gunicorn workers an
attacker gets ``LIMIT`` tries per worker. That is acceptable for a handful of managers with
strong passwords; a shared limiter would need the database or Redis for little gain.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash, generate_password_hash

from oncall.config.settings import User
from oncall.web.context import runtime

log = logging.getLogger("oncall.web.auth")

bp = Blueprint("auth", __name__)


@dataclass(frozen=True)
class PublicPath:
    path: str  # the path itself, or a folder ("/twilio/") covering everything under it
    suffix: str  # and the path must end with this ("" = anything)
    protected_by: str  # what checks the caller instead of a dashboard sign-in

    def matches(self, path: str) -> bool:
        if self.path.endswith("/"):
            inside = path.startswith(self.path)
        else:
            inside = path == self.path or path.startswith(self.path + "/")
        return inside and path.endswith(self.suffix)


# Everything that answers without a dashboard sign-in. Keep this list short and explicit.
PUBLIC: tuple[PublicPath, ...] = (
    PublicPath("/healthz", "", "nothing: load balancers and uptime checks"),
    PublicPath("/livez", "", "nothing: process liveness, touches no database"),
    PublicPath("/metrics", "", "nothing: Prometheus scrapes it; counts only, no case details"),
    PublicPath("/twilio/", "", "X-Twilio-Signature (oncall.web.twilio.signature.twilio_signed)"),
    PublicPath("/email/inbound", "", "HTTP Basic credentials from email.inbound"),
    PublicPath("/rota/", ".ics", "the feed token in the URL (oncall.web.feeds)"),
    PublicPath("/api/", "", "a bearer token from api.tokens (oncall.web.api.routes)"),
    PublicPath("/login", "", "nothing: the sign-in form (CSRF-checked, rate-limited)"),
    PublicPath("/static/", "", "nothing: CSS and the countdown script"),
    PublicPath("/favicon.ico", "", "nothing: the dashboard's icon"),
)

# Public paths whose POSTs carry their own proof (signatures, Basic auth): no CSRF token.
# /login is public but *is* CSRF-checked, so a third-party page cannot sign a victim in.
CSRF_EXEMPT = tuple(p for p in PUBLIC if p.path != "/login")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_MAX_AGE = timedelta(hours=12)  # a signed cookie never expires by itself; we make it
LIMIT = 5  # failed sign-ins per username and address ...
WINDOW = timedelta(minutes=5)  # ... inside this window, then 429 until the oldest ages out
_LIMITER_KEYS = 10_000  # bound memory: forget the least recently failing keys beyond this

# Checked against when the username is unknown, so an unknown name costs as much time as a
# wrong password and response times don't reveal which usernames exist.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def is_public(path: str) -> bool:
    return any(p.matches(path) for p in PUBLIC)


def _csrf_exempt(path: str) -> bool:
    return any(p.matches(path) for p in CSRF_EXEMPT)


# -- rate limiting ----------------------------------------------------------------------------
class SignInLimiter:
    """Failed sign-ins per (username, address) in a sliding window; in memory, per process."""

    def __init__(self, limit: int = LIMIT, window: timedelta = WINDOW):
        self.limit = limit
        self.window = window
        self._failures: OrderedDict[tuple[str, str], deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, key: tuple[str, str], now: datetime) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        with self._lock:
            failures = self._recent(key, now)
            if len(failures) < self.limit:
                return 0
            return max(int((failures[0] + self.window - now).total_seconds()) + 1, 1)

    def failed(self, key: tuple[str, str], now: datetime) -> None:
        with self._lock:
            failures = self._recent(key, now)
            failures.append(now)
            self._failures[key] = failures
            self._failures.move_to_end(key)
            while len(self._failures) > _LIMITER_KEYS:
                self._failures.popitem(last=False)

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


def _limiter() -> SignInLimiter:
    return current_app.extensions["oncall.signin_limiter"]


# -- sessions and users ---------------------------------------------------------------------
def _fingerprint(user: User) -> str:
    # Stored in the session: changing a user's password (or removing them) in config signs out
    # every session they had, without keeping server-side session state.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def current_user() -> User | None:
    return g.get("user")


def _load_user() -> User | None:
    name = session.get("user")
    if not name:
        return None
    user = runtime().settings.users.get(name)
    if user is None or session.get("fp") != _fingerprint(user):
        return None
    try:
        signed_in = datetime.fromisoformat(session.get("at", ""))
    except (TypeError, ValueError):
        return None
    if runtime().clock.now() - signed_in > SESSION_MAX_AGE:
        return None
    return user


def csrf_token() -> str:
    """This session's CSRF token (made on first use); every form carries it."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _csrf_ok() -> bool:
    expected = session.get("csrf", "")
    given = request.form.get("csrf_token", "") or request.headers.get("X-CSRF-Token", "")
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: ``next=https://evil.example`` or ``//evil.example`` must not redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def login_required(view: Callable) -> Callable:
    """For pages: redirect to the sign-in form (the guard already does; this documents it)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def manager_required(view: Callable) -> Callable:
    """Managers only (waiving fees): 403 for a signed-in engineer."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if user.role != "manager":
            abort(403, "managers only")
        return view(*args, **kwargs)

    return wrapper


# -- the guard ------------------------------------------------------------------------------
def init_app(app: Flask) -> None:
    app.extensions["oncall.signin_limiter"] = SignInLimiter()

    @app.before_request
    def _guard():
        g.user = _load_user()
        path = request.path
        if is_public(path):
            if request.method not in SAFE_METHODS and not _csrf_exempt(path) and not _csrf_ok():
                abort(400, "CSRF token missing or wrong: reload the page and try again")
            return None
        if g.user is None:
            if session.get("user"):
                session.clear()  # expired, or the user's password changed: start over
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if request.method not in SAFE_METHODS and not _csrf_ok():
            abort(400, "CSRF token missing or wrong: reload the page and try again")
        return None

    @app.context_processor
    def _template_helpers():
        return {"current_user": g.get("user"), "csrf_token": csrf_token}

    @app.after_request
    def _security_headers(response):
        # Pages are server-rendered with one stylesheet and one script from /static: nothing
        # inline, so a strict policy costs nothing and blunts any escaping mistake.
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                "form-action 'self'; base-uri 'none'",
            )
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            if g.get("user") is not None:
                response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


# -- views ----------------------------------------------------------------------------------
@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url)
        return render_template("login.html", next=next_url, error=None, username="")

    rt = runtime()
    now = rt.clock.now()
    username = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")
    key = (username.casefold(), request.remote_addr or "-")
    wait = _limiter().retry_after(key, now)
    if wait:
        log.warning("sign-in rate-limited for %r from %s", username, key[1])
        body = render_template(
            "login.html",
            next=next_url,
            username=username,
            error=f"Too many failed sign-ins. Try again in {(wait + 59) // 60} minute(s).",
        )
        return body, 429, {"Retry-After": str(wait)}

    user = rt.settings.users.get(username)
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or not user.password_hash:
        _limiter().failed(key, now)
        log.warning("failed sign-in for %r from %s", username, key[1])
        body = render_template(
            "login.html", next=next_url, username=username, error="Wrong username or password."
        )
        return body, 401

    _limiter().succeeded(key)
    # A fresh session (and CSRF token) at sign-in: a session id planted before cannot ride it.
    session.clear()
    session["user"] = user.username
    session["fp"] = _fingerprint(user)
    session["at"] = now.isoformat()
    csrf_token()
    log.info("signed in: %s (%s)", user.username, user.role)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    # The guard has already checked the CSRF token (logout by a third-party form is a nuisance).
    user = current_user()
    session.clear()
    if user is not None:
        log.info("signed out: %s", user.username)
    return redirect(url_for("auth.login"))
