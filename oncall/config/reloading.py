"""Hot reload of a user-edited file that keeps the last good version live.

A manager's broken edit must never take effect: the previous version keeps serving, the error
is logged once per change, and ``errors()`` reports it (``/healthz`` shows it as degraded) until
the file is fixed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from oncall.config.yamlsource import SourceError, SourceErrors

T = TypeVar("T")
log = logging.getLogger("oncall.reload")


class ReloadingFile(Generic[T]):
    def __init__(
        self, path: Path, loader: Callable[[Path], T], what: str, initial: T | None = None
    ):
        """``initial``: a version already read from ``path`` (it counts as the file as it is
        now, so the first poll reloads only after an edit)."""
        self.path = path
        self._loader = loader
        self._what = what
        self._lock = threading.Lock()
        self._value: T | None = initial
        self._errors: list[SourceError] = []
        self._signature: tuple[float, int] | None = self._stat() if initial is not None else None

    def _stat(self) -> tuple[float, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime, stat.st_size)

    def load(self) -> None:
        """Load now, whatever the mtime says (start-up and SIGHUP)."""
        signature = self._stat()
        try:
            value = self._loader(self.path)
        except SourceErrors as exc:
            with self._lock:
                self._signature = signature
                self._errors = exc.errors
            kept = "keeping the last good version" if self._value is not None else "nothing loaded"
            for error in exc.errors:
                log.error("%s not reloaded (%s): %s", self._what, kept, error)
            return
        with self._lock:
            changed = self._value is not None
            self._value, self._errors, self._signature = value, [], signature
        if changed:
            log.info("%s reloaded from %s", self._what, self.path)

    def poll(self) -> bool:
        """Reload if the file changed since the last look; True when it did."""
        if self._stat() == self._signature:
            return False
        self.load()
        return True

    @property
    def value(self) -> T | None:
        with self._lock:
            return self._value

    def errors(self) -> list[SourceError]:
        with self._lock:
            return list(self._errors)
