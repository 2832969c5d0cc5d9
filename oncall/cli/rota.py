"""``oncall rota ...``: check rota files, see who is on call, list shifts, export calendars; the
live overrides (TAKEs) are in :mod:`oncall.cli.rota_overrides`.

Every command reads ``--rotations DIR`` (default ``$ONCALL_ROTATIONS`` or ``rotations/``), so it
works without a config file; when run as ``oncall rota`` with a readable config, phone numbers
written without a country code are read in its ``phone_region``, as the service reads them. The
current time is read here, at the edge, and nowhere below.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from oncall.cli.rota_overrides import live_overrides_from_config, override
from oncall.config.loading import load_settings
from oncall.config.yamlsource import SourceErrors
from oncall.domain.phones import DEFAULT_REGION
from oncall.domain.rota.live import with_live_overrides
from oncall.domain.rota.localtime import format_local, to_instant
from oncall.domain.rota.model import OnCall, Team
from oncall.domain.rota.resolve import shifts, who_is_on_call
from oncall.reports.calendars import feed_token, team_calendar
from oncall.sources.rotas.coverage import DEFAULT_COVERAGE_DAYS
from oncall.sources.rotas.directory import check_directory
from oncall.sources.rotas.directory import rota_files as _rota_files
from oncall.sources.rotas.fields import parse_local_datetime
from oncall.sources.rotas.reading import read_team

rotations_option = click.option(
    "--rotations",
    "rotations",
    envvar="ONCALL_ROTATIONS",
    default="rotations",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory of rota files (env ONCALL_ROTATIONS).",
)


def _now() -> datetime:
    return datetime.now(UTC)


def _phone_region() -> str:
    """Config's ``phone_region`` under ``oncall`` with a readable config, else the default."""
    context = click.get_current_context().find_object(object)
    path = getattr(context, "config_path", None)
    if path is None or not Path(path).is_file():
        return DEFAULT_REGION
    try:
        return load_settings(path).phone_region
    except SourceErrors:
        # A broken config.yaml is `oncall check`'s to report; the rota commands work without.
        return DEFAULT_REGION


def _instant(text: str | None, team: Team) -> datetime:
    """``--at``/``--from``: local time in the team's zone (an explicit offset is honoured)."""
    if text is None:
        return _now()
    try:
        aware = datetime.fromisoformat(text.strip())
    except ValueError:
        aware = None
    if aware is not None and aware.tzinfo is not None:
        return aware.astimezone(UTC)
    try:
        return to_instant(parse_local_datetime(text), team.zone)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _load(rotations: Path, only: str | None = None, live: bool = True) -> dict[str, Team]:
    """The teams whose files are valid; files with errors are named on stderr and skipped.
    With ``live``, the TAKEs in the service's database are layered on top (when ``oncall``
    runs with a config whose database exists), as the service resolves the rota."""
    if not rotations.is_dir():
        raise click.ClickException(f"{rotations}: rotations directory not found")
    teams: dict[str, Team] = {}
    region = _phone_region()
    for path in _rota_files(rotations):
        if only is not None and path.stem != only:
            continue
        team, problems = read_team(path, phone_region=region)
        if team is None:
            errors = sum(1 for p in problems if p.severity == "error")
            click.echo(f"{path}: {errors} error(s), skipped (run `oncall rota check`)", err=True)
            continue
        teams[team.key] = team
    if only is not None and only not in teams:
        known = ", ".join(sorted(p.stem for p in _rota_files(rotations))) or "none"
        raise click.ClickException(f"no valid rota for team {only!r} (files: {known})")
    if live and teams:
        overrides = live_overrides_from_config()
        teams = {key: with_live_overrides(t, overrides.get(key, ())) for key, t in teams.items()}
    return teams


@click.group()
def rota() -> None:
    """Rotas: who is on call, shifts, calendars, live overrides (TAKEs), checking the files."""


