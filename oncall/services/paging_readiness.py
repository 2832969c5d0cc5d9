"""Health means "can page": every reason the line could fail to reach an engineer right now,
in words for an operator, naming files but never a path.

* **a rota file that is gone** (deleted, or renamed to ``support.yml``): its last good version
  still pages, but the next restart would lose it, so it is a problem like a broken edit until
  the file is back or the team is retired (``oncall rota retire TEAM``);
* **a team with nobody to page** for a customer entitled to the line right now: no rota
  loaded, or nobody on call for the first step of its policy (:mod:`oncall.domain.readiness`);
* **a transport that cannot send**: one that knows it (the Twilio transport without
  credentials) or a provider that refuses our account (:mod:`oncall.delivery.readiness`).

``/healthz`` answers 503 with these among its reasons and the dashboard shows them in a red
banner. A stuck outbox, a stalled engine and broken files are reported by ``/healthz`` itself.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from oncall.delivery.readiness import provider_refusals, transport_problems
from oncall.domain.readiness import team_problems
from oncall.runtime import Runtime
from oncall.sources.rotas.registry import VanishedRota

log = logging.getLogger("oncall.health")


def paging_problems(runtime: Runtime, now: datetime) -> list[str]:
    """Why somebody calling the critical line now might reach no engineer; [] when none."""
    problems = [vanished_rota_problem(gone) for gone in runtime.rotas.vanished()]
    unpageable = team_problems(callers_by_team(runtime, now), runtime.rotas.teams(), now)
    if unpageable and not anybody_to_alert(runtime):
        unpageable.append(
            "nobody would be alerted instead either: no loaded rota names a manager with a "
            "phone or email, and config.yaml sets no escalation_contacts"
        )
    problems += unpageable
    problems += transport_problems(runtime.transports)
    try:
        with runtime.sessions() as session:
            problems += provider_refusals(session)
    except SQLAlchemyError as exc:  # /healthz reports the database on its own
        log.debug("paging readiness: outbox not readable: %s", exc)
    return problems


def anybody_to_alert(runtime: Runtime) -> bool:
    """Whether a case nobody can be paged for has somebody to alert at once."""
    if runtime.settings.escalation_contacts:
        return True
    managers = (team.manager_member() for team in runtime.rotas.teams().values())
    return any(m is not None and (m.phone or m.email) for m in managers)


def callers_by_team(runtime: Runtime, now: datetime) -> dict[str, list[str]]:
    """Team key -> names of the customers whose plan covers the critical line right now."""
    settings = runtime.settings
    callers: dict[str, list[str]] = {}
    for customer in runtime.directory().customers.values():
        verdict = customer.entitlement(settings.business_hours, settings.zone, now)
        if verdict.entitled:
            callers.setdefault(customer.team, []).append(customer.name)
    return callers


def vanished_rota_problem(gone: VanishedRota) -> str:
    renamed = (
        f" ({', '.join(gone.look_alikes)} found beside it: rota files are named TEAM.yaml)"
        if gone.look_alikes
        else ""
    )
    loaded = f" loaded at {gone.loaded_at:%Y-%m-%d %H:%M} UTC" if gone.loaded_at else ""
    return (
        f"rota file {gone.file_name} is gone{renamed}: team {gone.team!r} keeps paging with "
        f"the last good version{loaded} until the file is back or a manager runs "
        f"`oncall rota retire {gone.team}`"
    )
