"""Rota files: ``rotations/<team>.yaml`` loaded into :class:`~oncall.domain.rota.Team` objects.

Three jobs:

* **validation** (:func:`read_team`): every mistake a manager can make in the file, each with
  file, line and key path, all of them in one pass;
* **coverage** (:func:`coverage_problems`): times in the coming days when a level the
  escalation policy pages has nobody on call: an error for the levels of the first step (a new
  case would page nobody), a warning for later steps;
* **hot reload** (:class:`RotaRegistry`): the service polls the directory; an edit takes effect
  only if it is good (see the class docstring), otherwise the last good version stays live and
  the problem is logged and reported by ``/healthz``.

The file shape is documented in ``rotations/README.md``.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from oncall.clock import Clock
from oncall.config.settings import normalise_email
from oncall.config.yamlsource import Node, SourceError, SourceErrors, format_duration, load_yaml
from oncall.domain.rota.localtime import format_local, to_instant
from oncall.domain.rota.model import (
    EscalationPolicy,
    EscalationStep,
    Member,
    Override,
    Rotation,
    Team,
)
from oncall.domain.rota.resolve import gaps
from oncall.domain.rota.windows import Window, combine_windows, daily_window, weekly_window
from oncall.domain.timetext import DAY_NAMES

log = logging.getLogger("oncall.sources.rotas")

DEFAULT_COVERAGE_DAYS = 28
TOP_KEYS = {"team", "timezone", "members", "rotations", "overrides", "escalation", "manager"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PHONE = re.compile(r"^\+[1-9]\d{7,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s().\-]")
_LOCAL_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{1,2}:\d{2}(?::\d{2})?))?$")
_CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_DAY_WORDS = {
    **{name: (index,) for index, name in enumerate(DAY_NAMES)},
    **{
        full: (index,)
        for index, full in enumerate(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        )
    },
    "weekdays": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "weekend": (5, 6),
    "daily": tuple(range(7)),
}


# ---------------------------------------------------------------------------------------------
# Small parsers (shared with the CLI)
# ---------------------------------------------------------------------------------------------


def parse_local_datetime(value: object) -> datetime:
    """``2026-11-02T09:00`` (or ``2026-11-02 09:00[:00]``, or a date for midnight) as a naive
    local datetime. An offset is refused: times in rota files are local to the team's zone."""
    text = str(value).strip()
    match = _LOCAL_DATETIME.match(text)
    if match is None:
        if re.match(r"^\d{4}-\d{2}-\d{2}[T ][\d:.]+(Z|[+-]\d{2}:?\d{2})$", text):
            raise ValueError(
                f'"{text}" has a UTC offset; write the local time in the team\'s time zone, '
                "like 2026-11-02T09:00"
            )
        raise ValueError(f'"{text}" is not a local date and time like 2026-11-02T09:00')
    try:
        day = date.fromisoformat(match.group(1))
        clock = time.fromisoformat(match.group(2).zfill(5)) if match.group(2) else time()
    except ValueError:
        raise ValueError(f'"{text}" is not a valid date and time') from None
    return datetime.combine(day, clock)


def parse_clock_time(value: object) -> time:
    """``18:00`` -> time(18, 0); ``24:00`` is midnight at the end of the day."""
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 18:00 as the base-60 number 1080.
        raise ValueError(
            f'write times in quotes, like "18:00" (YAML reads an unquoted time as the number '
            f"{value})"
        )
    text = str(value).strip()
    match = _CLOCK_TIME.match(text)
    if match is None or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise ValueError(f'"{text}" is not a time of day like "18:00"')
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        if minute:
            raise ValueError(f'"{text}" is not a time of day like "18:00"')
        return time()
    return time(hour, minute)


