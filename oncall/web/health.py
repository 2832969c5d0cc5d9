"""``GET /healthz``: 200 when the service can do its job, 503 with the reasons when not."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select

from oncall import __version__
from oncall.db.models import OutboundMessage, OutboxState
from oncall.db.session import database_reachable, schema_revision

bp = Blueprint("health", __name__)

# An outbox row due longer ago than this means delivery is stuck, whatever the cause.
OUTBOX_STUCK_AFTER = timedelta(minutes=5)


@bp.get("/livez")
def livez():
    """Liveness only: the process answers. No database, no files (``/healthz`` checks those)."""
    return {"status": "alive"}


@bp.get("/healthz")
def healthz():
    rt = current_app.extensions["oncall"]
    reasons: list[str] = []
    db_ok, db_error = database_reachable(rt.db)
    if not db_ok:
        reasons.append(f"database unreachable: {db_error}")
    revision = schema_revision(rt.db) if db_ok else None
    if db_ok and revision is None:
        reasons.append("database not migrated: run `oncall db upgrade`")
    file_errors = [str(e) for e in rt.file_errors()]
    for error in file_errors:
        reasons.append(f"last good version live: {error}")
    oldest_age = None
    depth = None
    if db_ok and revision is not None:
        now = rt.clock.now()
        with rt.sessions() as session:
            depth, oldest = session.execute(
                select(func.count(), func.min(OutboundMessage.next_attempt_at)).where(
                    OutboundMessage.state.in_(
                        [OutboxState.PENDING.value, OutboxState.SENDING.value]
                    )
                )
            ).one()
        if oldest is not None:
            from oncall.clock import ensure_aware

            oldest_age = max((now - ensure_aware(oldest)).total_seconds(), 0.0)
            if oldest_age > OUTBOX_STUCK_AFTER.total_seconds():
                reasons.append(f"outbox stuck: oldest message due {oldest_age:.0f}s ago")
    body = {
        "status": "ok" if not reasons else "degraded",
        "version": __version__,
        "database": {"reachable": db_ok, "revision": revision},
        "config": {"loaded": True, "source": rt.settings.source},
        "teams": sorted(rt.rotas.teams()),
        "outbox": {"depth": depth, "oldest_age_seconds": oldest_age},
        "reasons": reasons,
    }
    return jsonify(body), (200 if not reasons else 503)
