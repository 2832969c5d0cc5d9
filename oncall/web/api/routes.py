"""The JSON API under ``/api/``: cases, who is on call, and the monthly reports; and acting on a
case (``POST /api/cases/<n>/ack|status|escalate|resolve``: :mod:`oncall.web.api.actions`).

Every route but ``/api/openapi.json`` needs ``Authorization: Bearer <token>`` with a token from
``api.tokens`` in config; anything else gets 401 with ``WWW-Authenticate: Bearer``. Acting needs
a token whose ``scope`` is ``act``. The public ``/api/openapi.json`` describes the routes
(``openapi.yaml`` beside this module); a test checks that it lists exactly the routes registered
here and that the answers match its schemas.

Times are ISO 8601 in UTC. ``since``/``until`` accept an ISO datetime with an offset, or a
date (``2026-11-24``), read as local midnight in the service's time zone.
"""

from __future__ import annotations

import hmac
import logging
from datetime import date, datetime, time
from typing import Any

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from oncall.db.models import Case, CaseEvent, MisuseFlag, OutboundMessage
from oncall.domain.enums import CaseState
from oncall.domain.timetext import check_year
from oncall.reports.clocks import case_clocks
from oncall.reports.misuse import misuse_report
from oncall.reports.months import month_of, parse_month
from oncall.reports.sla import sla_report
from oncall.web.api.openapi import openapi_document
from oncall.web.context import runtime
from oncall.web.on_call import level_now, live_teams

log = logging.getLogger("oncall.web.api.routes")

bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
STATES = [s.value for s in CaseState]


class BadRequest(Exception):
    """A query parameter we can't use; the message goes back to the caller."""


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return jsonify(error=str(exc)), 400


@bp.app_errorhandler(400)
@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _http_error(exc: HTTPException):
    # App-wide, because a URL that matches no route (``/api/cases/-1``, ``/api/nope``) or that
    # the edge refuses (a control character in it) never reaches this blueprint's handlers;
    # under /api/ the answer is JSON like every other, elsewhere the default page stays.
    if not request.path.startswith(bp.url_prefix or "/api"):
        return exc
    messages = {404: "not found", 405: "method not allowed"}
    message = messages.get(exc.code or 400, exc.description or "bad request")
    response = exc.get_response()
    response.set_data(jsonify(error=message).get_data())
    response.mimetype = "application/json"
    return response


def _unauthorized(error: str | None):
    challenge = 'Bearer realm="oncall"'
    if error:
        challenge += f', error="{error}"'
    response = jsonify(error="a valid bearer token is required")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = challenge
    return response


@bp.before_request
def _refuse_control_characters():
    # The edge strips them from every query; the API, whose callers are programs, says so
    # instead of answering for a query other than the one that was sent.
    if getattr(request.args, "stripped", False):
        raise BadRequest("the query has control characters")


@bp.before_request
def _require_token():
    if request.endpoint == "api.openapi":
        return None  # the description is public, like every public API's; the data is not
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _unauthorized(None)
    given_bytes = given.strip().encode()
    match = None
    # Compare against every token, in constant time each, and don't stop at the first match:
    # the response time says nothing about how much of a token was right.
    for token in runtime().settings.api_tokens:
        if hmac.compare_digest(token.token.encode(), given_bytes) and match is None:
            match = token
    if match is None:
        log.warning("API request with a wrong token from %s", request.remote_addr or "-")
        return _unauthorized("invalid_token")
    g.api_client = match.name
    g.api_token = match
    return None


