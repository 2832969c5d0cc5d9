"""Engines, sessions and migrations for SQLite (single box) and PostgreSQL (many processes)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with the settings each backend needs to be safe under concurrency."""
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30, "factory": _WriterConnection}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        writer = _WriterQueue()

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _begin below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if ":memory:" not in url and "mode=memory" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL syncs at checkpoints, not at every commit: a power cut may
                # lose the last commits, never corrupt the file.
                cursor.execute("PRAGMA synchronous=NORMAL")
            # Keep more of the (small) database in memory: the hot tables are read by every
            # request (~32 MB at most per connection).
            cursor.execute("PRAGMA cache_size=-32000")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()
            dbapi_connection.writer = writer

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # BEGIN IMMEDIATE takes the write lock up front. SQLite's default deferred
            # transactions fail with "database is locked" (no waiting) when a reader later
            # tries to write after another writer; claiming work must wait its turn instead.
            # The turn is first taken in this process (see _WriterConnection), so threads of
            # one process queue on a lock instead of polling SQLite's busy handler.
            conn.connection.dbapi_connection.take_writer_turn()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                conn.connection.dbapi_connection.end_writer_turn()
                raise

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


# Whose writes go first on the single box's writer lock: see :func:`paging_first`.
_urgent = threading.local()


@contextmanager
def paging_first() -> Iterator[None]:
    """This thread's write transactions go ahead of the web's on the single box (SQLite).

    The engine and the sender (a page claimed, a send recorded) each write briefly; queued
    behind sixteen intake requests, each of those writes waited half a second, and in a storm
    the pages left only after the last case was opened. Pages are the service's one job: they
    go first, the intakes still waiting take turns between them. PostgreSQL has no such queue.
    """
    before = getattr(_urgent, "on", False)
    _urgent.on = True
    try:
        yield
    finally:
        _urgent.on = before


class _WriterQueue:
    """The single box's writer lock: served first come, first served (``threading.Lock`` is
    not: a thread that releases it and asks again at once usually wins), except that the
    threads inside :func:`paging_first` are served before everyone else."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._held = False
        self._next = 0  # the next ticket handed out
        self._urgent: list[int] = []  # waiting tickets, in order: paging work ...
        self._others: list[int] = []  # ... and everyone else

    @property
    def waiting(self) -> int:
        """How many threads wait for their turn."""
        with self._cond:
            return len(self._urgent) + len(self._others)

    def _first(self) -> int | None:
        line = self._urgent or self._others
        return line[0] if line else None

    def acquire(self, timeout: float) -> bool:
        with self._cond:
            ticket = self._next
            self._next += 1
            line = self._urgent if getattr(_urgent, "on", False) else self._others
            line.append(ticket)
            took = self._cond.wait_for(lambda: not self._held and self._first() == ticket, timeout)
            line.remove(ticket)
            if took:
                self._held = True
            else:
                self._cond.notify_all()  # the one behind may be first now
            return took

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


class _WriterConnection(sqlite3.Connection):
    """A SQLite connection that takes this process's writer lock for each transaction.

    SQLite has one writer at a time. A transaction that finds the database locked waits in
    SQLite's busy handler, which sleeps in steps of up to 100 ms and retries: with a burst of
    intake requests, the sender and the engine all wanting to write, most of the time went
    to sleeping past the moment the lock was free (issue 14: a 200-case storm paged in 6-8 s).
    ``oncall serve`` is one process, so its writers queue on a lock instead and each starts
    the moment the previous one commits. Other processes (a CLI command) still meet the busy
    handler, as before. The wait is bounded: after ``WAIT`` s the transaction goes ahead
    without the lock and SQLite's own locking (and busy timeout) decides, as it always did.
    """

    WAIT = 30.0
    writer: _WriterQueue | None = None
    _holding = False

    def take_writer_turn(self) -> None:
        if self.writer is not None and not self._holding:
            self._holding = self.writer.acquire(timeout=self.WAIT)

    def end_writer_turn(self) -> None:
        if self._holding and self.writer is not None:
            self._holding = False
            self.writer.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_writer_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_writer_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_writer_turn()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any exception."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations (``oncall db upgrade``)."""
    command.upgrade(alembic_config(url), revision)


def database_reachable(engine: Engine) -> tuple[bool, str]:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True, ""
    except Exception as exc:  # any driver error means "not reachable"; say which
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def schema_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # missing table = not migrated
        return None
