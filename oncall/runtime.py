"""The runtime: what every use case is handed to do its work.

A :class:`Runtime` holds the settings, the clock, the database, the live (hot-reloaded) rotas,
customers and voice flows, and the transports. :mod:`oncall.bootstrap.runtime` builds one with
real parts; tests build one with a fake clock and fake transports. It may import ``config``,
``sources``, ``db`` and ``domain``, nothing above them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from oncall.clock import Clock
from oncall.config.reloading import ReloadingFile
from oncall.config.settings import Settings
from oncall.config.yamlsource import SourceError
from oncall.db.models import RetiredRota
from oncall.domain.transport import Transport
from oncall.sources.customers import Directory
from oncall.sources.rotas.registry import RotaRegistry

log = logging.getLogger("oncall.runtime")


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Engine
    sessions: sessionmaker[Session]
    rotas: RotaRegistry
    customers: ReloadingFile[Directory]
    transports: dict[str, Transport]  # by channel: sms, voice, email
    voice_flows: Any = None  # ReloadingFile of the IVR flow, set by the intake wiring
    # config.yaml reloaded like the files above; ``settings`` follows its last good version.
    config: ReloadingFile[Settings] | None = None
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
        """Pick up edited config, rotas, customers and voice flows (the last good version of
        each stays live)."""
        if self.config is not None and self.config.poll():
            self._follow_config()
        self.rotas.poll()
        self.customers.poll()
        if self.voice_flows is not None:
            self.voice_flows.poll()
        self.let_gone_teams_go()

    def reload_files(self) -> None:
        """Reload everything now (SIGHUP)."""
        if self.config is not None:
            self.config.load()
            self._follow_config()
        self.rotas.reload()
        self.customers.load()
        if self.voice_flows is not None:
            self.voice_flows.load()

    def _follow_config(self) -> None:
        assert self.config is not None
        live = self.config.value
        if live is not None:
            # One attribute assignment: a request sees the old settings or the new, never a mix.
            self.settings = live

    def let_gone_teams_go(self) -> None:
        """A team whose rota file is gone keeps paging (its last good version) until a manager
        retires it (``oncall rota retire``: a row every process reads here) or no customer
        names it any more. A retirement ends once a file for the team is back.

        Run by the file poll, not by SIGHUP: a signal handler must not wait on the database."""
        if self.customers.value is not None:  # never judge by a customers.yaml never loaded
            self.rotas.forget_vanished_except(self.customers.value.teams())
        try:
            with self.sessions() as session, session.begin():
                retired = set(session.scalars(select(RetiredRota.team)))
                back = retired & self.rotas.teams_with_files()
                if back:
                    session.execute(delete(RetiredRota).where(RetiredRota.team.in_(back)))
        except SQLAlchemyError as exc:  # the database is down: file reloads must go on
            log.warning("cannot read retired teams: %s", exc)
            return
        for team in retired - back:
            self.rotas.retire(team)

    def file_errors(self) -> list[SourceError]:
        errors = self.config.errors() if self.config is not None else []
        errors += list(self.rotas.errors()) + self.customers.errors()
        if self.voice_flows is not None:
            errors += self.voice_flows.errors()
        return errors

    def close(self) -> None:
        self.db.dispose()