def _parse_days(value: object) -> tuple[int, ...]:
    """``[mon, tue]``, ``mon-fri``, ``[mon-wed, sat]``, ``weekdays``, ``weekends``."""
    items = value if isinstance(value, list) else [value]
    days: list[int] = []
    for item in items:
        text = str(item).strip().lower()
        if "-" in text:
            first, _, last = (part.strip() for part in text.partition("-"))
            if first[:3] not in DAY_NAMES or last[:3] not in DAY_NAMES:
                raise ValueError(f'"{item}" is not a day range like mon-fri')
            begin, end = DAY_NAMES.index(first[:3]), DAY_NAMES.index(last[:3])
            days.extend((begin + offset) % 7 for offset in range((end - begin) % 7 + 1))
        elif text in _DAY_WORDS:
            days.extend(_DAY_WORDS[text])
        else:
            raise ValueError(f'"{item}" is not a day: use {", ".join(DAY_NAMES)} or mon-fri')
    return tuple(sorted(set(days)))


def normalise_phone_e164(value: object) -> str:
    """A phone number in E.164: ``+``, then 8 to 15 digits (spaces and dashes are dropped)."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f'write phone numbers in quotes, like "+{value}" (YAML reads them as numbers)'
        )
    text = _PHONE_SEPARATORS.sub("", str(value))
    if not PHONE.match(text):
        raise ValueError(
            f'"{value}" is not an E.164 phone number like "+15550100101" (a +, then 8 to 15 digits)'
        )
    return text


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    hints = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {hints[0]!r}?)" if hints else ""


def _local_time_notes(node: Node, local: datetime, zone: ZoneInfo) -> None:
    """Warn about a local time that falls into a DST change, and say what it will mean."""
    instant = to_instant(local, zone)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        node.warning(
            f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks skip it); "
            f"it means {format_local(instant, zone)}, when the clocks jump"
        )
    elif local.replace(tzinfo=zone, fold=1).utcoffset() != local.replace(tzinfo=zone).utcoffset():
        node.warning(
            f"{local:%Y-%m-%d %H:%M} happens twice in {zone.key} (the clocks go back); "
            "the first time is meant"
        )


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


@dataclass
class _Names:
    """Names declared in the file (even ones with errors), so one mistake isn't reported twice."""

    members: dict[str, Member] = field(default_factory=dict)
    member_keys: set[str] = field(default_factory=set)
    rotations: dict[str, str] = field(default_factory=dict)  # rotation -> level
    levels: dict[str, list[str]] = field(default_factory=dict)  # level -> rotations

    def schedules(self) -> set[str]:
        return set(self.rotations) | set(self.levels)


def read_team(
    path: Path | str, text: str | None = None, display_name: str | None = None
) -> tuple[Team | None, list[SourceError]]:
    """Validate one rota file. Returns the team (None if there are errors) and every problem,
    errors and warnings, in file order. Coverage is checked separately (it depends on now)."""
    name = display_name or str(path)
    try:
        raw = load_yaml(path, text, name)
    except SourceErrors as exc:
        return None, exc.errors
    root = Node(raw, name)
    team = _build(root, Path(path).stem)
    problems = sorted(root.errors, key=lambda e: (e.line, e.severity != "error"))
    if any(e.severity == "error" for e in problems):
        return None, problems
    return team, problems


def load_team(path: Path | str) -> Team:
    """Validate one rota file; raises :class:`SourceErrors` listing every error."""
    team, problems = read_team(path)
    if team is None:
        raise SourceErrors([p for p in problems if p.severity == "error"])
    return team


def _check_name(node: Node, name: str, what: str) -> bool:
    if NAME.match(name):
        return True
    node.error(f"{what} {name!r} may only use letters, digits, '-', '_' and '.'")
    return False


