"""The live rota: the file's team with the overrides kept in the database layered on top, and
who holds a level now and until when (pure code, like the rest of the package).

A ``TAKE`` (an engineer taking a shift by SMS) is an override that lives in the database, not in
the rota file. :func:`with_live_overrides` layers such overrides over the file's: they are listed
after the file's overrides, and a later-listed override wins where overrides overlap
(:mod:`oncall.domain.rota.resolve`), so a TAKE beats the file, and a later TAKE beats an earlier
one. An override that no longer fits the file (its rotation or member was removed since) is
left out: the file is the authority on its own names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from oncall.domain.rota.model import OnCall, Override, Team
from oncall.domain.rota.resolve import shifts, who_is_on_call

#: How far ahead "who is next" and "until when" look.
LOOKAHEAD = timedelta(days=60)


def with_live_overrides(team: Team, overrides: Iterable[Override]) -> Team:
    """``team`` with ``overrides`` listed after its own (see the module docstring)."""
    rotations = {r.name for r in team.rotations}
    fitting = tuple(o for o in overrides if o.rotation in rotations and o.member in team.members)
    if not fitting:
        return team
    return replace(team, overrides=team.overrides + fitting)


def find_level(team: Team, name: str) -> str | None:
    """The team's level called ``name``, whatever its case (SMS is case-insensitive)."""
    for level in team.levels():
        if level.casefold() == name.casefold():
            return level
    return None


def level_rotation(team: Team, level: str) -> str:
    """The rotation an override for ``level`` is written against: the level's first layer
    (an override applies to the whole level of its rotation)."""
    return team.stack(level).rotations[0].name


@dataclass(frozen=True)
class Stretch:
    """Who holds a level at an instant, until somebody else takes over, and who that is."""

    level: str
    current: OnCall | None
    until: datetime | None  # when someone else takes over (or nobody is on call)
    next: OnCall | None


def stretch(team: Team, level: str, at: datetime, lookahead: timedelta = LOOKAHEAD) -> Stretch:
    """Who holds ``level`` at ``at``, until when, and who is next.

    Back-to-back periods of the same person (an override that ends where their own shift
    continues) are one stretch: "until" is when somebody *else* takes over.
    """
    periods = shifts(team, level, at, at + lookahead)
    current = who_is_on_call(team, level, at)
    until = current.end if current else None
    following = None
    for period in (p for p in periods if p.start > at):
        if current and period.member.key == current.member.key and period.start == until:
            until = period.end
            continue
        following = period
        break
    return Stretch(level, current, until, following)