@rota.command()
@rotations_option
@click.option(
    "--days",
    default=DEFAULT_COVERAGE_DAYS,
    show_default=True,
    help="How far ahead to look for coverage gaps.",
)
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="Check coverage from this time (ISO; without an offset: UTC). Default: now.",
)
def check(rotations: Path, days: int, start: str | None) -> None:
    """Validate every rota file and its coverage; list all problems; exit 1 on any error."""
    now = _now()
    if start is not None:
        try:
            parsed = datetime.fromisoformat(start)
        except ValueError:
            raise click.BadParameter(f"{start!r} is not a time like 2026-11-23T09:00") from None
        now = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    teams, problems = check_directory(rotations, now, days, phone_region=_phone_region())
    for problem in problems:
        click.echo(str(problem))
    errors = [p for p in problems if p.severity == "error"]
    warnings = len(problems) - len(errors)
    if errors:
        click.echo(f"{len(errors)} error(s), {warnings} warning(s)")
        sys.exit(1)
    click.echo(
        f"ok: {len(teams)} team(s) ({', '.join(sorted(teams)) or 'none'}), covered for the next "
        f"{days} days" + (f", {warnings} warning(s)" if warnings else "")
    )


def _person(member: Any) -> dict[str, Any]:
    return {"member": member.key, "name": member.name, "phone": member.phone, "email": member.email}


def _who_json(team: Team, at: datetime) -> dict[str, Any]:
    levels = []
    for level in team.levels():
        current = who_is_on_call(team, level, at)
        entry: dict[str, Any] = {"level": level}
        if current is None:
            entry.update(member=None, next=_next_json(team, level, at))
        else:
            entry.update(_person(current.member))
            entry.update(
                rotation=current.rotation,
                override=current.override,
                note=current.note,
                start=current.start.astimezone(team.zone).isoformat(),
                end=current.end.astimezone(team.zone).isoformat(),
            )
        levels.append(entry)
    manager = team.manager_member()
    return {
        "team": team.key,
        "timezone": team.timezone,
        "at": at.astimezone(team.zone).isoformat(),
        "levels": levels,
        "manager": _person(manager) if manager else None,
    }


def _next_on_call(team: Team, level: str, at: datetime) -> OnCall | None:
    upcoming = shifts(team, level, at, at + timedelta(days=DEFAULT_COVERAGE_DAYS))
    return upcoming[0] if upcoming else None


def _next_json(team: Team, level: str, at: datetime) -> dict[str, Any] | None:
    upcoming = _next_on_call(team, level, at)
    if upcoming is None:
        return None
    return {**_person(upcoming.member), "start": upcoming.start.astimezone(team.zone).isoformat()}


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


@rota.command()
@rotations_option
@click.option("--team", default=None, help="Only this team.")
@click.option(
    "--at",
    default=None,
    metavar="TIME",
    help='When, in each team\'s local time, e.g. "2026-11-28 03:00". Default: now.',
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def who(rotations: Path, team: str | None, at: str | None, as_json: bool) -> None:
    """Who is on call for each level: member, phone, and when their period ends."""
    teams = _load(rotations, team)
    if as_json:
        out = [_who_json(t, _instant(at, t)) for _key, t in sorted(teams.items())]
        click.echo(json.dumps({"teams": out}, indent=2))
        return
    for key, current_team in sorted(teams.items()):
        when = _instant(at, current_team)
        zone = current_team.zone
        click.echo(f"{key} ({current_team.timezone}) at {format_local(when, zone)}")
        rows = [["LEVEL", "ON CALL", "PHONE", "UNTIL", "NOTE"]]
        for level in current_team.levels():
            current = who_is_on_call(current_team, level, when)
            if current is None:
                upcoming = _next_on_call(current_team, level, when)
                after = (
                    f"next: {upcoming.member.name} from {format_local(upcoming.start, zone)}"
                    if upcoming
                    else f"nobody in the next {DEFAULT_COVERAGE_DAYS} days"
                )
                rows.append([level, "nobody", "", "", after])
                continue
            notes = []
            if current.override:
                notes.append("override" + (f": {current.note}" if current.note else ""))
            if current.rotation != level:
                notes.append(f"rotation {current.rotation}")
            rows.append(
                [
                    level,
                    current.member.name,
                    current.member.phone or "",
                    format_local(current.end, zone),
                    "; ".join(notes),
                ]
            )
        manager = current_team.manager_member()
        if manager:
            rows.append(["manager", manager.name, manager.phone or "", "", ""])
        for line in _table(rows):
            click.echo(f"  {line}")


@rota.command()
@rotations_option
@click.option("--team", required=True, help="The team (rota file name without .yaml).")
@click.option("--days", default=14, show_default=True, help="How many days to show.")
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="Start, in the team's local time (e.g. 2026-11-23). Default: now.",
)
def show(rotations: Path, team: str, days: int, start: str | None) -> None:
    """A table of on-call periods per level; overrides and gaps are marked."""
    current_team = _load(rotations, team)[team]
    zone = current_team.zone
    begin = _instant(start, current_team)
    end = begin + timedelta(days=days)
    click.echo(f"{team}: on call from {format_local(begin, zone)} until {format_local(end, zone)}")
    rows = [["LEVEL", "FROM", "UNTIL", "ON CALL", "ROTATION", "NOTE"]]
    for level in current_team.levels():
        cursor = begin
        for period in shifts(current_team, level, begin, end):
            if period.start > cursor:
                rows.append(
                    [
                        level,
                        format_local(cursor, zone),
                        format_local(period.start, zone),
                        "-- nobody --",
                        "",
                        "GAP",
                    ]
                )
            note = (
                ("override" + (f": {period.note}" if period.note else ""))
                if period.override
                else ""
            )
            rows.append(
                [
                    level,
                    format_local(period.start, zone),
                    format_local(period.end, zone),
                    period.member.name,
                    period.rotation,
                    note,
                ]
            )
            cursor = period.end
        if cursor < end:
            rows.append(
                [
                    level,
                    format_local(cursor, zone),
                    format_local(end, zone),
                    "-- nobody --",
                    "",
                    "GAP",
                ]
            )
    for line in _table(rows):
        click.echo(line)