def _build(root: Node, stem: str) -> Team | None:
    if not root.is_mapping("a rota: a mapping with timezone, members, rotations and escalation"):
        return None
    root.check_keys(TOP_KEYS, required={"timezone", "members", "escalation"})
    lines: dict[str, int] = {}

    team_node = root.child("team")
    key = team_node.string(stem) or stem
    if key != stem:
        team_node.error(f"{key!r} must match the file name: this file is {stem}.yaml")

    zone = _zone(root.child("timezone"))
    names = _Names()
    _members(root.child("members"), names, lines)
    rotations = _rotations(root.child("rotations"), names, zone, lines)
    _name_clashes(root, names)
    overrides = _overrides(root.child("overrides"), names, zone, lines)
    escalation = _escalation(root.child("escalation"), names, lines)

    manager_node = root.child("manager")
    manager = manager_node.string()
    if manager is None:
        root.warning("no manager: SLA breaches will page nobody (add manager: <member>)")
    elif manager not in names.member_keys:
        manager_node.error(
            f"{manager!r} is not a member of this team{_did_you_mean(manager, names.member_keys)}"
        )
    lines["manager"] = manager_node.line

    _unreachable_members(root, names, rotations, escalation, manager)
    if any(e.severity == "error" for e in root.errors) or zone is None or escalation is None:
        return None
    try:
        return Team(
            key=key,
            timezone=zone.key,
            members=names.members,
            rotations=tuple(rotations),
            overrides=tuple(overrides),
            escalation=escalation,
            manager=manager,
            source=root.file,
            source_lines=lines,
        )
    except ValueError as exc:  # pragma: no cover - everything it checks is validated above
        root.error(str(exc))
        return None


def _zone(node: Node) -> ZoneInfo | None:
    name = node.string()
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        node.error(
            f"unknown time zone {name!r}{_did_you_mean(name, available_timezones())} "
            "(use an IANA name like America/Toronto)"
        )
        return None


def _members(node: Node, names: _Names, lines: dict[str, int]) -> None:
    if not node.present() or not node.is_mapping("a mapping of member keys to {name, phone}"):
        return
    phones: dict[str, str] = {}
    for raw_key, child in node.items():
        key = str(raw_key)
        names.member_keys.add(key)
        lines[f"members.{key}"] = child.line
        if not _check_name(child, key, "member key") or not child.is_mapping(
            'a member like {name: Alice Ng, phone: "+15550100101", email: alice@example.com}'
        ):
            continue
        child.check_keys({"name", "phone", "email"}, required={"name"})
        name = child.child("name").string(key) or key
        phone = child.child("phone").validate(normalise_phone_e164)
        email = child.child("email").validate(normalise_email)
        if not child.child("phone").present() and not child.child("email").present():
            child.error("a member needs a phone (or at least an email) to be paged")
        if phone is not None:
            if phone in phones:
                child.child("phone").warning(
                    f"same phone as {phones[phone]!r}: SMS replies from it can't tell them apart"
                )
            phones.setdefault(phone, key)
        names.members[key] = Member(key, name, phone, email)
    if not node.value:
        node.error("a team needs at least one member")


def _rotations(
    node: Node, names: _Names, zone: ZoneInfo | None, lines: dict[str, int]
) -> list[Rotation]:
    rotations: list[Rotation] = []
    if not node.present():
        return rotations
    if not node.is_mapping("a mapping of rotation names"):
        return rotations
    for raw_name, child in node.items():
        name = str(raw_name)
        lines[f"rotations.{name}"] = child.line
        if not _check_name(child, name, "rotation name"):
            continue
        level_node = child.child("level")
        level = level_node.string(name) or name
        if level != name and not _check_name(level_node, level, "level"):
            level = name
        names.rotations[name] = level
        names.levels.setdefault(level, []).append(name)
        if not child.is_mapping("a rotation like {members: [alice, bob], shift: 1w, start: ...}"):
            continue
        child.check_keys(
            {"level", "members", "shift", "start", "window"}, required={"members", "shift", "start"}
        )
        members = _member_list(child.child("members"), names)
        shift = child.child("shift").duration(positive=True)
        start_node = child.child("start")
        start = start_node.validate(parse_local_datetime)
        if start is not None and zone is not None:
            _local_time_notes(start_node, start, zone)
        window_node = child.child("window")
        window_ok, window = _window(window_node) if window_node.present() else (True, None)
        if members and shift is not None and start is not None and window_ok:
            rotations.append(Rotation(name, level, tuple(members), shift, start, window))
    return rotations


