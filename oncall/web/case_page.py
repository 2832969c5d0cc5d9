"""The customer's case page: ``GET /c/<token>``, ``POST /c/<token>/note`` and
``POST /c/<token>/escalate``, linked from every message the customer gets about their case.

No account: the token in the URL is the proof (see :mod:`oncall.cases.page_link`). An unknown
token, or one whose case closed more than ``retention.case_page`` ago, is 404 like any other
missing page. The forms carry a CSRF token (Flask-WTF, as the dashboard's) and a one-time form
id, so a double click acts once. Views only parse, call one service function and answer.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from oncall.services import case_page
from oncall.web.context import runtime

bp = Blueprint("case_page", __name__, url_prefix="/c")


def _when(at: datetime | None) -> str:
    if at is None:
        return ""
    return at.astimezone(runtime().settings.zone).strftime("%a %d %b %H:%M %Z")


def _form(name: str) -> str:
    return (request.form.get(name) or "").strip()


@bp.get("/<token>")
def show(token: str) -> str:
    rt = runtime()
    page = case_page.read_case_page(rt, token, rt.clock.now())
    if page is None:
        abort(404)
    return render_template(
        "customer_case.html",
        page=page,
        token=token,
        when=_when,
        form_id=secrets.token_hex(8),
        company=rt.settings.company,
        limit=case_page.MAX_NOTE,
    )


@bp.post("/<token>/note")
def note(token: str) -> Response:
    rt = runtime()
    answer = case_page.add_note(rt, token, _form("text"), _form("form_id"), rt.clock.now())
    return _answered(token, answer)


@bp.post("/<token>/escalate")
def escalate(token: str) -> Response:
    rt = runtime()
    answer = case_page.escalate(rt, token, _form("reason"), _form("form_id"), rt.clock.now())
    return _answered(token, answer)


def _answered(token: str, answer: case_page.PageAnswer) -> Response:
    """Back to the page (303, so a reload does not post again) with what happened."""
    if answer.outcome == "unknown":
        abort(404)
    failed = answer.outcome in ("empty", "closed", "limited")
    flash(answer.message, "error" if failed else "ok")
    return redirect(url_for("case_page.show", token=token), code=303)  # type: ignore[return-value]
