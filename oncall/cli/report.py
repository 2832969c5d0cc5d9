"""``oncall report sla|misuse|contract --month 2026-11``: SLA compliance, the misuse billing
export, and a customer's monthly contract statement."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from oncall.reports.clocks import format_seconds
from oncall.reports.contract import UnknownCustomer, contract_statement
from oncall.reports.contract_export import statement_csv, statement_html, statement_text
from oncall.reports.misuse import misuse_csv, misuse_report
from oncall.reports.months import month_of, parse_month
from oncall.reports.sla import sla_report


def _month(value: str | None, zone) -> str:
    month = value or month_of(datetime.now(UTC), zone)
    try:
        parse_month(month)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    return month


def _sessions(settings):
    from oncall.db.preflight import require_ready
    from oncall.db.session import make_engine, make_session_factory

    # Reports only read the database: no rotas, transports or clock needed. A missing or
    # unmigrated database is a sentence (and no new empty SQLite file), not a traceback.
    require_ready(settings.database_url)
    engine = make_engine(settings.database_url)
    return engine, make_session_factory(engine)


@click.group("report")
def report() -> None:
    """Monthly reports: SLA, misuse fees, a customer's contract statement.

    Months are calendar months in config's time zone.
    """


@report.command("sla")
@click.option("--month", metavar="YYYY-MM", help="The month (default: this month).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sla_command(month: str | None, as_json: bool) -> None:
    """SLA compliance for the cases opened in a month.

    Cases, median and p90 time to triage, % triaged within target, % first status within
    target, median and p90 time to resolve (MTTR), the same per plan, and breaches by team,
    engineer and customer.
    """
    settings = click.get_current_context().obj.settings
    month = _month(month, settings.zone)
    engine, sessions = _sessions(settings)
    try:
        with sessions() as session:
            result = sla_report(
                session, month, settings.zone, sla=settings.sla, now=datetime.now(UTC)
            )
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f}%"

    click.echo(f"SLA report for {month} ({result.timezone})")
    click.echo(f"  cases opened                {result.cases}")
    click.echo(f"  acknowledged                {result.acknowledged}")
    click.echo(f"  median time to triage       {format_seconds(result.median_triage_seconds)}")
    click.echo(f"  p90 time to triage          {format_seconds(result.p90_triage_seconds)}")
    click.echo(
        f"  triaged within target       {pct(result.triage_pct)}"
        f" ({result.triaged_within_target}/{result.triage_measured})"
    )
    click.echo(
        f"  first status within target  {pct(result.first_status_pct)}"
        f" ({result.first_status_within_target}/{result.first_status_measured})"
    )
    click.echo(
        f"  median time to resolve      {format_seconds(result.median_resolution_seconds)}"
        f" (p90 {format_seconds(result.p90_resolution_seconds)}, {result.resolved} resolved)"
    )
    targets = ", ".join(f"{k} {v}" for k, v in result.breaches_by_target.items())
    click.echo(
        f"  breaches                    {result.breaches}" + (f" ({targets})" if targets else "")
    )
    click.echo(
        f"  customer escalations        {result.customer_escalations}"
        f" ({result.cases_escalated} cases)"
    )
    for title, rows in (
        ("team", result.breaches_by_team),
        ("engineer", result.breaches_by_engineer),
        ("customer", result.breaches_by_customer),
    ):
        if rows:
            click.echo(f"  breaches by {title}:")
            for row in rows:
                click.echo(f"    {row.label:<30} {row.count}")
    if result.by_plan:
        click.echo("  by plan:  cases  triaged in target  first status in target  MTTR median")
        for plan in result.by_plan:
            click.echo(
                f"    {plan.plan:<10} {plan.cases:>3}  {pct(plan.triage_pct):>17}"
                f"  {pct(plan.first_status_pct):>22}"
                f"  {format_seconds(plan.median_resolution_seconds)}"
            )


@report.command("misuse")
@click.option("--month", metavar="YYYY-MM", help="The month (default: this month).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV for billing (one row per fee).")
def misuse_command(month: str | None, as_csv: bool) -> None:
    """Misuse fees flagged in a month: the billing export.

    Customer, case, date, severity claimed, severity set, fee, currency, waived, reason, and
    the engineers' notes on the case (the reason given with SEV, STATUS texts, RESOLVE note);
    then the fee's state (flagged, disputed, confirmed, waived), how the severity was chosen,
    the recording's link while it is kept, and what a disputing customer wrote.
    """
    settings = click.get_current_context().obj.settings
    month = _month(month, settings.zone)
    engine, sessions = _sessions(settings)
    try:
        with sessions() as session:
            rows = misuse_report(session, month, settings.zone, settings.public_url)
    finally:
        engine.dispose()
    if as_csv:
        click.echo(misuse_csv(rows), nl=False)
        return
    click.echo(f"Misuse fees for {month}: {len(rows)}")
    totals: dict[str, float] = {}
    for row in rows:
        totals[row.currency] = totals.get(row.currency, 0.0) + row.due
        waived = f"waived by {row.waived_by}: {row.waive_reason}" if row.waived else row.state
        click.echo(
            f"  {row.date}  case {row.case or '-':<6} {row.customer_name:<20} "
            f"S{row.severity_claimed}->S{row.severity_set}  {row.fee:.2f} {row.currency}  {waived}"
        )
        click.echo(f"      {row.reason}")
        for note in row.notes:
            click.echo(f"      note: {note}")
    for currency, total in sorted(totals.items()):
        click.echo(f"  total due: {total:.2f} {currency}")


@report.command("contract")
@click.option(
    "--customer", required=True, metavar="KEY", help="The customer's key in customers.yaml."
)
@click.option("--month", metavar="YYYY-MM", help="The month (default: this month).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per case.")
@click.option("--html", "as_html", is_flag=True, help="A self-contained HTML page.")
@click.option("--json", "as_json", is_flag=True, help="JSON, as the API serves it.")
def contract_command(
    customer: str, month: str | None, as_csv: bool, as_html: bool, as_json: bool
) -> None:
    """A customer's monthly statement against their contract.

    Every case opened in the month with its severity, channel, each target that applied (as
    frozen on the case when it opened), when it was met or how late, the time it waited for
    the customer, the resolution time and any fee; totals: cases, % of targets met per kind,
    MTTA and MTTR (median and p90), the after-hours share.
    """
    if sum((as_csv, as_html, as_json)) > 1:
        raise click.UsageError("choose one of --csv, --html, --json")
    obj = click.get_current_context().obj
    settings = obj.settings
    month = _month(month, settings.zone)
    known = _known_customers(settings)
    engine, sessions = _sessions(settings)
    try:
        with sessions() as session:
            statement = contract_statement(
                session, customer, month, settings.zone, datetime.now(UTC), known=known
            )
    except UnknownCustomer:
        hint = ", ".join(sorted(known)) or "none"
        raise click.ClickException(f"no customer {customer!r} (customers: {hint})") from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(statement.to_dict(), indent=2))
    elif as_csv:
        click.echo(statement_csv(statement), nl=False)
    elif as_html:
        click.echo(statement_html(statement), nl=False)
    else:
        click.echo(statement_text(statement), nl=False)


def _known_customers(settings) -> dict[str, tuple[str, str]]:
    """Key -> (name, plan) from customers.yaml; a broken file still lets the statement run
    from the cases on record."""
    from oncall.config.yamlsource import SourceErrors
    from oncall.sources.customers import load_directory

    try:
        directory = load_directory(settings.paths.customers, settings.phone_region)
    except (SourceErrors, OSError):
        return {}
    return {key: (c.name, c.plan.key) for key, c in directory.customers.items()}
