"""iCalendar feeds of the rotas: ``GET /rota/<team>.ics`` and ``GET /rota/<team>/<member>.ics``.

Calendar apps subscribe to a URL and can't log in, so each feed URL carries ``?token=...``
(:func:`oncall.reports.calendars.feed_token`; ``oncall rota feed-url`` prints it). Feeds are
read from the live rotas (TAKEs included), so a rota edit shows up at the calendar's next
refresh.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, request

from oncall.reports.calendars import check_feed_token, team_calendar
from oncall.web.context import runtime
from oncall.web.on_call import live_team_now

bp = Blueprint("feeds", __name__)

# What a feed covers: recent history (so yesterday's shift doesn't vanish from the calendar)
# and the coming months.
FEED_PAST = timedelta(days=14)
FEED_FUTURE = timedelta(days=90)


def _feed(team_key: str, member: str | None) -> Response:
    services = runtime()
    # The token first: without the right one, an unknown team answers like a known one (403),
    # so the feed URLs reveal no team names. Only a token made from our secret learns "404".
    secret = current_app.config["ONCALL_SECRET_KEY"]
    if not check_feed_token(secret, team_key, member, request.args.get("token")):
        abort(403)
    team = live_team_now(services, team_key)
    if team is None or (member is not None and member not in team.members):
        abort(404)
    now = services.clock.now()
    body = team_calendar(team, now - FEED_PAST, now + FEED_FUTURE, member=member, stamp=now)
    name = f"{team_key}-{member}.ics" if member else f"{team_key}.ics"
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            # The token is in the URL: keep the feed out of shared caches.
            "Cache-Control": "private, max-age=300",
        },
    )


@bp.get("/rota/<team>.ics")
def team_feed(team: str) -> Response:
    return _feed(team, None)


@bp.get("/rota/<team>/<member>.ics")
def member_feed(team: str, member: str) -> Response:
    return _feed(team, member)
