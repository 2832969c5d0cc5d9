"""The dashboard's pages about a month: misuse flags, refused attempts and emails from
unverified senders that claimed a contact (``/misuse``, where a manager waives a fee), SLA
compliance and the fees due (``/reports``), a customer's contract statement
(``/reports/contract?customer=``), and the misuse billing export (``/reports/misuse.csv``).
Months are calendar months in the service's time zone.

The one view that changes something, waiving a fee, calls
:func:`oncall.services.misuse.waive_misuse`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.cases.errors import CaseError
from oncall.db.models import Attempt, Case, MisuseFlag
from oncall.domain.enums import FeeState
from oncall.reports.contract import UnknownCustomer, contract_statement
from oncall.reports.contract_export import local, target_length, target_text
from oncall.reports.misuse import engineer_notes, misuse_csv, misuse_report
from oncall.reports.months import month_bounds, month_of, parse_month
from oncall.reports.sla import sla_report
from oncall.runtime import Runtime
from oncall.services.fee_disputes import confirm_fee
from oncall.services.misuse import waive_misuse
from oncall.web.auth import current_user, login_required, manager_required, safe_next
from oncall.web.context import runtime

# The name from before the dashboard was split into modules: log filters may match it.
log = logging.getLogger("oncall.web.dashboard.views")

MAX_REASON = 500


def _month_arg(rt: Runtime) -> str:
    month = request.args.get("month") or month_of(rt.clock.now(), rt.settings.zone)
    try:
        parse_month(month)
    except ValueError as exc:
        abort(400, str(exc))
    return month


@login_required
def misuse_page():
    rt = runtime()
    month = _month_arg(rt)
    start, end = month_bounds(month, rt.settings.zone)
    with rt.sessions() as session:
        flags = [
            (flag, case.number if case else None, case.customer_name if case else None)
            for flag, case in session.execute(
                select(MisuseFlag, Case)
                .outerjoin(Case, Case.id == MisuseFlag.case_id)
                .where(MisuseFlag.month == month)
                .order_by(MisuseFlag.flagged_at.desc(), MisuseFlag.id.desc())
            )
        ]
        # Disputes wait for a manager whatever month the fee is in: listed first.
        disputed = [
            (flag, case.number if case else None, case.customer_name if case else None)
            for flag, case in session.execute(
                select(MisuseFlag, Case)
                .outerjoin(Case, Case.id == MisuseFlag.case_id)
                .where(MisuseFlag.state == FeeState.DISPUTED)
                .order_by(MisuseFlag.disputed_at, MisuseFlag.id)
            )
        ]
        # The caller's recording is evidence for as long as retention keeps it.
        recordings = set(
            session.scalars(
                select(Case.number).where(
                    Case.id.in_([flag.case_id for flag, *_ in flags + disputed if flag.case_id]),
                    Case.recording_url.is_not(None),
                )
            )
        )
        notes = engineer_notes(
            session, (flag.case_id for flag, *_ in flags + disputed), rt.settings.zone
        )
        per_customer = _refusals_per_customer(session, start, end)
        attempts = list(
            session.scalars(
                select(Attempt)
                .where(Attempt.at >= start, Attempt.at < end)
                .order_by(Attempt.at.desc())
                .limit(100)
            )
        )
        # Listed on their own: wrong PINs can push them out of the latest hundred.
        unverified = list(
            session.scalars(
                select(Attempt)
                .where(Attempt.reason == "unverified", Attempt.at >= start, Attempt.at < end)
                .order_by(Attempt.at.desc())
                .limit(100)
            )
        )
    directory = rt.directory()
    names = {key: customer.name for key, customer in directory.customers.items()}
    return render_template(
        "misuse.html",
        month=month,
        flags=flags,
        disputed=disputed,
        recordings=recordings,
        notes=notes,
        refused=_refused_rows(per_customer, names),
        attempts=attempts,
        unverified=unverified,
        names=names,
        zone_of=_customer_zones(rt),
        can_waive=(current_user().role == "manager"),
    )


def _customer_zones(rt: Runtime) -> Callable[[str | None], ZoneInfo]:
    """The zone a customer's times are shown in: their team's, else the service's."""
    customers = rt.directory().customers

    def zone_of(customer_key: str | None) -> ZoneInfo:
        customer = customers.get(customer_key or "")
        team = rt.rotas.team(customer.team) if customer is not None else None
        return team.zone if team is not None else rt.settings.zone

    return zone_of