def _member_list(node: Node, names: _Names) -> list[str]:
    if node.value is None:
        return []
    if not node.is_list("a list of member keys, like [alice, bob]"):
        return []
    out = []
    for element in node.elements():
        key = element.string()
        if key is None:
            continue
        if key not in names.member_keys:
            element.error(f"{key!r} is not a member{_did_you_mean(key, names.member_keys)}")
            continue
        out.append(key)
    if not node.value:
        node.error("a rotation needs at least one member")
    return out


def _window(node: Node) -> tuple[bool, Window | None]:
    """``(ok, window)``; a window covering the whole week is None (always active)."""
    items = list(node.elements()) if isinstance(node.value, list) else [node]
    if not items:
        node.error('expected a window like {days: mon-fri, from: "18:00", until: "09:00"}')
        return False, None
    errors = len(node.errors)
    windows: list[Window | None] = []
    for item in items:
        if item.is_mapping(
            'a window like {days: mon-fri, from: "18:00", until: "09:00"} '
            "or {from: fri 18:00, until: mon 09:00}"
        ):
            item.check_keys({"days", "from", "until"})
            windows.append(_one_window(item))
    if len(node.errors) > errors:
        return False, None
    return True, combine_windows(windows)


def _is_week_time(value: object) -> bool:
    return isinstance(value, str) and value.strip()[:3].lower() in DAY_NAMES


def _parse_week_time(value: object) -> tuple[int, time]:
    """``fri 18:00`` -> (4, 18:00)."""
    day, _, clock = str(value).strip().lower().partition(" ")
    if day[:3] not in DAY_NAMES or not clock.strip():
        raise ValueError(f'"{value}" is not a day and time like "fri 18:00"')
    return DAY_NAMES.index(day[:3]), parse_clock_time(clock.strip())


def _one_window(node: Node) -> Window | None:
    """One window mapping; problems are reported on ``node`` (the caller checks)."""
    begin_node, end_node, days_node = node.child("from"), node.child("until"), node.child("days")
    if _is_week_time(begin_node.value) or _is_week_time(end_node.value):
        # The weekly form: one span from a day and time until a day and time.
        if days_node.present():
            days_node.error("leave out days when from/until name a day (from: fri 18:00)")
        for end in (begin_node, end_node):
            if not end.present():
                node.error("write both ends with a day, like {from: fri 18:00, until: mon 09:00}")
                return None
        begin = begin_node.validate(_parse_week_time)
        until = end_node.validate(_parse_week_time)
        if begin is None or until is None:
            return None
        return weekly_window(begin[0], begin[1], until[0], until[1])
    if not (days_node.present() or begin_node.present() or end_node.present()):
        node.error('a window needs days and/or from/until, like {days: mon-fri, from: "18:00"}')
        return None
    days = days_node.validate(_parse_days, tuple(range(7)))
    if not days:
        days_node.error("a window needs at least one day")
        return None
    # The daily form: each listed day from `from` until `until` (the next day if not later).
    return daily_window(
        days,
        begin_node.validate(parse_clock_time, time()),
        end_node.validate(parse_clock_time, time()),
    )


