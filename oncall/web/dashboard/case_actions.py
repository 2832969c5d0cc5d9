"""The dashboard's case actions: acknowledge, post a status (with an ETA), escalate, downgrade
(with a reason) and resolve, from the case page (``POST /cases/<n>/<action>``).

The view validates the form, calls :func:`oncall.services.web_actions.act_on_case` (the same
use cases as the SMS commands) and sends the user back to the case page with what happened.
Only a manager, or a user whose ``member:`` is on the case's team, sees the forms or may post
them; the CSRF token is checked by the guard in :mod:`oncall.web.auth`.
"""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, request, url_for

from oncall.db.models import Case
from oncall.services.web_actions import (
    Action,
    Actor,
    Request,
    Result,
    act_on_case,
    may_act,
    readable_eta,
)
from oncall.web.auth import current_user, login_required
from oncall.web.context import runtime

log = logging.getLogger("oncall.web.dashboard.views")


def _actor() -> Actor:
    user = current_user()
    assert user is not None
    return Actor(user.username, "dashboard", user.member, user.role == "manager")


def user_may_act(case: Case) -> bool:
    """Whether the signed-in user may act on ``case`` (the case page shows the forms)."""
    if current_user() is None:
        return False
    rt = runtime()
    with rt.sessions() as session:
        return may_act(session, rt, case, _actor(), rt.clock.now())


@login_required
def act(number: int, action: str):
    rt = runtime()
    severity = request.form.get("severity", "").strip().upper().removeprefix("S")
    if severity and not severity.isdigit():
        abort(400, "severity: 3 or 4")
    wanted = Request(
        Action(action),
        text=" ".join(request.form.get("text", "").split()),
        eta=request.form.get("eta", ""),
        severity=int(severity) if severity else None,
    )
    problem = readable_eta(wanted.eta) if wanted.action is Action.STATUS else None
    if problem is not None:  # refused here: the customer would read the unreadable ETA
        flash(f"Case {number}: {problem}", "error")
        return redirect(url_for("dashboard.case_page", number=number))
    outcome = act_on_case(rt, number, wanted, _actor(), rt.clock.now())
    if outcome.result is Result.NOT_FOUND:
        abort(404)
    if outcome.result is Result.FORBIDDEN:
        abort(403, outcome.message)
    if outcome.result is Result.DONE:
        log.info("%s by %s: %s", action, current_user().username, outcome.message)
    flash(f"Case {number}: {outcome.message}", "ok" if outcome.result is Result.DONE else "error")
    return redirect(url_for("dashboard.case_page", number=number))