# -- serialisation --------------------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def case_summary(case: Case, now: datetime, warn) -> dict[str, Any]:
    triage, status = case_clocks(case, now, warn)
    return {
        "number": case.number,
        "state": case.state,
        "severity": case.severity,
        "severity_claimed": case.severity_claimed,
        "severity_source": case.severity_source,
        "severity_asked_at": _iso(case.severity_asked_at),
        "severity_answered_at": _iso(case.severity_answered_at),
        "team": case.team,
        "customer": {"key": case.customer_key, "name": case.customer_name, "plan": case.plan},
        "channel": case.channel,
        "summary": case.summary,
        "after_hours": case.after_hours,
        "opened_at": _iso(case.opened_at),
        "acknowledged_at": _iso(case.acknowledged_at),
        "acknowledged_by": case.acknowledged_by,
        "acknowledged_by_name": case.acknowledged_by_name,
        "triage_due_at": _iso(case.triage_due_at),
        "first_status_at": _iso(case.first_status_at),
        "last_status_at": _iso(case.last_status_at),
        "status_due_at": _iso(case.status_due_at),
        "first_status_due_at": _iso(case.first_status_due_at),
        "resolution_due_at": _iso(case.resolution_due_at),
        "targets": case.targets,  # the contract frozen when it opened (None: from before)
        "eta_at": _iso(case.eta_at),
        "eta_text": case.eta_text,
        "resolved_at": _iso(case.resolved_at),
        "waiting_since": _iso(case.waiting_since),
        "paused_seconds": case.paused_seconds or 0,
        "closed_at": _iso(case.closed_at),
        "reopen_count": case.reopen_count or 0,
        "follows": case.follows_number,
        "sla": {"triage": triage.to_dict(), "status": status.to_dict()},
    }


def _event(event: CaseEvent) -> dict[str, Any]:
    return {
        "at": _iso(event.at),
        "kind": event.kind,
        "actor": event.actor,
        "text": event.text,
        "data": event.data or {},
    }


def _message(message: OutboundMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "channel": message.channel,
        "purpose": message.purpose,
        "recipient": message.recipient,
        "to": message.to_address,
        "subject": message.subject,
        "body": message.body,
        "state": message.state,
        "attempts": message.attempts,
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "provider_status": message.provider_status,
        "error_code": message.error_code,
        "last_error": message.last_error,
    }


def _flag(flag: MisuseFlag | None) -> dict[str, Any] | None:
    if flag is None:
        return None
    return {
        "kind": flag.kind,
        "flagged_at": _iso(flag.flagged_at),
        "flagged_by": flag.flagged_by,
        "severity_claimed": flag.severity_claimed,
        "severity_set": flag.severity_set,
        "fee": flag.fee,
        "currency": flag.currency,
        "reason": flag.reason,
        "waived": flag.waived_at is not None,
        "state": flag.state,
        "waived_at": _iso(flag.waived_at),
        "waived_by": flag.waived_by,
        "waive_reason": flag.waive_reason,
    }


# -- parameters -----------------------------------------------------------------------------
def _list_arg(name: str, allow_empty: bool = True) -> list[str]:
    """Comma-separated or repeated values; an empty one is skipped, or refused where the
    parameter is a closed list (states, severities)."""
    values = []
    for raw in request.args.getlist(name):
        parts = [v.strip() for v in raw.split(",")]
        if not allow_empty and not all(parts):
            raise BadRequest(f"{name}: {raw!r} has an empty value")
        values.extend(part for part in parts if part)
    return values


def _instant_arg(name: str) -> datetime | None:
    if name not in request.args:
        return None
    raw = request.args.get(name, "").strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            value = datetime.combine(day, time(), tzinfo=runtime().settings.zone)
        else:
            # RFC 3339 allows a lower-case "t" and "z".
            value = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not an ISO 8601 date or datetime") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name}: {raw!r} needs a UTC offset (e.g. 2026-11-24T08:00:00Z)")
    try:
        check_year(value.year, raw)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None
    return value


def _month_arg() -> str:
    rt = runtime()
    month = request.args.get("month", month_of(rt.clock.now(), rt.settings.zone))
    try:
        parse_month(month)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return month


