"""``oncall rota retire TEAM``: let a team go whose rota file was removed or renamed.

A running service keeps paging a team whose rota file disappeared, with the last version it
loaded, and ``/healthz`` says so until the file is back or the team is retired here. This
command reads config.yaml (``--config``) for the database and the rotations directory.
"""

from __future__ import annotations

import getpass

import click


@click.command("retire")
@click.argument("team")
@click.option("--by", "by", default=None, help="Who retires it (default: your login name).")
def retire(team: str, by: str | None) -> None:
    """Stop paging TEAM, whose rota file is gone (deleted or renamed).

    Every running service drops the team within engine.reload_poll. Refused while
    rotations/TEAM.yaml exists. Customers that still name TEAM in customers.yaml then reach
    no engineer: their cases alert the managers until the team has a rota again.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from oncall.bootstrap.runtime import build_runtime
    from oncall.db.preflight import require_ready
    from oncall.db.session import transaction
    from oncall.services.rota_retirement import RetireRefused, retire_team

    settings = click.get_current_context().obj.settings
    require_ready(settings.database_url)  # a missing database is a sentence, not a new file
    runtime = build_runtime(settings)
    try:
        with transaction(runtime.sessions) as session:
            retired = retire_team(session, runtime, team, by or _login(), runtime.clock.now())
    except RetireRefused as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise click.ClickException(
            f"cannot record the retirement in the database ({first_line}); is it migrated? "
            "Run `oncall db upgrade`."
        ) from None
    finally:
        runtime.close()
    poll = f"{settings.engine.reload_poll.total_seconds():g}s"
    click.echo(f"Team {team} retired: running services stop paging it within {poll}.")
    if retired.open_cases:
        click.echo(
            f"Its {retired.open_cases} open case(s) go on with the escalation frozen on them."
        )
    if retired.customers:
        click.echo(
            f"Warning: {', '.join(retired.customers)} still name team {team!r} in "
            f"{settings.paths.customers.name}: their calls will page no engineer (the managers "
            "are alerted) until the team has a rota again or they name another team."
        )


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in containers without a passwd entry
        return "cli"
