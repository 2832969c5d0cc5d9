"""``oncall misuse``: managers deal with misuse flags from the command line."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any

import click


@click.group()
def misuse() -> None:
    """Misuse flags: cases downgraded off the critical line (fee) and customers under review.

    A fee is flagged, disputed (the customer replied DISPUTE in time), confirmed or waived."""


@misuse.command("waive")
@click.argument("case", type=int)
@click.option("--reason", required=True, help="Why the fee is waived (goes on the timeline).")
@click.option("--by", "by", default=None, help="Who waives it (default: your login name).")
def waive(case: int, reason: str, by: str | None) -> None:
    """Waive the misuse fee of CASE (its number, e.g. 1042)."""
    from oncall.services.misuse import waive_misuse

    if not reason.strip():
        raise click.UsageError("--reason must say why the fee is waived")
    fee, currency, who, why = _decide(waive_misuse, case, reason, by, "waived_by", "waive_reason")
    click.echo(f"Case {case}: misuse fee {fee:g} {currency} waived by {who}: {why}")


@misuse.command("confirm")
@click.argument("case", type=int)
@click.option(
    "--reason",
    default="",
    help="Why the fee stands (goes on the timeline, and to a customer who disputed it).",
)
@click.option("--by", "by", default=None, help="Who confirms it (default: your login name).")
def confirm(case: int, reason: str, by: str | None) -> None:
    """Confirm the misuse fee of CASE (e.g. a disputed one): it stands and is billed."""
    from oncall.services.fee_disputes import confirm_fee

    fee, currency, who, why = _decide(
        confirm_fee, case, reason, by, "confirmed_by", "confirm_reason"
    )
    click.echo(
        f"Case {case}: misuse fee {fee:g} {currency} confirmed by {who}"
        + (f": {why}" if why else "")
    )


def _decide(
    decide: Callable[..., Any], case: int, reason: str, by: str | None, who_key: str, why_key: str
) -> tuple[float, str, str, str | None]:
    """A manager's decision on a fee in one transaction: ``decide(session, runtime, case, who,
    reason, now)``; what was stored (fee, currency, by whom, why), or one sentence on error."""
    from oncall.bootstrap.runtime import build_runtime
    from oncall.cases.errors import CaseError
    from oncall.db.preflight import require_ready
    from oncall.db.session import transaction
    from oncall.services.misuse import AlreadyWaived

    settings = click.get_current_context().obj.settings
    who = by or _login()
    require_ready(settings.database_url)
    runtime = build_runtime(settings)
    try:
        with transaction(runtime.sessions) as session:
            flag = decide(session, runtime, case, who, reason, runtime.clock.now())
            return flag.fee, flag.currency, getattr(flag, who_key), getattr(flag, why_key)
    except AlreadyWaived as exc:
        raise click.ClickException(f"Case {case}: {exc}") from None
    except CaseError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in containers without a passwd entry
        return "cli"