def _refusals_per_customer(session: Session, start: datetime, end: datetime) -> list:
    """(customer, reason, count, last attempt) of the refused attempts in [start, end)."""
    return list(
        session.execute(
            select(
                Attempt.customer_key,
                Attempt.reason,
                func.count(),
                func.max(Attempt.at),
            )
            .where(Attempt.at >= start, Attempt.at < end)
            .group_by(Attempt.customer_key, Attempt.reason)
            .order_by(func.count().desc(), Attempt.customer_key)
        )
    )


def _refused_rows(per_customer: list, names: dict[str, str]) -> list[tuple[str, dict]]:
    """One row per customer (most refusals first): total, count per reason, the last one."""
    refused: dict[str, dict] = {}
    for key, reason, count, last in per_customer:
        entry = refused.setdefault(
            key or "", {"total": 0, "reasons": {}, "last": last, "name": names.get(key or "", "")}
        )
        entry["total"] += count
        entry["reasons"][reason] = count
        entry["last"] = max(entry["last"], last)
    return sorted(refused.items(), key=lambda item: (-item[1]["total"], item[0]))


@manager_required
def waive(number: int):
    rt = runtime()
    back = safe_next(request.form.get("next"), url_for("dashboard.misuse_page"))
    reason = " ".join(request.form.get("reason", "").split())
    if not reason:
        flash("Give a reason to waive the fee.", "error")
        return redirect(back)
    if len(reason) > MAX_REASON:
        flash(f"Keep the reason under {MAX_REASON} characters.", "error")
        return redirect(back)
    user = current_user()
    try:
        with rt.sessions() as session, session.begin():
            waive_misuse(session, rt, number, user.username, reason, rt.clock.now())
    except CaseError as exc:  # refusals worded for the person who asked
        flash(f"Case {number}: {exc}", "error")
        return redirect(back)
    rt.wake_sender()
    log.info("misuse fee waived by %s: %s", user.username, reason, extra={"case": number})
    flash(f"Case {number}: fee waived.", "ok")
    return redirect(back)


@manager_required
def confirm(number: int):
    """A manager upholds a fee (a disputed one, usually); the customer hears the outcome."""
    rt = runtime()
    back = safe_next(request.form.get("next"), url_for("dashboard.misuse_page"))
    reason = " ".join(request.form.get("reason", "").split())
    if len(reason) > MAX_REASON:
        flash(f"Keep the reason under {MAX_REASON} characters.", "error")
        return redirect(back)
    user = current_user()
    try:
        with rt.sessions() as session, session.begin():
            confirm_fee(session, rt, number, user.username, reason, rt.clock.now())
    except CaseError as exc:
        flash(f"Case {number}: {exc}", "error")
        return redirect(back)
    rt.wake_sender()
    log.info("misuse fee confirmed by %s: %s", user.username, reason, extra={"case": number})
    flash(f"Case {number}: fee confirmed.", "ok")
    return redirect(back)


@login_required
def reports_page():
    rt = runtime()
    month = _month_arg(rt)
    zone = rt.settings.zone
    with rt.sessions() as session:
        report = sla_report(session, month, zone, sla=rt.settings.sla, now=rt.clock.now())
        misuse = misuse_report(session, month, zone, rt.settings.public_url)
    totals: dict[str, float] = {}
    for row in misuse:
        totals[row.currency] = totals.get(row.currency, 0.0) + row.due
    customers = sorted(
        ((key, c.name) for key, c in rt.directory().customers.items()), key=lambda kv: kv[1]
    )
    return render_template(
        "reports.html",
        month=month,
        report=report,
        misuse=misuse,
        totals=totals,
        customers=customers,
    )


@login_required
def contract_page():
    rt = runtime()
    month = _month_arg(rt)
    customer = request.args.get("customer", "").strip()
    if not customer:
        return redirect(url_for("dashboard.reports_page", month=month))
    known = {key: (c.name, c.plan.key) for key, c in rt.directory().customers.items()}
    with rt.sessions() as session:
        try:
            statement = contract_statement(
                session, customer, month, rt.settings.zone, rt.clock.now(), known=known
            )
        except UnknownCustomer:
            abort(404)
    return render_template(
        "contract.html",
        month=month,
        statement=statement,
        local=local,
        target_text=target_text,
        target_length=target_length,
        zone_of_statement=rt.settings.zone,
    )


@login_required
def misuse_csv_download():
    rt = runtime()
    month = _month_arg(rt)
    with rt.sessions() as session:
        rows = misuse_report(session, month, rt.settings.zone, rt.settings.public_url)
    return Response(
        misuse_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="misuse-{month}.csv"'},
    )
