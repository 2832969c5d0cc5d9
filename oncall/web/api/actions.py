"""``POST /api/cases/<n>/ack|status|escalate|resolve|wait``: act on a case with an API token whose
``scope`` is ``act``; the same use cases as the SMS commands and the dashboard
(:func:`oncall.services.web_actions.act_on_case`).

The body is JSON (or a form): ``status`` takes ``text`` and an optional ``eta`` (``2h``,
``04:30``); ``escalate`` and ``resolve`` an optional ``note``; ``wait`` the ``question`` for
the customer (the status clocks pause until they answer). The answer is the message an
engineer would have got by SMS and the case as ``GET /api/cases/<n>`` summarises it; 400 for bad
input, 403 for a read-only token, 404 for no such case, 409 when the case is already closed.
"""

from __future__ import annotations

import logging

from flask import g, jsonify, request
from sqlalchemy import select

from oncall.db.models import Case
from oncall.services.web_actions import Action, Actor, Request, Result, act_on_case
from oncall.web.api.routes import bp, case_summary
from oncall.web.context import runtime

log = logging.getLogger("oncall.web.api.routes")

_STATUS_CODES = {
    Result.DONE: 200,
    Result.INVALID: 400,
    Result.FORBIDDEN: 403,
    Result.NOT_FOUND: 404,
    Result.CLOSED: 409,
}


def _body() -> dict:
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {"_invalid": True}
    return request.form.to_dict()


def _field(body: dict, name: str) -> str:
    value = body.get(name, "")
    return value if isinstance(value, str) else "\0"  # not a string: refused below


def _act(number: int, action: Action, text_field: str | None):
    token = g.api_token
    if token.scope != "act":
        return jsonify(error=f"token {token.name!r} may only read (scope: read)"), 403
    body = _body()
    text = _field(body, text_field) if text_field else ""
    eta = _field(body, "eta") if action is Action.STATUS else ""
    if body.get("_invalid") or "\0" in text or "\0" in eta:
        return jsonify(error="the body must be a JSON object of strings"), 400
    rt = runtime()
    actor = Actor(token.name, "api", token.member, manager=True)
    outcome = act_on_case(rt, number, Request(action, text, eta), actor, rt.clock.now())
    status = _STATUS_CODES[outcome.result]
    if outcome.result in (Result.DONE, Result.CLOSED):
        log.info("API %s on case %s by token %s: %s", action, number, token.name, outcome.message)
        with rt.sessions() as session:
            case = session.scalar(select(Case).where(Case.number == number))
            summary = case_summary(case, rt.clock.now(), rt.settings.sla.warn_before)
        if outcome.result is Result.DONE:
            return jsonify(message=outcome.message, case=summary), status
        return jsonify(error=outcome.message, case=summary), status
    return jsonify(error=outcome.message), status


@bp.post("/cases/<int:number>/ack")
def ack_case(number: int):
    return _act(number, Action.ACK, None)


@bp.post("/cases/<int:number>/status")
def post_case_status(number: int):
    return _act(number, Action.STATUS, "text")


@bp.post("/cases/<int:number>/escalate")
def escalate_case(number: int):
    return _act(number, Action.ESCALATE, "note")


@bp.post("/cases/<int:number>/resolve")
def resolve_case(number: int):
    return _act(number, Action.RESOLVE, "note")


@bp.post("/cases/<int:number>/wait")
def wait_for_customer(number: int):
    return _act(number, Action.WAIT, "question")
