"""``GET /healthz``: 200 when the service can do its job, 503 with the reasons when not.

Public (load balancers and uptime checks ask it), so it says *what* is wrong without the
details an attacker could use: file names but no paths, no file contents, no database error
text. ``/livez`` only says the process answers.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from flask import Blueprint, jsonify
from sqlalchemy import func, select

from oncall import __version__
from oncall.cases.outbox import outbox_backlog
from oncall.clock import ensure_aware
from oncall.db.models import Case, CaseEvent, EngineHeartbeat
from oncall.db.session import database_reachable, schema_revision
from oncall.domain.enums import OPEN_STATES
from oncall.services.paging_readiness import paging_problems
from oncall.web.context import runtime

log = logging.getLogger("oncall.web.health")

bp = Blueprint("health", __name__)

# A message waiting longer than this means delivery is stuck, whatever the cause.
OUTBOX_STUCK_AFTER = timedelta(minutes=5)
ENGINE_STALE_TICKS = 30


def engine_and_routing_problems(session, rt, now) -> list[str]:
    """A dead engine, or open cases whose team has no rota, must be visible to an operator.

    An engine counts as dead when the newest heartbeat of any engine is older than
    ``ENGINE_STALE_TICKS`` ticks (and 30 s). No heartbeat at all says nothing: a web-only
    deployment's engine may not have started yet, and tests run without one.
    """
    problems = []
    last_tick = session.scalar(select(func.max(EngineHeartbeat.last_tick_at)))
    if last_tick is not None:
        stale_after = max(rt.settings.engine.tick.total_seconds() * ENGINE_STALE_TICKS, 30.0)
        silent = (now - ensure_aware(last_tick)).total_seconds()
        if silent > stale_after:
            problems.append(f"engine stalled: no tick for {silent:.0f}s (is `oncall clock` up?)")
    unroutable = session.scalars(
        select(Case.number)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(Case.state.in_(OPEN_STATES), CaseEvent.kind == "unroutable")
        .distinct()
        .order_by(Case.number)
    ).all()
    live_teams = rt.rotas.teams()
    for number in unroutable:
        team = session.scalar(select(Case.team).where(Case.number == number))
        if team not in live_teams:
            problems.append(f"case {number} has no rota for team {team!r}: paging fallbacks only")
    return problems


@bp.get("/livez")
def livez():
    """Liveness only: the process answers. No database, no files (``/healthz`` checks those)."""
    return {"status": "alive"}


@bp.get("/healthz")
def healthz():
    """Whether the service can page, for the alert that watches it (load balancers use
    ``/livez``), in words that name no absolute path, no connection string and no file
    content: anyone may ask. The details go to the log, and the
    signed-in dashboard's Now page lists every file problem in full."""
    rt = runtime()
    reasons: list[str] = []
    db_ok, db_error = database_reachable(rt.db)
    if not db_ok:
        log.warning("health: database unreachable: %s", db_error)
        reasons.append("database unreachable (details in the log)")
    revision = schema_revision(rt.db) if db_ok else None
    if db_ok and revision is None:
        reasons.append("database not migrated: run `oncall db upgrade`")
    reasons += [
        f"last good version live: {name} has errors (details on the dashboard)"
        for name in sorted({Path(error.file).name for error in rt.file_errors()})
    ]
    oldest_age = None
    depth = None
    if db_ok and revision is not None:
        with rt.sessions() as session:
            now = rt.clock.now()
            depth, oldest_age = outbox_backlog(session, now)
            reasons += engine_and_routing_problems(session, rt, now)
        if oldest_age is not None and oldest_age > OUTBOX_STUCK_AFTER.total_seconds():
            reasons.append(f"outbox stuck: oldest message waiting {oldest_age:.0f}s")
    # Health means "can page": nobody to page for a caller entitled now is as bad as a crash.
    reasons += paging_problems(rt, rt.clock.now())
    body = {
        "status": "ok" if not reasons else "degraded",
        "version": __version__,
        "database": {"reachable": db_ok, "revision": revision},
        "config": {"loaded": True},
        "teams": sorted(rt.rotas.teams()),
        "outbox": {"depth": depth, "oldest_age_seconds": oldest_age},
        "reasons": reasons,
    }
    return jsonify(body), (200 if not reasons else 503)