@rota.command()
@rotations_option
@click.option("--team", required=True, help="The team (rota file name without .yaml).")
@click.option("--member", default=None, help="Only this member's shifts.")
@click.option("--days", default=90, show_default=True, help="How many days ahead.")
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="Start, in the team's local time. Default: now.",
)
def ics(rotations: Path, team: str, member: str | None, days: int, start: str | None) -> None:
    """The rota as an iCalendar file (RFC 5545) on stdout."""
    current_team = _load(rotations, team)[team]
    if member is not None and member not in current_team.members:
        raise click.ClickException(f"{member!r} is not a member of team {team!r}")
    begin = _instant(start, current_team)
    body = team_calendar(current_team, begin, begin + timedelta(days=days), member, stamp=_now())
    click.echo(body, nl=False)  # bytes go to the binary stream unchanged


@rota.command("feed-url")
@rotations_option
@click.option("--team", required=True, help="The team (rota file name without .yaml).")
@click.option("--member", default=None, help="A feed of only this member's shifts.")
@click.option(
    "--secret-key",
    envvar="ONCALL_SECRET_KEY",
    default=None,
    help="The service's secret key (env ONCALL_SECRET_KEY; default: from config).",
)
@click.option(
    "--base-url",
    envvar="ONCALL_PUBLIC_URL",
    default=None,
    help="The service's public URL (default: public_url from config).",
)
def feed_url(
    rotations: Path, team: str, member: str | None, secret_key: str | None, base_url: str | None
) -> None:
    """The calendar subscription URL for a team's (or a member's) rota feed."""
    current_team = _load(rotations, team, live=False)[team]
    if member is not None and member not in current_team.members:
        raise click.ClickException(f"{member!r} is not a member of team {team!r}")
    if secret_key is None or base_url is None:
        # The token must be made with the same key the service uses: take it from config.
        context = click.get_current_context().find_object(object)
        settings = getattr(context, "settings", None)
        if settings is None:
            raise click.ClickException("give --secret-key and --base-url (or run via `oncall`)")
        secret_key = secret_key or settings.secret_key
        base_url = base_url or settings.public_url
    assert secret_key is not None and base_url is not None
    path = f"/rota/{team}/{member}.ics" if member else f"/rota/{team}.ics"
    token = feed_token(secret_key, team, member)
    click.echo(f"{base_url.rstrip('/')}{path}?token={token}")


rota.add_command(override)
