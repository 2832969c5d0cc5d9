"""The one place that wires real or fake parts together.

A :class:`Runtime` holds the settings, the clock, the database, the live (hot-reloaded) rotas,
customers and voice flows, and the transports. The web app, the engine ticker and the CLI each
build one; tests build one with a fake clock and fake transports.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from oncall.clock import Clock, SystemClock
from oncall.config import Settings
from oncall.customers import Directory, load_directory
from oncall.db.session import make_engine, make_session_factory
from oncall.reloading import ReloadingFile
from oncall.rotas import RotaRegistry
from oncall.yamlsource import SourceError

log = logging.getLogger("oncall.runtime")


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Engine
    sessions: sessionmaker[Session]
    rotas: RotaRegistry
    customers: ReloadingFile[Directory]
    transports: dict[str, Any]
    voice_flows: Any = None  # ReloadingFile of the IVR flow, set by the intake wiring
    instance: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # Called after a transaction that enqueued messages commits, so pages leave at once.
    wake_hooks: list[Callable[[], None]] = field(default_factory=list)

    def wake_sender(self) -> None:
        for hook in self.wake_hooks:
            hook()

    def directory(self) -> Directory:
        value = self.customers.value
        if value is None:
            return Directory({}, {})
        return value

    def poll_files(self) -> None:
        """Pick up edited rotas, customers and voice flows (the last good version stays live)."""
        self.rotas.poll()
        self.customers.poll()
        if self.voice_flows is not None:
            self.voice_flows.poll()

    def reload_files(self) -> None:
        """Reload everything now (SIGHUP)."""
        self.rotas.reload()
        self.customers.load()
        if self.voice_flows is not None:
            self.voice_flows.load()

    def file_errors(self) -> list[SourceError]:
        errors = list(self.rotas.errors()) + self.customers.errors()
        if self.voice_flows is not None:
            errors += self.voice_flows.errors()
        return errors

    def close(self) -> None:
        self.db.dispose()


def build_runtime(
    settings: Settings,
    clock: Clock | None = None,
    transports: dict[str, Any] | None = None,
    db: Engine | None = None,
) -> Runtime:
    clock = clock or SystemClock()
    db = db or make_engine(settings.database_url)
    rotas = RotaRegistry(settings.paths.rotations, clock)
    rotas.load()
    customers: ReloadingFile[Directory] = ReloadingFile(
        settings.paths.customers, load_directory, "customers"
    )
    customers.load()
    runtime = Runtime(
        settings=settings,
        clock=clock,
        db=db,
        sessions=make_session_factory(db),
        rotas=rotas,
        customers=customers,
        transports=transports if transports is not None else default_transports(settings),
    )
    _attach_voice_flows(runtime)
    return runtime


def default_transports(settings: Settings) -> dict[str, Any]:
    """Transports by channel, chosen in config (console unless told otherwise)."""
    from oncall.delivery import build_transports

    return build_transports(settings)


def _attach_voice_flows(runtime: Runtime) -> None:
    try:
        from oncall.intake.voice_flow import load_flow_file
    except ImportError:  # the IVR is optional for engine-only tools such as `rota who`
        return
    flows = ReloadingFile(
        runtime.settings.paths.voice_flows / "critical_line.yaml", load_flow_file, "voice flow"
    )
    flows.load()
    runtime.voice_flows = flows
