"""Coverage: times in the coming days when a level the escalation policy pages has nobody on
call. A gap in a level of the first step is an error (a new case would page nobody), in a later
step's level a warning; an edit that opens a first-step gap the live version covers is a
regression the registry refuses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall.config.yamlsource import SourceError
from oncall.domain.rota.localtime import format_local
from oncall.domain.rota.model import Team
from oncall.domain.rota.resolve import gaps

DEFAULT_COVERAGE_DAYS = 28


def coverage_gaps(
    team: Team, now: datetime, days: int = DEFAULT_COVERAGE_DAYS
) -> dict[str, list[tuple[datetime, datetime]]]:
    """For each level or rotation the policy pages, the times nobody is on call for it in
    ``[now, now + days)`` (only names with gaps are listed)."""
    end = now + timedelta(days=days)
    out = {}
    for name in team.escalation.names():
        if team.is_schedule(name):
            holes = gaps(team, name, now, end)
            if holes:
                out[name] = holes
    return out


def coverage_problems(
    team: Team, now: datetime, days: int = DEFAULT_COVERAGE_DAYS
) -> list[SourceError]:
    """Gaps in the next ``days`` days when a level the policy pages has nobody on call.

    A gap in a level of the first step is an error: a case opened then pages nobody until a
    later step. A gap in a later step's level is a warning: that step is skipped.
    """
    first = set(team.escalation.steps[0].notify) if team.escalation.steps else set()
    problems = []
    holes_by_name = coverage_gaps(team, now, days)
    for index, step in enumerate(team.escalation.steps):
        for position, name in enumerate(step.notify):
            holes = holes_by_name.pop(name, None)
            if not holes:
                continue
            shown = [
                f"from {format_local(a, team.zone)} until {format_local(b, team.zone)}"
                for a, b in holes[:3]
            ]
            more = f" and {len(holes) - 3} more gaps" if len(holes) > 3 else ""
            error = name in first
            consequence = (
                "a case opened then pages nobody in the first step"
                if error
                else f"step {index + 1} pages nobody then"
            )
            problems.append(
                SourceError(
                    team.source,
                    team.source_lines.get(f"escalation.steps[{index}].notify[{position}]", 0),
                    f"escalation.steps[{index}].notify",
                    f"nobody is on call for {name!r} {', '.join(shown)}{more} "
                    f"(next {days} days): {consequence}",
                    "error" if error else "warning",
                )
            )
    return problems


def _subtract(
    spans: list[tuple[datetime, datetime]], minus: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of ``spans`` not inside any of ``minus`` (both sorted, disjoint)."""
    out = []
    for start, end in spans:
        cursor = start
        for a, b in minus:
            if b <= cursor or a >= end:
                continue
            if a > cursor:
                out.append((cursor, a))
            cursor = max(cursor, b)
        if cursor < end:
            out.append((cursor, end))
    return out


def coverage_regressions(
    new: Team, old: Team, now: datetime, days: int = DEFAULT_COVERAGE_DAYS
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Times a first-step level of ``new`` has nobody on call but ``old`` had somebody."""
    if not new.escalation.steps:
        return {}
    new_gaps = coverage_gaps(new, now, days)
    old_gaps = coverage_gaps(old, now, days)
    out = {}
    for name in new.escalation.steps[0].notify:
        if name not in new_gaps or not old.is_schedule(name):
            continue
        worse = _subtract(new_gaps[name], old_gaps.get(name, []))
        if worse:
            out[name] = worse
    return out
