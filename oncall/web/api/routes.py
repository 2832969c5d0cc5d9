"""The JSON API under ``/api/``: cases, who is on call, and the monthly reports.

Every route needs ``Authorization: Bearer <token>`` with a token from ``api.tokens`` in config;
anything else gets 401 with ``WWW-Authenticate: Bearer``. ``/api/openapi.json`` describes the
routes; a test checks that it lists exactly the routes registered here.

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

from oncall import __version__
from oncall.db.models import Case, CaseEvent, MisuseFlag, OutboundMessage
from oncall.domain.enums import CaseState
from oncall.reports.clocks import case_clocks
from oncall.reports.misuse import misuse_report
from oncall.reports.months import month_of, parse_month
from oncall.reports.sla import sla_report
from oncall.web.context import runtime
from oncall.web.dashboard.views import level_now, live_teams

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


@bp.errorhandler(404)
def _not_found(_exc):
    return jsonify(error="not found"), 404


def _unauthorized(error: str | None):
    challenge = 'Bearer realm="oncall"'
    if error:
        challenge += f', error="{error}"'
    response = jsonify(error="a valid bearer token is required")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = challenge
    return response


@bp.before_request
def _require_token():
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
        "eta_at": _iso(case.eta_at),
        "eta_text": case.eta_text,
        "resolved_at": _iso(case.resolved_at),
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
        "waived_at": _iso(flag.waived_at),
        "waived_by": flag.waived_by,
        "waive_reason": flag.waive_reason,
    }


# -- parameters -----------------------------------------------------------------------------
def _list_arg(name: str) -> list[str]:
    values = []
    for raw in request.args.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def _instant_arg(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day, time(), tzinfo=runtime().settings.zone)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not an ISO 8601 date or datetime") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name}: {raw!r} needs a UTC offset (e.g. 2026-11-24T08:00:00Z)")
    return value


def _month_arg() -> str:
    rt = runtime()
    month = request.args.get("month") or month_of(rt.clock.now(), rt.settings.zone)
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
    states = _list_arg("state")
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise BadRequest(f"state: unknown {unknown}; use {', '.join(STATES)}")
    if states:
        query = query.where(Case.state.in_(states))
    severities = _list_arg("severity")
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
        rows = misuse_report(session, month, rt.settings.zone)
    totals: dict[str, float] = {}
    for row in rows:
        totals[row.currency] = round(totals.get(row.currency, 0.0) + row.due, 2)
    return jsonify(month=month, rows=[r.to_dict() for r in rows], due=totals)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


# -- OpenAPI --------------------------------------------------------------------------------
def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": _json(_ref("Error"), "A query parameter is invalid"),
    "401": {
        "description": "Missing or wrong bearer token",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": _ref("Error")}},
    },
}
_MONTH = {
    "name": "month",
    "in": "query",
    "description": "Calendar month in the service's time zone (default: the current month)",
    "schema": {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "examples": ["2026-11"]},
}


def _list_param(name: str, description: str, items: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description + " (comma-separated or repeated)",
        "schema": {"type": "array", "items": items},
        "style": "form",
        "explode": True,
    }


_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of this blueprint's routes."""
    clock = {
        "type": "object",
        "properties": {
            "due": _NULL_TIME,
            "seconds_left": {"type": ["number", "null"]},
            "level": {"enum": ["ok", "warn", "breached", "met", "none"]},
        },
    }
    case = {
        "type": "object",
        "required": ["number", "state", "severity", "customer", "opened_at", "sla"],
        "properties": {
            "number": {"type": "integer", "examples": [1042]},
            "state": {"enum": STATES},
            "severity": {"type": "integer", "minimum": 1, "maximum": 4},
            "severity_claimed": {"type": "integer", "minimum": 1, "maximum": 4},
            "team": {"type": "string"},
            "customer": {
                "type": "object",
                "properties": {
                    "key": {"type": "string"},
                    "name": {"type": "string"},
                    "plan": {"type": "string"},
                },
            },
            "channel": {"enum": ["voice", "email"]},
            "summary": {"type": "string"},
            "after_hours": {"type": "boolean"},
            "opened_at": {"type": "string", "format": "date-time"},
            "acknowledged_at": _NULL_TIME,
            "acknowledged_by": {"type": ["string", "null"]},
            "acknowledged_by_name": {"type": ["string", "null"]},
            "triage_due_at": _NULL_TIME,
            "first_status_at": _NULL_TIME,
            "last_status_at": _NULL_TIME,
            "status_due_at": _NULL_TIME,
            "eta_at": _NULL_TIME,
            "eta_text": {"type": ["string", "null"]},
            "resolved_at": _NULL_TIME,
            "sla": {
                "type": "object",
                "properties": {"triage": _ref("SlaClock"), "status": _ref("SlaClock")},
            },
        },
    }
    detail = {
        "allOf": [
            _ref("Case"),
            {
                "type": "object",
                "properties": {
                    "contact": {"type": "object"},
                    "recording": {"type": ["object", "null"]},
                    "resolution_note": {"type": ["string", "null"]},
                    "timeline": {"type": "array", "items": _ref("Event")},
                    "messages": {"type": "array", "items": _ref("Message")},
                    "misuse": {"oneOf": [_ref("MisuseFlag"), {"type": "null"}]},
                },
            },
        ]
    }
    count = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "key": {"type": "string"},
                "label": {"type": "string"},
                "count": {"type": "integer"},
            },
        },
    }
    member = {
        "type": "object",
        "properties": {"key": {"type": "string"}, "name": {"type": "string"}},
    }
    schemas = {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
        "SlaClock": clock,
        "Case": case,
        "CaseDetail": detail,
        "Event": {
            "type": "object",
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "kind": {"type": "string", "examples": ["opened", "page", "ack", "breach"]},
                "actor": {"type": "string"},
                "text": {"type": "string"},
                "data": {"type": "object"},
            },
        },
        "Message": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "channel": {"enum": ["sms", "voice", "email"]},
                "purpose": {"type": "string"},
                "recipient": {"type": "string"},
                "to": {"type": "string"},
                "subject": {"type": ["string", "null"]},
                "body": {"type": "string"},
                "state": {
                    "enum": ["pending", "sending", "sent", "delivered", "failed", "cancelled"]
                },
                "attempts": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "sent_at": _NULL_TIME,
                "delivered_at": _NULL_TIME,
                "provider_status": {"type": ["string", "null"]},
                "error_code": {"type": ["integer", "null"]},
                "last_error": {"type": ["string", "null"]},
            },
        },
        "MisuseFlag": {
            "type": "object",
            "properties": {
                "kind": {"enum": ["fee", "review"]},
                "flagged_at": {"type": "string", "format": "date-time"},
                "flagged_by": {"type": "string"},
                "severity_claimed": {"type": ["integer", "null"]},
                "severity_set": {"type": ["integer", "null"]},
                "fee": {"type": "number"},
                "currency": {"type": "string"},
                "reason": {"type": "string"},
                "waived": {"type": "boolean"},
                "waived_at": _NULL_TIME,
                "waived_by": {"type": ["string", "null"]},
                "waive_reason": {"type": ["string", "null"]},
            },
        },
        "OnCall": {
            "type": "object",
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "teams": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "team": {"type": "string"},
                            "timezone": {"type": "string"},
                            "levels": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "level": {"type": "string"},
                                        "member": {"oneOf": [member, {"type": "null"}]},
                                        "rotation": {"type": ["string", "null"]},
                                        "override": {"type": "boolean"},
                                        "since": _NULL_TIME,
                                        "until": _NULL_TIME,
                                        "next": {"type": ["object", "null"]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "SlaReport": {
            "type": "object",
            "properties": {
                "month": {"type": "string"},
                "timezone": {"type": "string"},
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": "string", "format": "date-time"},
                "cases": {"type": "integer"},
                "acknowledged": {"type": "integer"},
                "median_triage_seconds": {"type": ["number", "null"]},
                "p90_triage_seconds": {"type": ["number", "null"]},
                "triage_measured": {"type": "integer"},
                "triaged_within_target": {"type": "integer"},
                "triage_pct": {"type": ["number", "null"]},
                "first_status_measured": {"type": "integer"},
                "first_status_within_target": {"type": "integer"},
                "first_status_pct": {"type": ["number", "null"]},
                "breaches": {"type": "integer"},
                "breaches_by_target": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                },
                "breaches_by_team": count,
                "breaches_by_engineer": count,
                "breaches_by_customer": count,
            },
        },
        "MisuseRow": {
            "type": "object",
            "properties": {
                "customer": {"type": "string"},
                "customer_name": {"type": "string"},
                "case": {"type": ["integer", "null"]},
                "date": {"type": "string", "format": "date"},
                "severity_claimed": {"type": ["integer", "null"]},
                "severity_set": {"type": ["integer", "null"]},
                "fee": {"type": "number"},
                "currency": {"type": "string"},
                "waived": {"type": "boolean"},
                "due": {"type": "number"},
                "reason": {"type": "string"},
                "waived_by": {"type": "string"},
                "waive_reason": {"type": "string"},
            },
        },
    }
    cases_params = [
        _list_param("state", "Case states", {"enum": STATES}),
        _list_param("severity", "Severities, 1-4", {"type": "integer", "minimum": 1, "maximum": 4}),
        _list_param("team", "Team keys", {"type": "string"}),
        _list_param("customer", "Customer keys", {"type": "string"}),
        {
            "name": "since",
            "in": "query",
            "description": "Opened at or after (ISO datetime with offset, or a local date)",
            "schema": {"type": "string"},
        },
        {
            "name": "until",
            "in": "query",
            "description": "Opened before (ISO datetime with offset, or a local date)",
            "schema": {"type": "string"},
        },
        {
            "name": "limit",
            "in": "query",
            "description": "Most cases to return, newest first",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
    ]
    paths = {
        "/api/cases": {
            "get": {
                "operationId": "listCases",
                "summary": "Cases, newest first, with their SLA clocks",
                "parameters": cases_params,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "cases": {"type": "array", "items": _ref("Case")},
                                "count": {"type": "integer"},
                            },
                        }
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/cases/{number}": {
            "get": {
                "operationId": "getCase",
                "summary": "One case with its whole timeline, messages and misuse flag",
                "parameters": [
                    {
                        "name": "number",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    }
                ],
                "responses": {
                    "200": _json(_ref("CaseDetail")),
                    "401": _ERRORS["401"],
                    "404": _json(_ref("Error"), "No such case"),
                },
            }
        },
        "/api/oncall": {
            "get": {
                "operationId": "onCallNow",
                "summary": "Who is on call now per team and level, until when, and who is next",
                "responses": {"200": _json(_ref("OnCall")), "401": _ERRORS["401"]},
            }
        },
        "/api/reports/sla": {
            "get": {
                "operationId": "slaReport",
                "summary": "SLA compliance for the cases opened in a month",
                "parameters": [_MONTH],
                "responses": {"200": _json(_ref("SlaReport")), **_ERRORS},
            }
        },
        "/api/reports/misuse": {
            "get": {
                "operationId": "misuseReport",
                "summary": "The month's misuse fees (the billing export)",
                "parameters": [_MONTH],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "month": {"type": "string"},
                                "rows": {"type": "array", "items": _ref("MisuseRow")},
                                "due": {
                                    "type": "object",
                                    "description": "Total due per currency",
                                    "additionalProperties": {"type": "number"},
                                },
                            },
                        }
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}), "401": _ERRORS["401"]},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "oncall API",
            "version": __version__,
            "description": "Cases, on-call and reports of the critical support line.",
        },
        "servers": [{"url": runtime().settings.public_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "paths": paths,
    }
