"""One engine per SQLite file: a lock file beside the database, held while an engine runs.

SQLite is the single-box backend, and the single box runs one engine. A second ``oncall serve``
or ``oncall clock`` on the same file must not start quietly beside the first, so the engine
takes an exclusive ``flock(2)`` on ``<database>-engine.lock`` and the second one is refused
with a sentence naming the holder. (PostgreSQL takes any number of engines: due work is
claimed with ``FOR UPDATE SKIP LOCKED``.)

The kernel drops the lock when its process ends, however it ends (``kill -9`` included): a
crashed engine's lock file left behind blocks nothing, only a live holder does. The holder
writes its pid, host and start time into the file so that the refusal can name it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from oncall.db.preflight import DatabaseNotReady, sqlite_file


class EngineAlreadyRunning(Exception):
    """Another live engine holds this SQLite database; the message names it."""


@dataclass
class EngineLock:
    path: Path
    descriptor: int
    owner_pid: int

    def release(self) -> None:
        # A process forked from the owner (a gunicorn worker) shares the lock: only the owner
        # lets go of it, or a worker's exit would unlock the master's database.
        if os.getpid() != self.owner_pid or self.descriptor < 0:
            return
        fcntl.flock(self.descriptor, fcntl.LOCK_UN)
        os.close(self.descriptor)
        self.descriptor = -1
        _held.pop(self.path, None)


# The locks this process holds, by lock file. Inherited by forked children with the descriptor,
# so a gunicorn worker finds the lock its master took and runs the engine under it.
_held: dict[Path, EngineLock] = {}


def lock_file(database: Path) -> Path:
    return database.with_name(database.name + "-engine.lock")


def claim_engine(database_url: str, now: datetime) -> EngineLock | None:
    """Hold the engine lock of an SQLite database (None for other databases).

    Raises :class:`EngineAlreadyRunning` when another live process holds it, and
    :class:`~oncall.db.preflight.DatabaseNotReady` when the lock file cannot be made.
    """
    database = sqlite_file(database_url)
    if database is None:
        return None
    path = lock_file(database.resolve())
    held = _held.get(path)
    if held is not None and held.descriptor >= 0:
        return held
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a folder that does not exist, or is not ours to write
        raise DatabaseNotReady(
            f"cannot use the database {database}: {exc.strerror} ({path.parent})"
        ) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 300, 0).decode("utf-8", "replace").strip() or "unknown"
        os.close(descriptor)
        raise EngineAlreadyRunning(
            f"another engine is already running on {database} ({holder}). SQLite takes one "
            "engine: stop that one first, or use PostgreSQL to run several."
        ) from None
    os.ftruncate(descriptor, 0)
    stamp = f"pid {os.getpid()} on {socket.gethostname()} since {now:%Y-%m-%d %H:%M:%S %Z}"
    os.pwrite(descriptor, stamp.encode(), 0)
    lock = EngineLock(path, descriptor, os.getpid())
    _held[path] = lock
    return lock