def _name_clashes(root: Node, names: _Names) -> None:
    """A name in notify or an override must mean one thing: a member, a level or a rotation."""
    schedules = names.schedules()
    members_node = root.child("members")
    for key in sorted(names.member_keys & schedules):
        members_node.child(key).error(
            f"{key!r} is both a member and a rotation or level: notify names must be unambiguous"
        )
    rotations_node = root.child("rotations")
    for rotation, level in names.rotations.items():
        # A level may be named after a rotation only if that rotation belongs to it (the
        # default: a rotation's level is its own name).
        if level != rotation and level in names.rotations and names.rotations[level] != level:
            rotations_node.child(rotation).child("level").error(
                f"{level!r} is the name of a rotation that serves level "
                f"{names.rotations[level]!r}; pick another level name"
            )


def _overrides(
    node: Node, names: _Names, zone: ZoneInfo | None, lines: dict[str, int]
) -> list[Override]:
    overrides: list[Override] = []
    placed: list[tuple[int, Override, str]] = []  # (index, override, level) for overlaps
    if not node.present() or not node.is_list("a list of overrides"):
        return overrides
    for index, child in enumerate(node.elements()):
        lines[f"overrides[{index}]"] = child.line
        if not child.is_mapping(
            "an override like {rotation: primary, member: carol, from: 2026-11-24T18:00, "
            "until: 2026-11-25T09:00}"
        ):
            continue
        child.check_keys(
            {"rotation", "member", "from", "until", "note"},
            required={"rotation", "member", "from", "until"},
        )
        rotation = child.child("rotation").string()
        if rotation is not None and rotation not in names.rotations:
            child.child("rotation").error(
                f"{rotation!r} is not a rotation of this team"
                f"{_did_you_mean(rotation, names.rotations)}"
            )
            rotation = None
        member = child.child("member").string()
        if member is not None and member not in names.member_keys:
            child.child("member").error(
                f"{member!r} is not a member of this team{_did_you_mean(member, names.member_keys)}"
            )
            member = None
        begin_node, end_node = child.child("from"), child.child("until")
        begin = begin_node.validate(parse_local_datetime)
        end = end_node.validate(parse_local_datetime)
        note = child.child("note").string()
        if zone is None or begin is None or end is None:
            continue
        _local_time_notes(begin_node, begin, zone)
        _local_time_notes(end_node, end, zone)
        start_at, end_at = to_instant(begin, zone), to_instant(end, zone)
        if end_at <= start_at:
            end_node.error(f"{end:%Y-%m-%dT%H:%M} must be after from ({begin:%Y-%m-%dT%H:%M})")
            continue
        if rotation is None or member is None:
            continue
        override = Override(rotation, member, start_at, end_at, note)
        level = names.rotations[rotation]
        for other_index, other, other_level in placed:
            if other_level == level and other.start < end_at and start_at < other.end:
                child.warning(
                    f"overlaps overrides[{other_index}] ({other.member}) on level {level!r}: "
                    "this later one wins while both apply"
                )
        placed.append((index, override, level))
        overrides.append(override)
    return overrides


def _escalation(node: Node, names: _Names, lines: dict[str, int]) -> EscalationPolicy | None:
    if not node.present() or not node.is_mapping("a mapping with steps (and repeat)"):
        return None
    node.check_keys({"repeat", "steps"}, required={"steps"})
    repeat = node.child("repeat").integer(0, minimum=0)
    steps_node = node.child("steps")
    if not steps_node.present() or not steps_node.is_list("a list of steps"):
        return None
    known = names.schedules() | names.member_keys
    steps: list[EscalationStep] = []
    previous: timedelta | None = None
    pages_somebody = False
    for index, child in enumerate(steps_node.elements()):
        lines[f"escalation.steps[{index}]"] = child.line
        if not child.is_mapping("a step like {after: 5m, notify: [secondary]}"):
            continue
        child.check_keys({"after", "notify"}, required={"after", "notify"})
        after_node = child.child("after")
        after = after_node.duration()
        if after is not None and previous is not None and after <= previous:
            after_node.error(
                "steps must be in order: each step's after (the time since the case opened) "
                f"must be later than the previous step's ({format_duration(previous)})"
            )
        if after is not None:
            previous = after
        notify_node = child.child("notify")
        lines[f"escalation.steps[{index}].notify"] = notify_node.line
        entries: list[tuple[str | None, Node]] = []
        if isinstance(notify_node.value, str):  # notify: primary
            entries = [(notify_node.value, notify_node)]
        elif notify_node.present() and notify_node.is_list("a list of levels or members"):
            entries = [(element.string(), element) for element in notify_node.elements()]
            if not entries:
                notify_node.error("a step must notify somebody")
        targets: list[str] = []
        for position, (target, element) in enumerate(entries):
            lines[f"escalation.steps[{index}].notify[{position}]"] = element.line
            if target is None:
                continue
            if target not in known:
                element.error(
                    f"{target!r} is not a level, rotation or member of this team"
                    f"{_did_you_mean(target, known)}"
                )
                continue
            targets.append(target)
        pages_somebody = pages_somebody or bool(targets)
        if after is not None:
            steps.append(EscalationStep(after, tuple(targets)))
    if not steps_node.value:
        steps_node.error("the escalation policy has no steps: a case would page nobody")
    elif not pages_somebody:
        steps_node.error("the escalation policy pages nobody")
    return EscalationPolicy(tuple(steps), repeat)


