"""``oncall serve``: gunicorn with one worker running the web app, the engine and the sender.

One worker on purpose: the single-box default uses SQLite, and one process is the one engine.
For several boxes, use the Procfile (gunicorn web workers plus ``oncall clock``) on PostgreSQL.

Before gunicorn starts, the command takes the SQLite database's engine lock and checks that
the port is free (:mod:`oncall.cli.ports`), so that a second ``oncall serve`` is one sentence
saying why, not a second engine or gunicorn's "Connection in use" five times over. SIGHUP
reloads config.yaml and the files managers edit inside the running worker (its last good
versions kept), instead of gunicorn's default of starting a fresh worker.
"""

from __future__ import annotations

import signal
import sys

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from oncall.config.settings import Settings


class _ReloadingArbiter(Arbiter):
    def handle_hup(self) -> None:
        self.log.info("SIGHUP: the worker reloads config.yaml, rotas, customers and voice flows")
        self.kill_workers(signal.SIGHUP)


class _SingleBox(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from oncall.bootstrap.background import BackgroundServices, install_sighup
        from oncall.bootstrap.runtime import build_runtime
        from oncall.config.logs import configure_logging
        from oncall.web.app import create_app

        configure_logging(self.settings.log_format, self.settings.log_level)
        runtime = build_runtime(self.settings)
        app = create_app(runtime=runtime)
        BackgroundServices(runtime, engine=True).start()
        install_sighup(runtime)  # gunicorn loads the app in the worker's main thread
        return app

    def run(self) -> None:
        try:
            _ReloadingArbiter(self).run()
        except RuntimeError as exc:  # what BaseApplication.run does with gunicorn's own errors
            print(f"\nError: {exc}\n", file=sys.stderr, flush=True)
            sys.exit(1)


def serve_single_box(settings: Settings, host: str, port: int, threads: int) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "loglevel": "warning",
    }
    print(f"oncall serving on http://{host}:{port} (transport: {settings.transport})", flush=True)
    _SingleBox(settings, options).run()
