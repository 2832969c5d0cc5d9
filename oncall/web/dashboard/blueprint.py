"""The dashboard's blueprint: its URL map in one table, and the template filters and globals
its pages share.

The pages are plain view functions in :mod:`~oncall.web.dashboard.cases`,
:mod:`~oncall.web.dashboard.rotas`, :mod:`~oncall.web.dashboard.reports` and
:mod:`~oncall.web.dashboard.recording`; this module wires them to their URLs, so they never
import it and every endpoint keeps its view's name (``dashboard.case_page``).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app

from oncall.domain.timetext import format_duration
from oncall.reports.clocks import format_seconds
from oncall.services.paging_readiness import paging_problems
from oncall.services.web_actions import Action
from oncall.web.context import runtime
from oncall.web.dashboard import case_actions, cases, recording, reports, rotas
from oncall.web.dashboard.labels import label

bp = Blueprint("dashboard", __name__)
_ACTIONS = ", ".join(action.value for action in Action)


def favicon():
    """Browsers ask for ``/favicon.ico`` whatever the page links; it is in the static files."""
    response = Response(_icon(current_app.static_folder or ""), mimetype="image/x-icon")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@functools.cache
def _icon(folder: str) -> bytes:
    # Under a kilobyte, asked for on every first visit: kept in memory once read.
    return (Path(folder) / "favicon.ico").read_bytes()


_PAGES = (
    ("/", cases.now_page, ["GET"]),
    ("/cases", cases.cases_page, ["GET"]),
    ("/cases/<int:number>", cases.case_page, ["GET"]),
    (f"/cases/<int:number>/<any({_ACTIONS}):action>", case_actions.act, ["POST"]),
    ("/cases/<int:number>/recording", recording.case_recording, ["GET"]),
    ("/rotas", rotas.rotas_page, ["GET"]),
    ("/rotas/<team>", rotas.rota_page, ["GET"]),
    ("/rotas/<team>/overrides/<int:override_id>/remove", rotas.remove_override, ["POST"]),
    ("/misuse", reports.misuse_page, ["GET"]),
    ("/misuse/<int:number>/waive", reports.waive, ["POST"]),
    ("/misuse/<int:number>/confirm", reports.confirm, ["POST"]),
    ("/reports", reports.reports_page, ["GET"]),
    ("/reports/misuse.csv", reports.misuse_csv_download, ["GET"]),
    ("/reports/contract", reports.contract_page, ["GET"]),
    ("/favicon.ico", favicon, ["GET"]),
)
for rule, view, methods in _PAGES:
    bp.add_url_rule(rule, view_func=view, methods=methods)


# -- template helpers -----------------------------------------------------------------------
def _local(
    value: datetime | None, zone: ZoneInfo | str | None = None, fmt: str = "%a %d %b %H:%M %Z"
):
    if value is None:
        return "–"
    if zone is None:
        zone = runtime().settings.zone
    elif isinstance(zone, str):
        zone = ZoneInfo(zone)
    return value.astimezone(zone).strftime(fmt)


@bp.app_template_filter("local")
def local_filter(value, zone=None, fmt="%a %d %b %H:%M %Z"):
    return _local(value, zone, fmt)


@bp.app_template_filter("duration")
def duration_filter(seconds):
    return format_seconds(seconds)


@bp.app_template_filter("span")
def span_filter(delta: timedelta) -> str:
    """A configured duration as the YAML writes it (``5m``, ``1h30m``)."""
    return format_duration(delta)


@bp.app_template_filter("after")
def after_filter(delta: timedelta) -> str:
    """When an escalation step fires: ``at once``, ``after 5m``."""
    return "at once" if delta <= timedelta(0) else f"after {format_duration(delta)}"


@bp.app_template_filter("words")
def words_filter(code: str | None, table: str) -> str:
    """A stored code in words (:mod:`~oncall.web.dashboard.labels`)."""
    return label(table, code)


@bp.app_template_filter("iso")
def iso_filter(value: datetime | None) -> str:
    return value.isoformat() if value else ""


@bp.app_template_global("may_act_on")
def may_act_on(case) -> bool:
    """Whether the signed-in user may act on ``case`` (the case page's forms)."""
    return case_actions.user_may_act(case)


@bp.app_context_processor
def _dashboard_globals():
    rt = runtime()
    return {
        "company": rt.settings.company,
        "server_now": rt.clock.now(),
        "warn_seconds": int(rt.settings.sla.warn_before.total_seconds()),
        # The red banner on every signed-in page: why a caller might reach no engineer now
        # (a function, so the sign-in page does not pay for it).
        "paging_problems": lambda: paging_problems(rt, rt.clock.now()),
    }
