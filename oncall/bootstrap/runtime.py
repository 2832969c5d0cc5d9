"""Wiring: build a :class:`~oncall.runtime.Runtime` from settings with real or fake parts.

This is the one place that chooses transports and loads the files managers edit; the web app,
the engine's ``clock`` process, the CLI and the tests call :func:`build_runtime`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from oncall.clock import Clock, SystemClock
from oncall.config.live import live_config
from oncall.config.reloading import ReloadingFile
from oncall.config.settings import Settings
from oncall.db.session import make_engine, make_session_factory
from oncall.delivery.transports import build_transports
from oncall.runtime import Runtime
from oncall.sources.customers import Directory, load_directory
from oncall.sources.rotas.registry import RotaRegistry
from oncall.sources.voice_flows import load_flow_file


def build_runtime(
    settings: Settings,
    clock: Clock | None = None,
    transports: dict[str, Any] | None = None,
    db: Engine | None = None,
) -> Runtime:
    clock = clock or SystemClock()
    db = db or make_engine(settings.database_url)
    rotas = RotaRegistry(settings.paths.rotations, clock, phone_region=settings.phone_region)
    rotas.load()
    customers: ReloadingFile[Directory] = ReloadingFile(
        settings.paths.customers, lambda p: load_directory(p, settings.phone_region), "customers"
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
        config=live_config(settings),
    )
    _attach_voice_flows(runtime)
    return runtime


def default_transports(settings: Settings) -> dict[str, Any]:
    """Transports by channel, chosen in config (console unless told otherwise)."""
    return build_transports(settings)


def _attach_voice_flows(runtime: Runtime) -> None:
    flows = ReloadingFile(
        runtime.settings.paths.voice_flows / "critical_line.yaml", load_flow_file, "voice flow"
    )
    flows.load()
    runtime.voice_flows = flows
