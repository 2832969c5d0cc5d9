"""The ``oncall`` command line: the top group and the commands that run or check the service.

Every command reads ``config.yaml`` (or ``--config`` / ``ONCALL_CONFIG``) for every path it
uses (see :mod:`oncall.cli.context`). The other command groups (``rota``, ``report``,
``simulate``, ``misuse``, ``user``) live in their own modules of this package and are added at
the bottom. Common slips end in a sentence and exit code 1 (:mod:`oncall.cli.errors`);
``--debug`` shows tracebacks instead.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from oncall import __version__
from oncall.cli import misuse as misuse_cli
from oncall.cli import report as report_cli
from oncall.cli import rota as rota_cli
from oncall.cli import rota_retire as rota_retire_cli
from oncall.cli import simulate as simulate_cli
from oncall.cli import user as user_cli
from oncall.cli.context import Context
from oncall.cli.errors import OncallGroup
from oncall.config.loading import load_settings
from oncall.config.settings import Settings
from oncall.config.yamlsource import SourceError, SourceErrors

pass_context = click.make_pass_decorator(Context)


@click.group(cls=OncallGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    envvar="ONCALL_CONFIG",
    default=None,
    metavar="PATH",
    help="config.yaml to use (default: $ONCALL_CONFIG or ./config.yaml). Relative paths in it "
    "are relative to its folder. May also come after the command, like --debug.",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="ONCALL_DEBUG",
    help="Show the traceback of an error instead of one sentence (env ONCALL_DEBUG).",
)
@click.version_option(__version__, prog_name="oncall")
@click.pass_context
def main(ctx: click.Context, config: str | None, debug: bool) -> None:
    """oncall: the critical support line's paging service.

    Customers phone or email the critical line; the service verifies them and the severity,
    opens a case, pages the on-call engineer from rotations/*.yaml, escalates until somebody
    acknowledges, and holds the team to the triage and status targets in config.yaml (or a
    plan's own, per severity, in customers.yaml).
    """
    ctx.obj = Context(config, debug=debug)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Request threads.")
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    help="Apply database migrations before starting.",
)
@pass_context
def serve(ctx: Context, host: str, port: int, threads: int, migrate: bool) -> None:
    """Run the web service and the engine in one process (the single-box default).

    Serves the webhooks, API and dashboard with gunicorn (one worker, several threads) and
    runs the engine tick, the outbox sender and the config/rota/customers reload poll beside
    them. SIGHUP reloads config.yaml, the rotas, customers and voice flows. On SQLite, a
    second engine on the same database file is refused. In production it refuses to start
    on empty or development secrets (see `oncall check`).
    """
    from oncall.cli.ports import check_port_free
    from oncall.cli.serve import serve_single_box
    from oncall.db.single_engine import claim_engine

    settings = ctx.settings
    _refuse_development_secrets(settings)
    check_port_free(host, port)
    # Held by this process for as long as it runs; the worker gunicorn forks inherits it.
    claim_engine(settings.database_url, datetime.now(UTC))
    if migrate:
        _upgrade(settings)
    else:
        _require_ready(settings)
    serve_single_box(settings, host=host, port=port, threads=threads)


@main.command()
@pass_context
def clock(ctx: Context) -> None:
    """Run the engine only: the tick, the outbox sender and file polling (Procfile `clock:`).

    Several clock processes may run against one PostgreSQL database; due work is claimed
    with FOR UPDATE SKIP LOCKED, so nothing is sent twice. On SQLite there is one engine: a
    second one is refused. SIGHUP reloads config.yaml, the rotas, customers and voice flows.
    In production it refuses to start on empty or development secrets (see `oncall check`).
    """
    import signal
    import threading

    from oncall.bootstrap.background import BackgroundServices, install_sighup
    from oncall.bootstrap.runtime import build_runtime
    from oncall.config.logs import configure_logging
    from oncall.db.single_engine import claim_engine

    settings = ctx.settings
    _refuse_development_secrets(settings)
    _require_ready(settings)
    claim_engine(settings.database_url, datetime.now(UTC))  # before anything starts
    configure_logging(settings.log_format, settings.log_level)
    runtime = build_runtime(settings)
    services = BackgroundServices(runtime, engine=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    install_sighup(runtime)
    try:
        services.start()
    except Exception:
        runtime.close()
        raise
    click.echo(f"oncall clock running (tick every {settings.engine.tick.total_seconds()}s)")
    stop.wait()
    services.stop()
    runtime.close()


@main.command()
@click.option("--days", default=28, show_default=True, help="Rota coverage horizon.")
@pass_context
def check(ctx: Context, days: int) -> None:
    """Validate config, customers, rotas and voice flows; list every problem; exit 1 on any.

    In production (an https public_url, or ONCALL_ENV=production) an empty or development
    secret is an error too, naming the variable to set: ONCALL_SECRET_KEY, TWILIO_AUTH_TOKEN,
    ONCALL_INBOUND_PASSWORD.
    """
    from datetime import UTC, datetime

    errors: list[SourceError] = []
    try:
        settings = load_settings(ctx.config_path)
    except SourceErrors as exc:
        for error in exc.errors:
            click.echo(str(error))
        click.echo(f"{len(exc.errors)} error(s) in {ctx.config_path}; other files not checked")
        sys.exit(1)

    from oncall.config.production import secret_problems
    from oncall.sources.customers import directory_errors
    from oncall.sources.rotas.directory import check_directory

    errors += secret_problems(settings)
    errors += directory_errors(settings.paths.customers, settings.phone_region)
    teams, rota_problems = check_directory(
        settings.paths.rotations, datetime.now(UTC), days=days, phone_region=settings.phone_region
    )
    errors += rota_problems
    errors += _voice_flow_errors(settings)
    if not [e for e in errors if e.severity == "error"]:
        errors += _cross_check(settings, teams)
    for error in errors:
        click.echo(str(error))
    hard = [e for e in errors if e.severity == "error"]
    if hard:
        click.echo(f"{len(hard)} error(s), {len(errors) - len(hard)} warning(s)")
        sys.exit(1)
    click.echo(
        f"ok: {ctx.config_path}, {settings.paths.customers.name}, {len(teams)} rota(s)"
        + (f", {len(errors)} warning(s)" if errors else "")
    )


def _refuse_development_secrets(settings: Settings) -> None:
    """Production never starts on the published development secrets (or none at all)."""
    from oncall.config.production import DevelopmentSecretsInProduction, refuse_development_secrets

    try:
        refuse_development_secrets(settings)
    except DevelopmentSecretsInProduction as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None


def _voice_flow_errors(settings: Settings) -> list[SourceError]:
    from oncall.sources.voice_flows import load_flow_file

    try:
        load_flow_file(settings.paths.voice_flows / "critical_line.yaml")
    except SourceErrors as exc:
        return exc.errors
    return []


def _cross_check(settings: Settings, teams: dict) -> list[SourceError]:
    """Every customer's team must have a rota, or their cases could page nobody; a user's or
    API token's ``member`` must be a member of some rota, or it acts as nobody."""
    from oncall.sources.customers import load_directory

    directory = load_directory(settings.paths.customers, settings.phone_region)
    problems = []
    for customer in directory.customers.values():
        if customer.team not in teams:
            problems.append(
                SourceError(
                    str(settings.paths.customers),
                    0,
                    f"customers.{customer.key}.team",
                    f"no rota for team {customer.team!r} in {settings.paths.rotations}",
                )
            )
    members = {key for team in teams.values() for key in team.members}
    named = [(f"users.{u.username}.member", u.member) for u in settings.users.values()]
    named += [(f"api.tokens[{t.name}].member", t.member) for t in settings.api_tokens]
    for key_path, member in named:
        if member is not None and member not in members:
            problems.append(
                SourceError(settings.source, 0, key_path, f"{member!r} is not on any rota")
            )
    return problems


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply migrations to the configured database (DATABASE_URL overrides config)."""
    _upgrade(ctx.settings, revision)
    click.echo(f"database at {revision}: {_redact(ctx.settings.database_url)}")


def _upgrade(settings: Settings, revision: str = "head") -> None:
    from sqlalchemy.exc import OperationalError

    from oncall.db.preflight import unusable
    from oncall.db.session import upgrade

    try:
        upgrade(settings.database_url, revision)
    except OperationalError as exc:  # unreachable, missing, no permission: say which
        raise unusable(settings.database_url, exc, "migrate") from exc


def _require_ready(settings: Settings) -> None:
    from oncall.db.preflight import require_ready

    require_ready(settings.database_url)


def _redact(url: str) -> str:
    from oncall.db.preflight import redacted

    return redacted(url)


rota_cli.rota.add_command(rota_retire_cli.retire)
for group in (
    rota_cli.rota,
    report_cli.report,
    user_cli.user,
    misuse_cli.misuse,
    simulate_cli.simulate,
):
    main.add_command(group)
