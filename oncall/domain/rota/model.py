"""The rota model: a team, its members, rotations, overrides and escalation policy.

Plain frozen dataclasses. A :class:`Team` checks that its parts refer to each other correctly
and works out, once, which rotations and overrides decide who is on call for each name an
escalation step may page (:class:`Stack`); :mod:`oncall.domain.rota.resolve` answers the
questions.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from oncall.domain.rota.localtime import require_aware
from oncall.domain.rota.windows import DAY, Window


@dataclass(frozen=True)
class Member:
    key: str
    name: str
    phone: str | None  # E.164, e.g. +15550100101
    email: str | None


@dataclass(frozen=True)
class Rotation:
    """A list of members taking turns, each for ``shift``, from ``start`` (local time).

    ``level`` is the escalation level this rotation serves ("" means its own name); rotations
    sharing a level are layers, later ones on top. :mod:`oncall.domain.rota.resolve` has the
    DST rules.
    """

    name: str
    level: str
    members: tuple[str, ...]
    shift: timedelta
    start: datetime  # naive, local wall-clock time in the team's zone
    window: Window | None = None
    # True when handoffs keep their local wall-clock time (see oncall.domain.rota.resolve).
    wall_clock: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "wall_clock",
            self.shift > timedelta(0)
            and (self.shift % DAY == timedelta(0) or DAY % self.shift == timedelta(0)),
        )
        if not self.level:
            object.__setattr__(self, "level", self.name)
        if not self.members:
            raise ValueError(f"rotation {self.name!r} has no members")
        if self.shift <= timedelta(0):
            raise ValueError(f"rotation {self.name!r}: shift must be longer than zero")
        if self.start.tzinfo is not None:
            raise ValueError(f"rotation {self.name!r}: start is a naive local time")


@dataclass(frozen=True)
class Override:
    """``member`` is on call for ``rotation`` (and so for its level) during ``[start, end)``."""

    rotation: str
    member: str
    start: datetime  # aware
    end: datetime  # aware
    note: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.start)
        require_aware(self.end)
        if self.end <= self.start:
            raise ValueError("an override must end after it starts")


#: How a step reaches people: an SMS page, a voice call, or both at once.
STEP_CHANNELS = ("sms", "voice", "both")


@dataclass(frozen=True)
class EscalationStep:
    after: timedelta  # since the case opened
    notify: tuple[str, ...]  # level, rotation or member names
    via: str = "sms"  # one of STEP_CHANNELS

    def __post_init__(self) -> None:
        if self.via not in STEP_CHANNELS:
            raise ValueError(f"a step pages via {', '.join(STEP_CHANNELS)}, not {self.via!r}")


@dataclass(frozen=True)
class EscalationPolicy:
    steps: tuple[EscalationStep, ...]
    repeat: int = 0  # run the steps this many more times if nobody acknowledges

    def names(self) -> list[str]:
        """Every name the policy notifies, first use first."""
        return list(dict.fromkeys(name for step in self.steps for name in step.notify))


class Stack(NamedTuple):
    """What decides who is on call for one name: layers (bottom first) and their overrides."""

    level: str
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...]
    starts: tuple[datetime, ...]  # override starts, sorted: for "next override begins"
    ends: tuple[datetime, ...]  # override ends, sorted: for "last override ended"

    @classmethod
    def of(cls, level: str, rotations: tuple[Rotation, ...], overrides: tuple[Override, ...]):
        starts = tuple(sorted(o.start for o in overrides))
        return cls(level, rotations, overrides, starts, tuple(sorted(o.end for o in overrides)))

    def next_override_start(self, at: datetime) -> datetime | None:
        index = bisect.bisect_right(self.starts, at)
        return self.starts[index] if index < len(self.starts) else None

    def last_override_end(self, at: datetime) -> datetime | None:
        index = bisect.bisect_right(self.ends, at)
        return self.ends[index - 1] if index else None


@dataclass(frozen=True)
class Team:
    key: str
    timezone: str
    members: Mapping[str, Member]
    rotations: tuple[Rotation, ...]
    overrides: tuple[Override, ...]
    escalation: EscalationPolicy
    manager: str | None = None
    # Where the team came from, for messages about it (file name, "key.path" -> line).
    source: str = field(default="", compare=False)
    source_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    _zone: ZoneInfo = field(init=False, compare=False, repr=False)
    _stacks: dict[str, Stack] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))  # raises for an unknown zone
        by_name = {r.name: r for r in self.rotations}
        if len(by_name) != len(self.rotations):
            raise ValueError("rotation names must be unique")
        for rotation in self.rotations:
            unknown = [m for m in rotation.members if m not in self.members]
            if unknown:
                raise ValueError(f"rotation {rotation.name!r}: unknown members {unknown}")
        for override in self.overrides:
            if override.rotation not in by_name:
                raise ValueError(f"override for unknown rotation {override.rotation!r}")
            if override.member not in self.members:
                raise ValueError(f"override names unknown member {override.member!r}")
        if self.manager is not None and self.manager not in self.members:
            raise ValueError(f"manager {self.manager!r} is not a member")
        stacks: dict[str, Stack] = {}
        for level in dict.fromkeys(r.level for r in self.rotations):
            layers = tuple(r for r in self.rotations if r.level == level)
            names = {r.name for r in layers}
            overrides = tuple(o for o in self.overrides if o.rotation in names)
            stacks[level] = Stack.of(level, layers, overrides)
        for rotation in self.rotations:
            # A layer is also reachable by its own name: just that rotation and its overrides.
            # A level's name wins over a rotation of another level with the same name (the
            # loader rejects that ambiguity).
            if rotation.name not in stacks:
                overrides = tuple(o for o in self.overrides if o.rotation == rotation.name)
                stacks[rotation.name] = Stack.of(rotation.level, (rotation,), overrides)
        object.__setattr__(self, "_stacks", stacks)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def levels(self) -> list[str]:
        """Level names in the order their first rotation is listed."""
        return list(dict.fromkeys(r.level for r in self.rotations))

    def rotation(self, name: str) -> Rotation | None:
        return next((r for r in self.rotations if r.name == name), None)

    def stack(self, name: str) -> Stack:
        """What decides who is on call for level or rotation ``name`` (KeyError: no such)."""
        try:
            return self._stacks[name]
        except KeyError:
            raise KeyError(f"team {self.key!r} has no level or rotation {name!r}") from None

    def is_schedule(self, name: str) -> bool:
        """Whether ``name`` is a level or rotation (pages whoever is on call)."""
        return name in self._stacks

    def manager_member(self) -> Member | None:
        return self.members.get(self.manager) if self.manager else None


@dataclass(frozen=True)
class OnCall:
    member: Member
    level: str
    rotation: str  # the rotation whose shift (or override) this is
    start: datetime  # UTC; the period is [start, end)
    end: datetime
    override: bool
    note: str | None = None  # the override's note, if any
