"""WSGI entry point for gunicorn (``web:`` in the Procfile): web plus the outbox sender.

The engine tick runs in the ``clock`` process; web workers only send what their own requests
enqueued (woken at once) so a page never waits for the next tick. Set ``ONCALL_ENGINE=1`` to
run the tick inside the web workers too (what ``oncall serve`` does on a single box); on
SQLite only the first worker gets the engine (one engine per SQLite file), the others serve
requests and say so in the log.

In production (an https ``public_url`` or ``ONCALL_ENV=production``) the app refuses to load
with empty or development secrets: see :mod:`oncall.config.production`.
"""

from __future__ import annotations

import gc
import logging
import os

from oncall.bootstrap.background import BackgroundServices
from oncall.bootstrap.runtime import build_runtime
from oncall.config.loading import load_settings
from oncall.config.logs import configure_logging
from oncall.config.production import refuse_development_secrets
from oncall.db.single_engine import EngineAlreadyRunning, claim_engine
from oncall.web.app import create_app

_settings = load_settings()
configure_logging(_settings.log_format, _settings.log_level)
# In production, an empty or published secret stops the worker from booting (gunicorn then
# exits, naming the variables to set) rather than serving on values anyone can read.
refuse_development_secrets(_settings)
_runtime = build_runtime(_settings)
app = create_app(runtime=_runtime)
_run_engine = os.environ.get("ONCALL_ENGINE") == "1"
if _run_engine:
    try:
        claim_engine(_settings.database_url, _runtime.clock.now())  # held for the process
    except EngineAlreadyRunning as refused:
        logging.getLogger("oncall.web").warning("this worker runs no engine: %s", refused)
        _run_engine = False
_services = BackgroundServices(_runtime, engine=_run_engine)
_services.start()

# What start-up built (the app, settings, rotas, compiled templates) lives as long as the
# process: frozen out of the collector's sight, a full collection no longer walks it while a
# request waits (the single box's lone pages had p99 outliers of 50-130 ms against a p50 of 30).
gc.freeze()
