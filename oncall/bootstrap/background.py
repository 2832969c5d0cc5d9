"""Background work inside a process: the outbox sender thread, the engine tick, the retention
pass (:mod:`oncall.engine.retention`), file polling.

APScheduler only drives the tick and the reload poll; what must happen lives in the database,
so a process that dies loses nothing and the next tick (in any process) picks it up.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import nullcontext

from apscheduler.schedulers.background import BackgroundScheduler

from oncall.db.session import paging_first
from oncall.db.single_engine import EngineLock, claim_engine
from oncall.delivery.reconcile import reconcile_stuck
from oncall.delivery.worker import OutboxSender
from oncall.engine.retention import RETENTION_EVERY, apply_retention
from oncall.engine.tick import TickResult, tick
from oncall.runtime import Runtime

log = logging.getLogger("oncall.bootstrap.background")


class BackgroundServices:
    def __init__(self, runtime: Runtime, *, engine: bool, sender: bool = True):
        self.runtime = runtime
        self.run_engine = engine
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.sender = None
        self.engine_lock: EngineLock | None = None
        if sender:
            self.sender = OutboxSender(runtime)
            runtime.wake_hooks.append(self.sender.wake)

    def start(self) -> None:
        """Start the work; with the engine on SQLite, first take the database's engine lock
        (raises :class:`~oncall.db.single_engine.EngineAlreadyRunning` before starting
        anything when another engine holds it)."""
        settings = self.runtime.settings
        if self.run_engine:
            self.engine_lock = claim_engine(settings.database_url, self.runtime.clock.now())
        if self.sender is not None:
            self.sender.start()
        if self.run_engine:
            self.scheduler.add_job(
                lambda: _guarded(clock_pass, self.runtime, urgent=True),
                "interval",
                seconds=settings.engine.tick.total_seconds(),
                id="engine-tick",
                max_instances=1,
                coalesce=True,
            )
            # Its own job, so a slow provider deleting recordings never delays a page.
            self.scheduler.add_job(
                lambda: _guarded(apply_retention, self.runtime),
                "interval",
                seconds=RETENTION_EVERY.total_seconds(),
                id="retention",
                max_instances=1,
                coalesce=True,
            )
        self.scheduler.add_job(
            lambda: _guarded(Runtime.poll_files, self.runtime),
            "interval",
            seconds=settings.engine.reload_poll.total_seconds(),
            id="reload-poll",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()
        log.info(
            "background services started (engine=%s, sender=%s, tick=%ss)",
            self.run_engine,
            self.sender is not None,
            settings.engine.tick.total_seconds(),
        )

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        if self.sender is not None:
            self.sender.stop()
        if self.engine_lock is not None:
            self.engine_lock.release()


def clock_pass(runtime: Runtime) -> tuple[TickResult, int]:
    """What the clock does every tick: apply due deadlines, then decide sends stuck in doubt
    (and wake the sender if that queued any again). Returns the tick and the reconciled count."""
    result = tick(runtime)
    reconciled = reconcile_stuck(runtime, runtime.clock.now())
    if reconciled:
        runtime.wake_sender()
    return result, reconciled


def _guarded(function, runtime: Runtime, *, urgent: bool = False) -> None:
    # The engine's writes go ahead of the web's on the single box; other jobs take turns.
    try:
        with paging_first() if urgent else nullcontext():
            function(runtime)
    except Exception:  # a failing tick must not kill the scheduler; the next one retries
        log.exception("background job %s failed", getattr(function, "__name__", function))


def install_sighup(runtime: Runtime) -> None:
    """SIGHUP reloads config.yaml, rotas, customers and voice flows at once (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def _reload(_signum, _frame):
        log.info("SIGHUP: reloading config.yaml, rotas, customers and voice flows")
        runtime.reload_files()

    signal.signal(signal.SIGHUP, _reload)
