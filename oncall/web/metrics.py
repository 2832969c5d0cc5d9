"""``GET /metrics`` for Prometheus, read from the database at scrape time.

The database is the truth, and with several web and clock processes no single process sees
every page or breach, so nothing is counted in memory: a custom collector queries the tables
when Prometheus scrapes. Every process therefore reports the same numbers; scrape one.

Metrics (all gauges unless noted):

* ``oncall_cases{state,severity}`` — cases by state and severity.
* ``oncall_pages{channel,purpose,state}`` — pages in the outbox (purposes ``page*`` and
  ``manager_page``) by channel and outcome (pending, sending, sent, delivered, failed,
  cancelled).
* ``oncall_sla_breaches_total{target}`` — counter: breach events on case timelines.
* ``oncall_outbox_depth{channel}`` — messages pending or sending.
* ``oncall_outbox_oldest_pending_age_seconds`` — how long the oldest message still waiting to go
  out (pending or sending) has been queued; retries do not reset it, so it climbs through a
  provider outage. Alert on this: delivery is stuck.
* ``oncall_engine_tick_lag_seconds{instance}``, ``oncall_engine_tick_duration_seconds``,
  ``oncall_engine_seconds_since_tick{instance}`` — from each engine's heartbeat row. An engine
  that has not beaten for a day is forgotten: every restart is a new instance (host:pid), and
  a process stopped yesterday is not news (``/healthz`` says when the live engine stalls).
* ``oncall_file_errors`` — rota/customer/voice-flow files whose last good version is live.
* ``oncall_metrics_scrape_ok`` — 0 when the database could not be read (the rest is missing).

Public by default (see :mod:`oncall.web.auth`): counts only, no case details or names. With
``metrics.token`` set, a scrape must send it as ``Authorization: Bearer <token>`` (Prometheus:
``authorization: {credentials: …}``); anything else gets 401.
"""

from __future__ import annotations

import hmac
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from oncall.cases.outbox import outbox_backlog
from oncall.db.models import Case, CaseEvent, EngineHeartbeat, OutboundMessage
from oncall.domain.enums import PAGE_PURPOSES, OutboxState
from oncall.web.context import runtime

log = logging.getLogger("oncall.web.metrics")

bp = Blueprint("metrics", __name__)

QUEUED = (OutboxState.PENDING.value, OutboxState.SENDING.value)
FORGET_ENGINES_AFTER = timedelta(days=1)


class DatabaseCollector(Collector):
    """Turns the tables into metric families, once per scrape."""

    def __init__(self, runtime: Any):
        self.runtime = runtime

    def describe(self):
        # Nothing to describe up front: registering must not query the database.
        return []

    def collect(self):
        rt = self.runtime
        now = rt.clock.now()
        ok = GaugeMetricFamily(
            "oncall_metrics_scrape_ok", "1 if the database could be read for this scrape"
        )
        files = GaugeMetricFamily(
            "oncall_file_errors",
            "Errors in user-edited files (the last good version is live until fixed)",
        )
        files.add_metric([], len(rt.file_errors()))
        yield files
        try:
            families = list(self._from_database(now))
        except Exception:  # a scrape must answer even when the database is down
            log.exception("metrics: database query failed")
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok
        yield from families

    def _from_database(self, now):
        with self.runtime.sessions() as session:
            yield _cases(session)
            yield _pages(session)
            yield _breaches(session)
            yield from _outbox(session, now)
            yield from _engines(session, now)


def _cases(session) -> GaugeMetricFamily:
    cases = GaugeMetricFamily(
        "oncall_cases", "Cases by state and severity", labels=["state", "severity"]
    )
    for state, severity, count in session.execute(
        select(Case.state, Case.severity, func.count()).group_by(Case.state, Case.severity)
    ):
        cases.add_metric([state, f"S{severity}"], count)
    return cases


def _pages(session) -> GaugeMetricFamily:
    pages = GaugeMetricFamily(
        "oncall_pages",
        "Pages (engineer and manager pages in the outbox) by channel, purpose, outcome",
        labels=["channel", "purpose", "state"],
    )
    for channel, purpose, state, count in session.execute(
        select(
            OutboundMessage.channel,
            OutboundMessage.purpose,
            OutboundMessage.state,
            func.count(),
        )
        .where(OutboundMessage.purpose.in_(PAGE_PURPOSES))
        .group_by(OutboundMessage.channel, OutboundMessage.purpose, OutboundMessage.state)
    ):
        pages.add_metric([channel, purpose, state], count)
    return pages


def _breaches(session) -> CounterMetricFamily:
    breaches = CounterMetricFamily(
        "oncall_sla_breaches", "SLA breaches recorded on case timelines", labels=["target"]
    )
    # The target is inside the event's JSON; reading it in Python keeps the query the
    # same on SQLite and PostgreSQL (breaches are rare, the rows are few).
    targets = Counter(
        str((data or {}).get("target") or "unknown")
        for data in session.scalars(select(CaseEvent.data).where(CaseEvent.kind == "breach"))
    )
    for target in sorted(set(targets) | {"triage", "status"}):
        breaches.add_metric([target], targets.get(target, 0))
    return breaches


def _outbox(session, now):
    depth = GaugeMetricFamily(
        "oncall_outbox_depth", "Outbox messages pending or sending", labels=["channel"]
    )
    for channel, count in session.execute(
        select(OutboundMessage.channel, func.count())
        .where(OutboundMessage.state.in_(QUEUED))
        .group_by(OutboundMessage.channel)
    ):
        depth.add_metric([channel], count)
    yield depth

    _depth, oldest_age = outbox_backlog(session, now)
    age = GaugeMetricFamily(
        "oncall_outbox_oldest_pending_age_seconds",
        "How long the oldest message waiting to go out has been queued",
    )
    age.add_metric([], oldest_age or 0.0)
    yield age


def _engines(session, now):
    """Each engine's last tick, from its heartbeat row."""
    lag = GaugeMetricFamily(
        "oncall_engine_tick_lag_seconds",
        "How late the engine's last tick started",
        labels=["instance"],
    )
    duration = GaugeMetricFamily(
        "oncall_engine_tick_duration_seconds",
        "How long the engine's last tick took",
        labels=["instance"],
    )
    since = GaugeMetricFamily(
        "oncall_engine_seconds_since_tick",
        "Seconds since the engine's last tick",
        labels=["instance"],
    )
    recent = EngineHeartbeat.last_tick_at >= now - FORGET_ENGINES_AFTER
    for beat in session.scalars(
        select(EngineHeartbeat).where(recent).order_by(EngineHeartbeat.instance)
    ):
        lag.add_metric([beat.instance], beat.last_lag_ms / 1000.0)
        duration.add_metric([beat.instance], beat.last_duration_ms / 1000.0)
        since.add_metric([beat.instance], max((now - beat.last_tick_at).total_seconds(), 0.0))
    yield lag
    yield duration
    yield since


def init_app(app: Flask) -> None:
    # One registry per app, not the process-global default: tests build many apps, and the
    # default registry's process metrics say nothing about the service.
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(runtime(app)))
    app.extensions["oncall.metrics_registry"] = registry


def _token_ok(expected: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


@bp.get("/metrics")
def metrics() -> Response:
    expected = runtime().settings.metrics_token
    if expected and not _token_ok(expected):
        return Response(
            "a valid bearer token is required (metrics.token)\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="oncall metrics"'},
        )
    registry = current_app.extensions["oncall.metrics_registry"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
