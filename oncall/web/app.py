"""The Flask app factory.

``create_app()`` loads settings from ``ONCALL_CONFIG`` and builds a :class:`Runtime`; tests pass
their own runtime (fake clock, fake transports, a test database). Views reach the runtime
through :func:`oncall.web.context.runtime` and never build their own parts.
"""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, g, request

from oncall.bootstrap.runtime import build_runtime
from oncall.config.loading import load_settings
from oncall.config.settings import Settings
from oncall.runtime import Runtime
from oncall.web import auth, case_page, edge, email_inbound, feeds, health, metrics
from oncall.web.api import actions as api_actions
from oncall.web.api import routes as api_routes
from oncall.web.api import statements as api_statements
from oncall.web.context import attach
from oncall.web.dashboard import blueprint as dashboard
from oncall.web.twilio import sms as twilio_sms
from oncall.web.twilio import status as twilio_status
from oncall.web.twilio import voice as twilio_voice

log = logging.getLogger("oncall.web")


def create_app(
    settings: Settings | None = None,
    runtime: Runtime | None = None,
    test_config: dict | None = None,
) -> Flask:
    if runtime is None:
        settings = settings or load_settings()
        runtime = build_runtime(settings)
    settings = runtime.settings

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        ONCALL_SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    attach(app, runtime)

    edge.install(app, trusted_proxies=settings.trusted_proxies)
    _install_request_logging(app)
    _register_blueprints(app)
    return app


def _install_request_logging(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        # Accept a caller's id only if it is short and printable: it goes into our logs.
        g.request_id = (
            incoming
            if 0 < len(incoming) <= 64 and incoming.isprintable()
            else (uuid.uuid4().hex[:16])
        )
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        response.headers["X-Request-Id"] = g.get("request_id", "")
        log.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            response.status_code,
            elapsed_ms,
            extra={"request_id": g.get("request_id", "")},
        )
        return response


def _register_blueprints(app: Flask) -> None:
    """Every blueprint, in order; a module's optional ``init_app(app)`` runs after it."""
    assert api_actions.bp is api_routes.bp is api_statements.bp
    for module in (
        health,
        auth,  # before the others: its guard must run before any other module's hooks
        dashboard,
        api_routes,  # with api_actions' and api_statements' routes: one blueprint, one guard
        metrics,
        feeds,
        twilio_voice,
        email_inbound,
        twilio_sms,
        twilio_status,
        case_page,
    ):
        app.register_blueprint(module.bp)
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)
