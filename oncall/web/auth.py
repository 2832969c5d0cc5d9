"""Dashboard sign-in, sessions, CSRF, and the guard that keeps every other page private.

Users live in ``config.yaml`` (``users:``, made with ``oncall user add``). Checking a password,
the sign-in limiter and the sessions are :mod:`oncall.services.sign_in`'s: a session is a row on
the server, and the browser's cookie (Flask's signed session: HttpOnly, SameSite=Lax, Secure
behind https) carries only its random token, so signing out ends it for every copy of the
cookie.

The guard (:func:`init_app`) runs before every request: anything that is not in
:data:`PUBLIC` needs a signed-in user, and every state-changing request to a private page (and
to the sign-in form itself) must carry the session's CSRF token. Public paths are listed in one
place, each with what protects it instead, so adding a route can never make it public by
accident: a new route is private until someone adds it here.

Which Flask extensions, and why:

* **Flask-WTF** (``CSRFProtect``) makes and checks the CSRF tokens (signed, bound to the
  session, plus a same-origin ``Referer`` check on https). The guard calls it, so the order
  stays "sign in first, then CSRF" and the webhooks, which carry their own proof, are never
  asked for a token.
* **Flask-Login**: not used. Its model is "public unless a view says ``login_required``"; ours is
  the guard's "private unless listed public", which a forgotten decorator cannot open. What is
  left for it to do (put a user id in the session) is one line, and the server-side session
  (its "alternative token" pattern) would be ours to write either way.
* **Flask-Limiter**: not used. It counts in process memory (or Redis, which this service does
  not run) on the wall clock; the limiter here counts in the database, which every worker
  shares, on the runtime's clock, which tests move; and it lets a browser that has signed in
  as a user before past that user's (not the address's) limit, which needs the outcome of the
  password check rather than a request count.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import BadRequest, Forbidden

from oncall.config.settings import User
from oncall.services.sign_in import (
    ADDRESS_LIMIT,
    MAX_USERNAME,
    sign_in,
    sign_out,
    signed_in_user,
)
from oncall.web.context import runtime
from oncall.web.edge import CONTROL_CHARACTERS

log = logging.getLogger("oncall.web.auth")

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()


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
    PublicPath("/metrics", "", "metrics.token when set (bearer); counts only, no case details"),
    PublicPath("/twilio/", "", "X-Twilio-Signature (oncall.web.twilio.signature.twilio_signed)"),
    PublicPath("/email/inbound", "", "HTTP Basic credentials from email.inbound"),
    PublicPath("/rota/", ".ics", "the feed token in the URL (oncall.web.feeds)"),
    PublicPath("/api/", "", "a bearer token from api.tokens; /api/openapi.json is public"),
    PublicPath("/login", "", "nothing: the sign-in form (CSRF-checked, rate-limited)"),
    PublicPath("/c/", "", "the case page's token in the URL (oncall.web.case_page); CSRF-checked"),
    PublicPath("/static/", "", "nothing: CSS and the countdown script"),
    PublicPath("/favicon.ico", "", "nothing: the dashboard's icon"),
)

# Public paths whose POSTs carry their own proof (signatures, Basic auth): no CSRF token.
# /login and the case page's forms are public but *are* CSRF-checked, so a third-party page
# cannot sign a victim in or post on a customer's case in their name.
CSRF_EXEMPT = tuple(p for p in PUBLIC if p.path not in ("/login", "/c/"))

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LIMIT = ADDRESS_LIMIT  # failed sign-ins from one address before it waits (see services)
CSRF_MESSAGE = "CSRF token missing or wrong: reload the page and try again"
# A browser that has signed in as a user carries this signed cookie naming them; the per-user
# limit (not the per-address one) lets it through, so an attacker elsewhere can't lock them out.
DEVICE_COOKIE = "oncall_device"
DEVICE_COOKIE_DAYS = 365


def is_public(path: str) -> bool:
    return any(p.matches(path) for p in PUBLIC)


def _csrf_exempt(path: str) -> bool:
    return any(p.matches(path) for p in CSRF_EXEMPT)


# -- sessions and users ---------------------------------------------------------------------
def current_user() -> User | None:
    return g.get("user")


def _load_user() -> User | None:
    rt = runtime()
    return signed_in_user(rt, session.get("sid"), rt.clock.now())


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site. Refused: other sites (``https://evil.example``,
    ``//evil.example``), backslashes (``/\\evil.example``, read as ``//`` by browsers), and any
    control character or whitespace (``/%09/evil.example``: browsers drop the tab and go to
    ``//evil.example``)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or CONTROL_CHARACTERS.search(target) or any(c.isspace() for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
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
            raise Forbidden("managers only")
        return view(*args, **kwargs)

    return wrapper


# -- known devices --------------------------------------------------------------------------
def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="oncall.known-device")


def _known_device(username: str) -> bool:
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return False
    try:
        return _device_serializer().loads(cookie) == username.strip().casefold()
    except BadSignature:
        return False


def _remember_device(response: Response, user: User) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps(user.username.casefold()),
        max_age=DEVICE_COOKIE_DAYS * 86400,
        path=url_for("auth.login"),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


# -- the guard ------------------------------------------------------------------------------
def init_app(app: Flask) -> None:
    # The guard decides when to check (below); tokens live as long as the session does.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError):
        log.warning("CSRF check failed on %s: %s", request.path, exc.description)
        return BadRequest(CSRF_MESSAGE).get_response()

    @app.before_request
    def _guard():
        path = request.path
        if is_public(path):
            # Only the sign-in form needs to know who is signed in; the webhooks, health and
            # metrics never touch the session store.
            g.user = _load_user() if path == url_for("auth.login") else None
            if request.method not in SAFE_METHODS and not _csrf_exempt(path):
                csrf.protect()
            return None
        g.user = _load_user()
        if g.user is None:
            if session.get("sid"):
                session.clear()  # signed out elsewhere, expired, or the password changed
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if request.method not in SAFE_METHODS:
            csrf.protect()
        return None

    @app.context_processor
    def _template_helpers():
        # Templates also get csrf_token() from Flask-WTF: every form carries it.
        return {"current_user": g.get("user")}

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
    username = request.form.get("username", "").strip()[:MAX_USERNAME]
    result = sign_in(
        rt,
        username,
        request.form.get("password", ""),
        request.remote_addr or "-",
        _known_device(username),
        rt.clock.now(),
    )
    if result.retry_after:
        minutes = (result.retry_after + 59) // 60
        body = render_template(
            "login.html",
            next=next_url,
            username=username,
            error=f"Too many failed sign-ins. Try again in {minutes} minute(s).",
        )
        return body, 429, {"Retry-After": str(result.retry_after)}
    if result.user is None or result.token is None:
        body = render_template(
            "login.html", next=next_url, username=username, error="Wrong username or password."
        )
        return body, 401

    # A fresh session (and CSRF token) at sign-in: a session id planted before cannot ride it.
    session.clear()
    session["sid"] = result.token
    response = redirect(next_url)
    _remember_device(response, result.user)
    return response


@bp.post("/logout")
def logout():
    # The guard has already checked the CSRF token (logout by a third-party form is a nuisance).
    user = current_user()
    sign_out(runtime(), session.get("sid"))
    session.clear()
    if user is not None:
        log.info("signed out: %s", user.username)
    return redirect(url_for("auth.login"))
