"""The sections of a rota file that are about time: rotations (with their windows) and
overrides. Each reader reports problems on the nodes it reads and returns what is valid.
"""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

from oncall.config.yamlsource import Node
from oncall.domain.rota.localtime import to_instant
from oncall.domain.rota.model import Override, Rotation
from oncall.domain.rota.windows import Window, combine_windows, daily_window, weekly_window
from oncall.domain.timetext import parse_time_of_day
from oncall.sources.rotas.fields import (
    Names,
    check_name,
    did_you_mean,
    is_week_time,
    local_time_notes,
    parse_days,
    parse_local_datetime,
    parse_week_time,
)


def read_rotations(
    node: Node, names: Names, zone: ZoneInfo | None, lines: dict[str, int]
) -> list[Rotation]:
    rotations: list[Rotation] = []
    if not node.present():
        return rotations
    if not node.is_mapping("a mapping of rotation names"):
        return rotations
    for raw_name, child in node.items():
        name = str(raw_name)
        lines[f"rotations.{name}"] = child.line
        if not check_name(child, name, "rotation name"):
            continue
        level_node = child.child("level")
        level = level_node.string(name) or name
        if level != name and not check_name(level_node, level, "level"):
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
            local_time_notes(start_node, start, zone)
        window_node = child.child("window")
        window_ok, window = _window(window_node) if window_node.present() else (True, None)
        if members and shift is not None and start is not None and window_ok:
            rotations.append(Rotation(name, level, tuple(members), shift, start, window))
    return rotations


def _member_list(node: Node, names: Names) -> list[str]:
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
            element.error(f"{key!r} is not a member{did_you_mean(key, names.member_keys)}")
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


def _one_window(node: Node) -> Window | None:
    """One window mapping; problems are reported on ``node`` (the caller checks)."""
    begin_node, end_node, days_node = node.child("from"), node.child("until"), node.child("days")
    if is_week_time(begin_node.value) or is_week_time(end_node.value):
        # The weekly form: one span from a day and time until a day and time.
        if days_node.present():
            days_node.error("leave out days when from/until name a day (from: fri 18:00)")
        for end in (begin_node, end_node):
            if not end.present():
                node.error("write both ends with a day, like {from: fri 18:00, until: mon 09:00}")
                return None
        begin = begin_node.validate(parse_week_time)
        until = end_node.validate(parse_week_time)
        if begin is None or until is None:
            return None
        return weekly_window(begin[0], begin[1], until[0], until[1])
    if not (days_node.present() or begin_node.present() or end_node.present()):
        node.error('a window needs days and/or from/until, like {days: mon-fri, from: "18:00"}')
        return None
    days = days_node.validate(parse_days, tuple(range(7)))
    if not days:
        days_node.error("a window needs at least one day")
        return None
    # The daily form: each listed day from `from` until `until` (the next day if not later).
    return daily_window(
        days,
        begin_node.validate(parse_time_of_day, time()),
        end_node.validate(parse_time_of_day, time()),
    )


def read_overrides(
    node: Node, names: Names, zone: ZoneInfo | None, lines: dict[str, int]
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
                f"{did_you_mean(rotation, names.rotations)}"
            )
            rotation = None
        member = child.child("member").string()
        if member is not None and member not in names.member_keys:
            child.child("member").error(
                f"{member!r} is not a member of this team{did_you_mean(member, names.member_keys)}"
            )
            member = None
        begin_node, end_node = child.child("from"), child.child("until")
        begin = begin_node.validate(parse_local_datetime)
        end = end_node.validate(parse_local_datetime)
        note = child.child("note").string()
        if zone is None or begin is None or end is None:
            continue
        local_time_notes(begin_node, begin, zone)
        local_time_notes(end_node, end, zone)
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
