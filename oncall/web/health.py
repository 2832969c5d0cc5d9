"""``GET /healthz``: 200 when the service can do its job, 503 with the reasons when not."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, jsonify

from oncall import __version__
from oncall.db.session import database_reachable, schema_revision
from oncall.services.cases import outbox_backlog

bp = Blueprint("health", __name__)

# A message waiting longer than this means delivery is stuck, whatever the cause.
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
        with rt.sessions() as session:
            depth, oldest_age = outbox_backlog(session, rt.clock.now())
        if oldest_age is not None and oldest_age > OUTBOX_STUCK_AFTER.total_seconds():
            reasons.append(f"outbox stuck: oldest message waiting {oldest_age:.0f}s")
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
