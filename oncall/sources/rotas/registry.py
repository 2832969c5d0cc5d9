"""The hot-reload registry: the live rotas, reloaded when their files change, keeping the last
good version of a file live while its edit is broken (see :class:`RotaRegistry`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from oncall.clock import Clock
from oncall.config.yamlsource import SourceError
from oncall.domain.phones import DEFAULT_REGION
from oncall.domain.rota.localtime import format_local
from oncall.domain.rota.model import Team
from oncall.sources.rotas.coverage import (
    DEFAULT_COVERAGE_DAYS,
    coverage_problems,
    coverage_regressions,
)
from oncall.sources.rotas.directory import rota_files
from oncall.sources.rotas.reading import read_team

# The name the rota module always logged under: operators' log filters rely on it.
log = logging.getLogger("oncall.sources.rotas")


@dataclass
class FileStatus:
    """What the registry knows about one rota file."""

    path: Path
    signature: tuple[int, ...]
    team: Team | None = None  # the live (last good) version
    loaded_at: datetime | None = None  # when the live version was loaded
    problems: list[SourceError] = field(default_factory=list)  # of the version on disk
    coverage: list[SourceError] = field(default_factory=list)  # coverage gaps, same version
    rejected: bool = False  # the version on disk is not live
    vanished_at: datetime | None = None  # the file is gone; its last good version stays live


@dataclass(frozen=True)
class VanishedRota:
    """A rota file that disappeared while its team was live: the team keeps paging with the
    last good version until the file is back or the team is retired."""

    team: str
    file_name: str  # the name it had (never a path: this is shown on /healthz)
    loaded_at: datetime | None  # when the version still live was loaded
    vanished_at: datetime
    look_alikes: tuple[str, ...]  # files beside it that look like it renamed (support.yml)


class RotaRegistry:
    """The live rotas, reloaded when their files change.

    When a file changes, the new version takes effect only if it is good:

    * it has no validation errors, and
    * it doesn't leave a first-step level with nobody on call at a time in the next
      ``coverage_days`` days that the live version covers (a typo in a start date must not
      silently stop paging). Coverage gaps the live version already had don't block an edit,
      so an unrelated fix (a phone number) still goes through.

    Otherwise the last good version stays live; the problems are logged and reported by
    :meth:`errors` (for ``/healthz``) until the file is fixed. A file seen for the first time
    (at start-up or added later) has no last good version: with validation errors it is not
    loaded; with only coverage errors it is loaded (some paging beats none) and reported.

    A file that disappears (deleted, or renamed to ``support.yml``) is a problem like a broken
    edit, not a wish to stop paging: its last good version stays live and is reported by
    :meth:`vanished` until the file is back, or until :meth:`retire` (``oncall rota retire``)
    or :meth:`forget_vanished_except` (the team left customers.yaml) drops it. Coverage is
    re-checked every ``coverage_every`` because gaps come closer as time passes.

    Thread-safe: web threads read while the engine polls.
    """

    def __init__(
        self,
        directory: Path | str,
        clock: Clock,
        coverage_days: int = DEFAULT_COVERAGE_DAYS,
        coverage_every: timedelta = timedelta(hours=1),
        phone_region: str = DEFAULT_REGION,
    ):
        self.directory = Path(directory)
        self.phone_region = phone_region  # national phone numbers are read in this region
        self.clock = clock
        self.coverage_days = coverage_days
        self.coverage_every = coverage_every
        self._lock = threading.Lock()  # guards the state readers see
        self._reloading = threading.Lock()  # one poll/reload at a time
        self._files: dict[Path, FileStatus] = {}
        self._directory_problem: SourceError | None = None
        self._coverage_checked: datetime | None = None

    # -- reading ---------------------------------------------------------------------------
    def teams(self) -> dict[str, Team]:
        with self._lock:
            return {s.team.key: s.team for s in self._files.values() if s.team is not None}

    def team(self, key: str) -> Team | None:
        return self.teams().get(key)

    def problems(self) -> list[SourceError]:
        with self._lock:
            out = [self._directory_problem] if self._directory_problem else []
            for status in sorted(self._files.values(), key=lambda s: s.path):
                out.extend(status.problems)
                out.extend(status.coverage)
                if status.rejected and status.team is not None and status.loaded_at:
                    out.append(
                        SourceError(
                            str(status.path),
                            0,
                            "",
                            "this edit is not live: paging uses the version loaded at "
                            f"{format_local(status.loaded_at, status.team.zone)} until it is "
                            "fixed",
                        )
                    )
            return out

    def errors(self) -> list[SourceError]:
        return [p for p in self.problems() if p.severity == "error"]

    def warnings(self) -> list[SourceError]:
        return [p for p in self.problems() if p.severity == "warning"]

    def files(self) -> list[FileStatus]:
        with self._lock:
            return sorted(self._files.values(), key=lambda s: s.path)

    def teams_with_files(self) -> set[str]:
        """The teams whose rota file is in the directory (loaded or broken)."""
        with self._lock:
            return {s.path.stem for s in self._files.values() if s.vanished_at is None}

    def vanished(self) -> list[VanishedRota]:
        """Rota files that are gone while their team, at its last good version, still pages."""
        with self._lock:
            gone = [
                (status.path, status.team.key, status.loaded_at, status.vanished_at)
                for status in sorted(self._files.values(), key=lambda s: s.path)
                if status.vanished_at is not None and status.team is not None
            ]
        return [
            VanishedRota(team, path.name, loaded_at, vanished_at, self._look_alikes(path))
            for path, team, loaded_at, vanished_at in gone
        ]

    def _look_alikes(self, path: Path) -> tuple[str, ...]:
        """Files beside a vanished one that look like it, renamed (support.yml, support.yaml~)."""
        try:
            names = sorted(p.name for p in self.directory.glob(f"{path.stem}.*"))
        except OSError:
            return ()
        return tuple(name for name in names if name != path.name)

    # -- dropping a team whose file is gone --------------------------------------------------
    def retire(self, team: str) -> bool:
        """Stop paging ``team`` if its file is gone (``oncall rota retire``). A team whose file
        is still there is not touched: delete or fix the file first."""
        return bool(self._forget(lambda key: key == team, "retired"))

    def forget_vanished_except(self, wanted: set[str]) -> list[str]:
        """Drop vanished teams no customer names any more; the teams dropped."""
        return self._forget(lambda key: key not in wanted, "no longer named in customers.yaml")

    def _forget(self, matches, why: str) -> list[str]:
        dropped = []
        with self._lock:
            for path, status in list(self._files.items()):
                team = status.team
                if status.vanished_at is not None and team is not None and matches(team.key):
                    del self._files[path]
                    dropped.append(team.key)
        for key in dropped:
            log.warning("team %s %s: its rota file is gone, and it no longer pages", key, why)
        return dropped

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        """Initial load of every file in the directory."""
        self.reload()

    def reload(self) -> None:
        """Re-read every file, changed or not (SIGHUP)."""
        self._refresh(force=True)

    def poll(self) -> bool:
        """Reload files whose size or modification time changed, pick up added files and drop
        removed ones. Returns True if any file was (re)loaded or removed."""
        return self._refresh(force=False)

    def _scan(self) -> dict[Path, tuple[int, ...]] | None:
        if not self.directory.is_dir():
            return None
        out = {}
        for path in rota_files(self.directory):
            try:
                st = path.stat()
            except OSError:
                continue  # removed between listing and stat: gone
            # ino catches editors that write a new file and rename it over the old one.
            out[path] = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
        return out

    def _refresh(self, force: bool) -> bool:
        with self._reloading:
            now = self.clock.now()
            seen = self._scan()
            if seen is None:
                # A vanished directory is far more likely a deployment accident than a wish to
                # stop paging everyone: keep the live teams and say so.
                problem = SourceError(
                    str(self.directory), 0, "", "rotations directory not found; rotas kept"
                )
                with self._lock:
                    changed = self._directory_problem != problem
                    self._directory_problem = problem
                if changed:
                    log.error("%s", problem)
                return False
            with self._lock:
                self._directory_problem = None
                current = dict(self._files)
            changed = False
            for path in sorted(set(current) - set(seen)):
                changed = self._file_gone(current[path], now) or changed
            for path, signature in seen.items():
                previous = current.get(path)
                if (
                    not force
                    and previous is not None
                    and previous.signature == signature
                    and previous.vanished_at is None  # renamed back: same inode, same times
                ):
                    continue
                status = self._load_file(path, signature, previous, now)
                changed = True
                with self._lock:
                    self._files[path] = status
            if (
                self._coverage_checked is None
                or now - self._coverage_checked >= self.coverage_every
            ):
                self._recheck_coverage(now)
                self._coverage_checked = now
            return changed

    def _file_gone(self, status: FileStatus, now: datetime) -> bool:
        """A file left the directory: its live team stays live (and is reported) until the
        file is back or the team is retired; a file that never loaded is simply forgotten."""
        if status.vanished_at is not None:
            return False  # already known
        if status.team is None:
            log.warning("%s removed (it had no live version)", status.path)
            with self._lock:
                self._files.pop(status.path, None)
            return True
        with self._lock:
            status.vanished_at = now
            # A broken edit that was on disk went with the file: only the gone file is news.
            status.problems, status.rejected = [], False
        renamed = self._look_alikes(status.path)
        log.error(
            "%s is gone%s: team %s keeps paging with the version loaded at %s UTC; put the file "
            "back, or run `oncall rota retire %s` to stop paging the team",
            status.path,
            f" ({', '.join(renamed)} found: rota files must end in .yaml)" if renamed else "",
            status.team.key,
            f"{status.loaded_at:%Y-%m-%d %H:%M:%S}" if status.loaded_at else "start-up",
            status.team.key,
        )
        return True

    def _load_file(
        self, path: Path, signature: tuple[int, ...], previous: FileStatus | None, now: datetime
    ) -> FileStatus:
        old = previous.team if previous else None
        status = FileStatus(path, signature, old, previous.loaded_at if previous else None)
        team, status.problems = read_team(path, phone_region=self.phone_region)
        if team is not None:
            status.coverage = coverage_problems(team, now, self.coverage_days)
            for name, spans in (
                coverage_regressions(team, old, now, self.coverage_days) if old else {}
            ).items():
                start, end = spans[0]
                status.problems.append(
                    SourceError(
                        str(path),
                        team.source_lines.get("escalation.steps[0].notify", 0),
                        "escalation.steps[0].notify",
                        f"this edit would leave {name!r} with nobody on call from "
                        f"{format_local(start, team.zone)} until {format_local(end, team.zone)}"
                        ", which the live version covers",
                    )
                )
                team = None
        found = status.problems + status.coverage
        errors = [p for p in found if p.severity == "error"]
        if team is not None:
            status.team, status.loaded_at, status.rejected = team, now, False
            log.info("%s %s: team %s", "reloaded" if old else "loaded", path, team.key)
            for problem in errors:
                log.error("%s", problem)
        else:
            status.rejected = True
            kept = (
                f"the version loaded at {status.loaded_at:%Y-%m-%d %H:%M:%S} UTC stays live"
                if old is not None and status.loaded_at
                else "team not loaded"
            )
            log.error("%s: edit rejected, %s:\n%s", path, kept, "\n".join(map(str, errors)))
        for problem in found:
            if problem.severity == "warning":
                log.warning("%s", problem)
        return status

    def _recheck_coverage(self, now: datetime) -> None:
        """Refresh coverage problems of live files (the horizon moves with time)."""
        with self._lock:
            live = [s for s in self._files.values() if s.team is not None and not s.rejected]
        for status in live:
            assert status.team is not None
            fresh = coverage_problems(status.team, now, self.coverage_days)
            if fresh != status.coverage:
                for problem in fresh:
                    if problem.severity == "error" and problem not in status.coverage:
                        log.error("%s", problem)
                with self._lock:
                    status.coverage = fresh
