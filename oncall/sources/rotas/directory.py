"""A directory of rota files: which files count (``*.yaml``, not editor droppings), and checking
them all at once with their coverage, as ``oncall check`` and ``oncall rota check`` do.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from oncall.config.yamlsource import SourceError
from oncall.domain.phones import DEFAULT_REGION
from oncall.domain.rota.model import Team
from oncall.sources.rotas.coverage import DEFAULT_COVERAGE_DAYS, coverage_problems
from oncall.sources.rotas.reading import read_team


def _is_rota_file(path: Path) -> bool:
    # Editors leave .#support.yaml, support.yaml~ and the like next to the file being edited.
    return path.is_file() and not path.name.startswith((".", "~", "#"))


def rota_files(directory: Path) -> list[Path]:
    """The rota files in ``directory``, by name."""
    return sorted(p for p in directory.glob("*.yaml") if _is_rota_file(p))


def check_directory(
    directory: Path | str,
    now: datetime,
    days: int = DEFAULT_COVERAGE_DAYS,
    phone_region: str = DEFAULT_REGION,
    start: Callable[[Team], datetime] | None = None,
) -> tuple[dict[str, Team], list[SourceError]]:
    """Validate every rota file and its coverage: the teams that loaded and all problems
    (errors and warnings), as ``oncall check`` and ``oncall rota check`` print them.

    Coverage is checked from ``now``, or from ``start(team)`` when given (``rota check
    --from`` is local time, so each team's start depends on its zone)."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}, [SourceError(str(directory), 0, "", "rotations directory not found")]
    teams: dict[str, Team] = {}
    problems: list[SourceError] = []
    files = rota_files(directory)
    for path in sorted(directory.glob("*.yml")):
        problems.append(
            SourceError(str(path), 0, "", "ignored: rota files must end in .yaml", "warning")
        )
    if not files:
        problems.append(
            SourceError(
                str(directory), 0, "", "no rota files (*.yaml): nobody can be paged", "warning"
            )
        )
    for path in files:
        team, found = read_team(path, phone_region=phone_region)
        problems.extend(found)
        if team is not None:
            teams[team.key] = team
            begin = start(team) if start is not None else now
            problems.extend(coverage_problems(team, begin, days))
    return teams, problems
