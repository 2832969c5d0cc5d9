"""The contract a case is held to: resolved from the customer's plan and ``config.yaml``'s
``sla`` when its clocks start, and kept on the case (``cases.targets``) so that later edits of
either file never move the clocks of a case already open.

A case opened before contracts existed has no snapshot; its clocks follow the live ``sla`` as
they always did.
"""

from __future__ import annotations

from datetime import datetime

from oncall.db.models import Case
from oncall.domain import contract, sla
from oncall.domain.contract import PlanContract
from oncall.domain.eligibility import is_business_hours
from oncall.runtime import Runtime


def snapshot_for(runtime: Runtime, case: Case, now: datetime) -> dict:
    """The targets that apply to ``case`` opening (or turning critical) at ``now``."""
    settings = runtime.settings
    customer = runtime.directory().customers.get(case.customer_key)
    vendor = settings.business_hours.schedule(settings.zone)
    if customer is None:
        # The customer left customers.yaml between the call and now: config's sla applies.
        plan_key, plan, support = case.plan, PlanContract(), vendor
    else:
        plan_key, plan = customer.plan.key, customer.plan.contract
        support = customer.support_hours(settings.business_hours, settings.zone)
    return contract.contract_snapshot(plan_key, plan, settings.sla, support, case.severity, now)


def next_update_due(runtime: Runtime, case: Case, posted_at: datetime) -> datetime:
    """When the next status is owed after one at ``posted_at``: by the case's snapshot, else
    (a case from before contracts) by the live ``sla``."""
    if case.targets:
        return contract.next_update_due(case.targets, case.severity, posted_at)
    settings = runtime.settings
    after_hours = not is_business_hours(settings.business_hours, posted_at, settings.zone)
    return sla.next_status_due(posted_at, case.severity, settings.sla, after_hours)
