"""``oncall serve``: gunicorn with one worker running the web app, the engine and the sender.

One worker on purpose: the single-box default uses SQLite, and one process is the one engine.
For several boxes, use the Procfile (gunicorn web workers plus ``oncall clock``) on PostgreSQL.
"""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from oncall.config.settings import Settings


class _SingleBox(BaseApplication):
    def __init__(self, settings: Settings, options: dict):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from oncall.bootstrap.background import BackgroundServices
        from oncall.bootstrap.runtime import build_runtime
        from oncall.config.logs import configure_logging
        from oncall.web.app import create_app

        configure_logging(self.settings.log_format, self.settings.log_level)
        runtime = build_runtime(self.settings)
        app = create_app(runtime=runtime)
        BackgroundServices(runtime, engine=True).start()
        return app


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
        # SIGHUP to the master restarts the worker, which reloads every file it reads.
    }
    print(f"oncall serving on http://{host}:{port} (transport: {settings.transport})", flush=True)
    _SingleBox(settings, options).run()