def _unreachable_members(
    root: Node,
    names: _Names,
    rotations: list[Rotation],
    escalation: EscalationPolicy | None,
    manager: str | None,
) -> None:
    """Warn about people who will be paged but have no phone (SMS and voice need one)."""
    paged = {m for r in rotations for m in r.members}
    if escalation is not None:
        paged |= {n for step in escalation.steps for n in step.notify if n in names.members}
    if manager:
        paged.add(manager)
    for key in sorted(paged):
        member = names.members.get(key)
        if member is not None and member.phone is None:
            root.child("members").child(key).warning(
                f"{key} has no phone: pages reach them by email only"
            )


# ---------------------------------------------------------------------------------------------
# Coverage
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# A directory of rota files
# ---------------------------------------------------------------------------------------------


def _is_rota_file(path: Path) -> bool:
    # Editors leave .#support.yaml, support.yaml~ and the like next to the file being edited.
    return path.is_file() and not path.name.startswith((".", "~", "#"))


def rota_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if _is_rota_file(p))


def check_directory(
    directory: Path | str, now: datetime, days: int = DEFAULT_COVERAGE_DAYS
) -> tuple[dict[str, Team], list[SourceError]]:
    """Validate every rota file and its coverage: the teams that loaded and all problems
    (errors and warnings), as ``oncall check`` and ``oncall rota check`` print them."""
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
        team, found = read_team(path)
        problems.extend(found)
        if team is not None:
            teams[team.key] = team
            problems.extend(coverage_problems(team, now, days))
    return teams, problems


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
    loaded; with only coverage errors it is loaded (some paging beats none) and reported. A
    removed file removes its team. Coverage is re-checked every ``coverage_every`` because
    gaps come closer as time passes.

    Thread-safe: web threads read while the engine polls.
    """

    def __init__(
        self,
        directory: Path | str,
        clock: Clock,
        coverage_days: int = DEFAULT_COVERAGE_DAYS,
        coverage_every: timedelta = timedelta(hours=1),
    ):
        self.directory = Path(directory)
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
                            f"{status.loaded_at:%Y-%m-%d %H:%M:%S} UTC until it is fixed",
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
                log.warning("%s removed: team %s no longer pages", path, path.stem)
                changed = True
                with self._lock:
                    del self._files[path]
            for path, signature in seen.items():
                previous = current.get(path)
                if not force and previous is not None and previous.signature == signature:
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

    def _load_file(
        self, path: Path, signature: tuple[int, ...], previous: FileStatus | None, now: datetime
    ) -> FileStatus:
        old = previous.team if previous else None
        status = FileStatus(path, signature, old, previous.loaded_at if previous else None)
        team, status.problems = read_team(path)
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
