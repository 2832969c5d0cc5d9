"""``oncall rota override list|remove``: the live overrides (engineers' TAKEs) in the service's
database, and reading them for ``oncall rota who|show|ics``.

The rota commands work from the files alone; when ``oncall`` runs with a readable config whose
database exists, :func:`live_overrides_from_config` adds the TAKEs, so the commands show the
rota the service pages by. The current time is read here, at the edge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from oncall.cases.live_rota import live_overrides
from oncall.cli.context import current
from oncall.config.settings import Settings
from oncall.db.session import make_engine, make_session_factory, transaction
from oncall.domain.rota.model import Override
from oncall.domain.shift_text import local_label
from oncall.services.live_overrides import (
    OverrideError,
    override_rows,
    overrides_yaml,
    remove_live_override,
)


def _settings() -> Settings | None:
    """The config's settings; None without one, or when it is broken (`oncall check`'s to
    report)."""
    context = current()
    return context.settings_if_valid() if context is not None else None


def _database(settings: Settings) -> Engine | None:
    """The service's database, or None when it doesn't exist yet (never create one here)."""
    url = make_url(settings.database_url)
    missing = not url.database or url.database == ":memory:" or not Path(url.database).is_file()
    if url.get_backend_name() == "sqlite" and missing:
        return None
    return make_engine(settings.database_url)


def live_overrides_from_config() -> dict[str, list[Override]]:
    """Every live override not removed, per team; {} without a config or a database."""
    settings = _settings()
    engine = _database(settings) if settings is not None else None
    if engine is None:
        return {}
    try:
        with transaction(make_session_factory(engine)) as session:
            return live_overrides(session, None)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        click.echo(f"live overrides (TAKE) not shown: {first}", err=True)
        return {}
    finally:
        engine.dispose()


def _require_database() -> tuple[Settings, Engine]:
    context = current()
    settings = context.settings if context is not None and context.has_config() else None
    if settings is None:
        raise click.ClickException("run as `oncall rota override ...` with a config")
    engine = _database(settings)
    if engine is None:
        raise click.ClickException(f"no database at {settings.database_url}: nothing to list")
    return settings, engine


@click.group("override")
def override() -> None:
    """Live overrides: engineers' TAKEs, kept in the database over the rota files."""


@override.command("list")
@click.option("--team", default=None, help="Only this team.")
@click.option("--all", "everything", is_flag=True, help="Also the ended and removed ones.")
@click.option("--yaml", "as_yaml", is_flag=True, help="As entries for the rota file's overrides:")
def list_overrides(team: str | None, everything: bool, as_yaml: bool) -> None:
    """The live overrides in force or to come: who, which level, from when until when."""
    settings, engine = _require_database()
    now = datetime.now(UTC)
    try:
        with transaction(make_session_factory(engine)) as session:
            rows = override_rows(session, now, team, everything=everything)
            session.expunge_all()
    finally:
        engine.dispose()
    zones = _zones(settings)
    if as_yaml:
        click.echo(overrides_yaml(rows, zones), nl=False)
        return
    if not rows:
        click.echo("no live overrides" + ("" if everything else " in force or to come"))
        return
    table = [["ID", "TEAM", "LEVEL", "MEMBER", "FROM", "UNTIL", "MADE BY", "STATE"]]
    for row in rows:
        zone = zones.get(row.team, settings.zone)
        state = (
            f"removed by {row.removed_by}"
            if row.removed_at
            else ("ended" if row.ends_at <= now else "live")
        )
        table.append(
            [
                str(row.id), row.team, row.level, row.member, local_label(row.starts_at, zone),
                local_label(row.ends_at, zone), f"{row.created_by} ({row.created_via})", state,
            ]
        )  # fmt: skip
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


@override.command("remove")
@click.argument("override_id", type=int)
@click.option("--by", default="a manager", show_default=True, help="Who removes it (a name).")
def remove(override_id: int, by: str) -> None:
    """Remove live override ID: the rota file applies again, and its engineer is told."""
    from oncall.bootstrap.runtime import build_runtime

    settings, engine = _require_database()
    runtime = build_runtime(settings, db=engine)
    try:
        with transaction(runtime.sessions) as session:
            removed = remove_live_override(session, runtime, override_id, by, datetime.now(UTC))
            row = removed.row
            summary = f"removed live override {row.id}: {row.member} as {row.level} for {row.team}"
    except OverrideError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()
    click.echo(summary + (f"; {removed.told} is told by SMS" if removed.told else ""))


def _zones(settings: Settings) -> dict:
    """Each team's zone, from its rota file (the YAML wants local times)."""
    from oncall.sources.rotas.directory import rota_files
    from oncall.sources.rotas.reading import read_team

    zones = {}
    directory = settings.paths.rotations
    for path in rota_files(directory) if directory.is_dir() else []:
        team, _problems = read_team(path, phone_region=settings.phone_region)
        if team is not None:
            zones[team.key] = team.zone
    return zones
