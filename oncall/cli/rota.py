"""``oncall rota ...``: check rota files, see who is on call, list shifts, export calendars; the
live overrides (TAKEs) are in :mod:`oncall.cli.rota_overrides`.

The rota directory is ``--rotations DIR`` (or ``$ONCALL_ROTATIONS``), else ``paths.rotations``
of the config (``--config`` / ``ONCALL_CONFIG``, or ``./config.yaml`` when there is one), else
``./rotations``; phone numbers written without a country code are read in the config's
``phone_region``, as the service reads them. Commands about one team take ``--team`` and need
it only when there are several. Every ``--at`` and ``--from`` is local time in the team's zone.
The current time is read here, at the edge, and nowhere below.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from oncall.cli import rota_views
from oncall.cli.context import current
from oncall.cli.rota_overrides import live_overrides_from_config, override
from oncall.domain.phones import DEFAULT_REGION
from oncall.domain.rota.live import with_live_overrides
from oncall.domain.rota.localtime import to_instant
from oncall.domain.rota.model import Team
from oncall.domain.rota.resolve import who_is_on_call
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
    default=None,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory of rota files (env ONCALL_ROTATIONS; default: paths.rotations of the "
    "config, else ./rotations).",
)
team_option = click.option(
    "--team",
    default=None,
    help="The team (rota file name without .yaml); needed only when there are several.",
)


@dataclass(frozen=True)
class RotaSource:
    directory: Path
    phone_region: str


def _now() -> datetime:
    return datetime.now(UTC)


def _source(rotations: Path | None) -> RotaSource:
    """Where the rota files are and how to read their phone numbers (see the module doc)."""
    context = current()
    settings = None
    if context is not None and context.has_config():
        # Without --rotations the config names the directory, so it must be readable (its
        # errors are printed); with it, a broken config only costs the phone region.
        settings = context.settings if rotations is None else context.settings_if_valid()
    if rotations is None:
        rotations = settings.paths.rotations if settings is not None else Path("rotations")
    return RotaSource(rotations, settings.phone_region if settings else DEFAULT_REGION)


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


def _load(source: RotaSource, only: str | None = None, live: bool = True) -> dict[str, Team]:
    """The teams whose files are valid; files with errors are named on stderr and skipped.
    With ``live``, the TAKEs in the service's database are layered on top (when ``oncall``
    runs with a config whose database exists), as the service resolves the rota."""
    rotations = source.directory
    if not rotations.is_dir():
        raise click.ClickException(f"{rotations}: rotations directory not found")
    teams: dict[str, Team] = {}
    for path in _rota_files(rotations):
        if only is not None and path.stem != only:
            continue
        team, problems = read_team(path, phone_region=source.phone_region)
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


def _one_team(source: RotaSource, team: str | None, live: bool = True) -> Team:
    """The team named, or the only one there is (``live``: with the TAKEs, see ``_load``)."""
    if team is not None:
        return _load(source, team, live)[team]
    teams = _load(source, live=live)
    if len(teams) == 1:
        return next(iter(teams.values()))
    if not teams:
        raise click.ClickException(f"no valid rota in {source.directory}")
    raise click.UsageError(f"give --team: one of {', '.join(sorted(teams))}")


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
    help="Check coverage from this time, in each team's local time (e.g. 2026-11-23T09:00; an "
    "explicit offset is honoured). Default: now.",
)
def check(rotations: Path | None, days: int, start: str | None) -> None:
    """Validate every rota file and its coverage; list all problems; exit 1 on any error."""
    source = _source(rotations)
    begin = None if start is None else (lambda team: _instant(start, team))
    teams, problems = check_directory(
        source.directory, _now(), days, phone_region=source.phone_region, start=begin
    )
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


@rota.command()
@rotations_option
@click.option("--team", default=None, help="Only this team.")
@click.option("--level", default=None, help="Only this level (e.g. primary).")
@click.option(
    "--at",
    default=None,
    metavar="TIME",
    help='When, in each team\'s local time, e.g. "2026-11-28 03:00". Default: now.',
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--phone",
    "phone_only",
    is_flag=True,
    help="Print only the phone number of each person on call, one a line (for scripts).",
)
def who(
    rotations: Path | None,
    team: str | None,
    level: str | None,
    at: str | None,
    as_json: bool,
    phone_only: bool,
) -> None:
    """Who is on call for each level: member, phone, and when their period ends."""
    teams = _load(_source(rotations), team)
    for key, current_team in sorted(teams.items()):
        if level is not None and level not in current_team.levels():
            known = ", ".join(current_team.levels())
            raise click.ClickException(f"team {key!r} has no level {level!r} (levels: {known})")
    out = []
    for _key, current_team in sorted(teams.items()):
        when = _instant(at, current_team)
        levels = [level] if level is not None else current_team.levels()
        if as_json:
            out.append(rota_views.who_json(current_team, when, levels))
        elif phone_only:
            for name in levels:
                current = who_is_on_call(current_team, name, when)
                if current is not None and current.member.phone:
                    click.echo(current.member.phone)
        else:
            for line in rota_views.who_lines(current_team, when, levels):
                click.echo(line)
    if as_json:
        click.echo(json.dumps({"teams": out}, indent=2))


@rota.command()
@rotations_option
@team_option
@click.option("--days", default=14, show_default=True, help="How many days to show.")
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="Start, in the team's local time (e.g. 2026-11-23). Default: now.",
)
def show(rotations: Path | None, team: str | None, days: int, start: str | None) -> None:
    """A table of on-call periods per level; overrides and gaps are marked."""
    current_team = _one_team(_source(rotations), team)
    begin = _instant(start, current_team)
    for line in rota_views.show_lines(current_team, begin, begin + timedelta(days=days)):
        click.echo(line)


@rota.command()
@rotations_option
@team_option
@click.option("--member", default=None, help="Only this member's shifts.")
@click.option("--days", default=90, show_default=True, help="How many days ahead.")
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="Start, in the team's local time. Default: now.",
)
def ics(
    rotations: Path | None, team: str | None, member: str | None, days: int, start: str | None
) -> None:
    """The rota as an iCalendar file (RFC 5545) on stdout."""
    current_team = _one_team(_source(rotations), team)
    _check_member(current_team, member)
    begin = _instant(start, current_team)
    body = team_calendar(current_team, begin, begin + timedelta(days=days), member, stamp=_now())
    click.echo(body, nl=False)  # bytes go to the binary stream unchanged


def _check_member(team: Team, member: str | None) -> None:
    if member is not None and member not in team.members:
        raise click.ClickException(f"{member!r} is not a member of team {team.key!r}")


@rota.command("feed-url")
@rotations_option
@team_option
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
    rotations: Path | None,
    team: str | None,
    member: str | None,
    secret_key: str | None,
    base_url: str | None,
) -> None:
    """The calendar subscription URL for a team's (or a member's) rota feed."""
    current_team = _one_team(_source(rotations), team, live=False)
    _check_member(current_team, member)
    if secret_key is None or base_url is None:
        # The token must be made with the same key the service uses: take it from config.
        context = current()
        if context is None:
            raise click.ClickException("give --secret-key and --base-url (or run via `oncall`)")
        secret_key = secret_key or context.settings.secret_key
        base_url = base_url or context.settings.public_url
    assert secret_key is not None and base_url is not None
    key = current_team.key
    path = f"/rota/{key}/{member}.ics" if member else f"/rota/{key}.ics"
    token = feed_token(secret_key, key, member)
    click.echo(f"{base_url.rstrip('/')}{path}?token={token}")


rota.add_command(override)
