"""Reading one rota file: every mistake a manager can make, each with file, line and key path,
all of them in one pass (errors and warnings), and the :class:`~oncall.domain.rota.model.Team`
when there is no error. Coverage is checked separately (:mod:`oncall.sources.rotas.coverage`):
it depends on the time of the check.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from oncall.config.sections import normalise_email
from oncall.config.yamlsource import Node, SourceError, SourceErrors, load_yaml
from oncall.domain.phones import DEFAULT_REGION, parse_phone
from oncall.domain.rota.model import (
    STEP_CHANNELS,
    EscalationPolicy,
    EscalationStep,
    Member,
    Rotation,
    Team,
)
from oncall.domain.timetext import format_duration
from oncall.sources.rotas.fields import Names, check_name, did_you_mean
from oncall.sources.rotas.schedules import read_overrides, read_rotations

TOP_KEYS = {"team", "timezone", "members", "rotations", "overrides", "escalation", "manager"}


def read_team(
    path: Path | str,
    text: str | None = None,
    display_name: str | None = None,
    phone_region: str = DEFAULT_REGION,
) -> tuple[Team | None, list[SourceError]]:
    """Validate one rota file. Returns the team (None if there are errors) and every problem,
    errors and warnings, in file order. Coverage is checked separately (it depends on now).

    Phone numbers written without a country code are read in ``phone_region``."""
    name = display_name or str(path)
    try:
        raw = load_yaml(path, text, name)
    except SourceErrors as exc:
        return None, exc.errors
    root = Node(raw, name)
    team = _build(root, Path(path).stem, phone_region)
    problems = sorted(root.errors, key=lambda e: (e.line, e.severity != "error"))
    if any(e.severity == "error" for e in problems):
        return None, problems
    return team, problems


def load_team(path: Path | str, phone_region: str = DEFAULT_REGION) -> Team:
    """Validate one rota file; raises :class:`SourceErrors` listing every error."""
    team, problems = read_team(path, phone_region=phone_region)
    if team is None:
        raise SourceErrors([p for p in problems if p.severity == "error"])
    return team


def _build(root: Node, stem: str, phone_region: str) -> Team | None:
    if not root.is_mapping("a rota: a mapping with timezone, members, rotations and escalation"):
        return None
    root.check_keys(TOP_KEYS, required={"timezone", "members", "escalation"})
    lines: dict[str, int] = {}

    team_node = root.child("team")
    key = team_node.string(stem) or stem
    if key != stem:
        team_node.error(f"{key!r} must match the file name: this file is {stem}.yaml")

    zone = _zone(root.child("timezone"))
    names = Names()
    _members(root.child("members"), names, lines, phone_region)
    rotations = read_rotations(root.child("rotations"), names, zone, lines)
    _name_clashes(root, names)
    overrides = read_overrides(root.child("overrides"), names, zone, lines)
    escalation = _escalation(root.child("escalation"), names, lines)

    manager_node = root.child("manager")
    manager = manager_node.string()
    if manager is None:
        root.warning("no manager: SLA breaches will page nobody (add manager: <member>)")
    elif manager not in names.member_keys:
        manager_node.error(
            f"{manager!r} is not a member of this team{did_you_mean(manager, names.member_keys)}"
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
            f"unknown time zone {name!r}{did_you_mean(name, available_timezones())} "
            "(use an IANA name like America/Toronto)"
        )
        return None


def _members(node: Node, names: Names, lines: dict[str, int], phone_region: str) -> None:
    if not node.present() or not node.is_mapping("a mapping of member keys to {name, phone}"):
        return
    phones: dict[str, str] = {}
    for raw_key, child in node.items():
        key = str(raw_key)
        names.member_keys.add(key)
        lines[f"members.{key}"] = child.line
        if not check_name(child, key, "member key") or not child.is_mapping(
            'a member like {name: Alice Ng, phone: "+15550100101", email: alice@example.com}'
        ):
            continue
        child.check_keys({"name", "phone", "email"}, required={"name"})
        name = child.child("name").string(key) or key
        phone = child.child("phone").validate(lambda value: parse_phone(value, phone_region))
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


def _name_clashes(root: Node, names: Names) -> None:
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


def _escalation(node: Node, names: Names, lines: dict[str, int]) -> EscalationPolicy | None:
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
        child.check_keys({"after", "notify", "via"}, required={"after", "notify"})
        via = child.child("via").choice(list(STEP_CHANNELS), "sms") or "sms"
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
                    f"{did_you_mean(target, known)}"
                )
                continue
            targets.append(target)
        pages_somebody = pages_somebody or bool(targets)
        if after is not None:
            steps.append(EscalationStep(after, tuple(targets), via))
    if not steps_node.value:
        steps_node.error("the escalation policy has no steps: a case would page nobody")
    elif not pages_somebody:
        steps_node.error("the escalation policy pages nobody")
    return EscalationPolicy(tuple(steps), repeat)


def _unreachable_members(
    root: Node,
    names: Names,
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