# -- routes ---------------------------------------------------------------------------------
@bp.get("/cases")
def list_cases():
    rt = runtime()
    query = select(Case)
    states = _list_arg("state", allow_empty=False)
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise BadRequest(f"state: unknown {unknown}; use {', '.join(STATES)}")
    if states:
        query = query.where(Case.state.in_(states))
    severities = _list_arg("severity", allow_empty=False)
    try:
        numbers = [int(s.upper().removeprefix("S")) for s in severities]
    except ValueError:
        raise BadRequest("severity: use 1-4 (or S1-S4)") from None
    if any(n not in (1, 2, 3, 4) for n in numbers):
        raise BadRequest("severity: use 1-4 (or S1-S4)")
    if numbers:
        query = query.where(Case.severity.in_(numbers))
    if teams := _list_arg("team"):
        query = query.where(Case.team.in_(teams))
    if customers := _list_arg("customer"):
        query = query.where(Case.customer_key.in_(customers))
    if (since := _instant_arg("since")) is not None:
        query = query.where(Case.opened_at >= since)
    if (until := _instant_arg("until")) is not None:
        query = query.where(Case.opened_at < until)
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw_limit)
    except ValueError:
        raise BadRequest(f"limit: {raw_limit!r} is not a number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}")
    query = query.order_by(Case.opened_at.desc(), Case.id.desc()).limit(limit)
    now = rt.clock.now()
    with rt.sessions() as session:
        cases = list(session.scalars(query))
    warn = rt.settings.sla.warn_before
    return jsonify(cases=[case_summary(c, now, warn) for c in cases], count=len(cases))


@bp.get("/cases/<int:number>")
def get_case(number: int):
    rt = runtime()
    now = rt.clock.now()
    with rt.sessions() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        if case is None:
            return jsonify(error=f"no case {number}"), 404
        events = session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.at, CaseEvent.id)
        )
        messages = session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.case_id == case.id)
            .order_by(OutboundMessage.created_at, OutboundMessage.id)
        )
        flag = session.scalar(select(MisuseFlag).where(MisuseFlag.case_id == case.id))
        body = case_summary(case, now, rt.settings.sla.warn_before)
        body.update(
            contact={
                "name": case.contact_name,
                "phone": case.contact_phone,
                "email": case.contact_email,
            },
            recording={
                "url": case.recording_url,
                "duration": case.recording_duration,
            }
            if case.recording_url
            else None,
            resolution_note=case.resolution_note,
            timeline=[_event(e) for e in events],
            messages=[_message(m) for m in messages],
            misuse=_flag(flag),
        )
    return jsonify(body)


@bp.get("/oncall")
def on_call():
    rt = runtime()
    now = rt.clock.now()
    teams = []
    for team in live_teams(rt):
        levels = []
        for level in team.levels():
            row = level_now(team, level, now)
            levels.append(
                {
                    "level": level,
                    "member": _member(row.current.member) if row.current else None,
                    "rotation": row.current.rotation if row.current else None,
                    "override": row.current.override if row.current else False,
                    "since": _iso(row.current.start) if row.current else None,
                    "until": _iso(row.until),
                    "next": {
                        "member": _member(row.next.member),
                        "from": _iso(row.next.start),
                        "override": row.next.override,
                    }
                    if row.next
                    else None,
                }
            )
        teams.append({"team": team.key, "timezone": team.timezone, "levels": levels})
    return jsonify(at=now.isoformat(), teams=teams)


def _member(member) -> dict[str, Any]:
    return {"key": member.key, "name": member.name}


@bp.get("/reports/sla")
def report_sla():
    rt = runtime()
    month = _month_arg()
    with rt.sessions() as session:
        report = sla_report(
            session, month, rt.settings.zone, sla=rt.settings.sla, now=rt.clock.now()
        )
    return jsonify(report.to_dict())


@bp.get("/reports/misuse")
def report_misuse():
    rt = runtime()
    month = _month_arg()
    with rt.sessions() as session:
        rows = misuse_report(session, month, rt.settings.zone, rt.settings.public_url)
    totals: dict[str, float] = {}
    for row in rows:
        totals[row.currency] = round(totals.get(row.currency, 0.0) + row.due, 2)
    return jsonify(month=month, rows=[r.to_dict() for r in rows], due=totals)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document(runtime().settings.public_url))
