"""The iCalendar feeds: ``GET /rota/<team>.ics`` and ``GET /rota/<team>/<member>.ics``."""

from __future__ import annotations

import re
import shutil
import types
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from icalendar import Calendar

from oncall.clock import FakeClock
from oncall.db.session import make_session_factory
from oncall.reports.calendars import check_feed_token, feed_token, team_calendar
from oncall.sources.rotas.reading import load_team
from oncall.sources.rotas.registry import RotaRegistry
from oncall.web.feeds import bp

ROOT = Path(__file__).resolve().parents[2]
SECRET = "feed-test-secret"


@pytest.fixture
def client(tmp_path, db_engine):
    shutil.copy(ROOT / "rotations" / "support.yaml", tmp_path / "support.yaml")
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    registry = RotaRegistry(tmp_path, clock)
    registry.load()
    app = Flask(__name__)
    app.config["ONCALL_SECRET_KEY"] = SECRET
    # The feed reads the live rota: the file, and the TAKEs kept in the database.
    app.extensions["oncall"] = types.SimpleNamespace(
        rotas=registry, clock=clock, sessions=make_session_factory(db_engine)
    )
    app.register_blueprint(bp)
    return app.test_client()


def events(response):
    return list(Calendar.from_ical(response.data).walk("VEVENT"))


def test_team_feed(client):
    response = client.get(f"/rota/support.ics?token={feed_token(SECRET, 'support', None)}")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "private, max-age=300"
    found = events(response)
    assert {str(e["summary"]) for e in found} >= {
        "On call: primary (Carol Li) [override]",
        "On call: secondary (Bob Roy)",
        "On call: primary (Alice Ng)",
    }
    # The feed reaches back two weeks and forward three months.
    starts = sorted(e.decoded("dtstart") for e in found)
    assert starts[0] <= datetime(2026, 11, 9, 12, 0, tzinfo=UTC)
    assert starts[-1] >= datetime(2027, 2, 14, tzinfo=UTC)


def test_member_feed_has_only_that_member(client):
    token = feed_token(SECRET, "support", "carol")
    response = client.get(f"/rota/support/carol.ics?token={token}")
    assert response.status_code == 200
    assert {str(e["summary"]).split("(")[1].split(")")[0] for e in events(response)} == {"Carol Li"}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/rota/ops.ics?token=x", 403),  # unknown team: the same answer as a wrong token
        (f"/rota/ops.ics?token={feed_token(SECRET, 'ops', None)}", 404),  # only our secret knows
        ("/rota/support.ics", 403),  # no token
        ("/rota/support.ics?token=0123456789abcdef0123456789abcdef", 403),  # wrong token
        # A member's token doesn't open the team feed, nor another member's.
        (f"/rota/support.ics?token={feed_token(SECRET, 'support', 'carol')}", 403),
        (f"/rota/support/alice.ics?token={feed_token(SECRET, 'support', 'carol')}", 403),
        (f"/rota/support/zed.ics?token={feed_token(SECRET, 'support', 'zed')}", 404),
    ],
)
def test_feed_refusals(client, url, status):
    assert client.get(url).status_code == status


def test_tokens():
    token = feed_token(SECRET, "support", None)
    # 32 hex digits: 128 bits, as much as a case page's link carries.
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert feed_token(SECRET, "support", None) == token  # stable: feed URLs keep working
    others = {
        "another team": feed_token(SECRET, "ops", None),
        "a member's feed": feed_token(SECRET, "support", "carol"),
        "another member's feed": feed_token(SECRET, "support", "alice"),
        "another secret": feed_token("other-secret", "support", None),
    }
    assert token not in others.values()
    assert len(set(others.values())) == len(others)
    assert check_feed_token(SECRET, "support", None, token)
    assert not check_feed_token("other-secret", "support", None, token)
    assert not check_feed_token(SECRET, "support", None, None)
    assert feed_token(SECRET, "a", "b.c") != feed_token(SECRET, "a.b", "c")


def test_tokens_look_random():
    """Tokens of similar names share nothing visible: each hex digit is about equally likely
    in every position, so a token can't be guessed from another team's or member's."""
    tokens = [feed_token(SECRET, f"team{i}", None) for i in range(400)]
    tokens += [feed_token(SECRET, "support", f"member{i}") for i in range(400)]
    assert len(set(tokens)) == len(tokens)
    for position in range(32):
        digits = Counter(token[position] for token in tokens)
        # 800 draws of 16 digits: 50 each on average; a digit never seen, or seen 3x as often,
        # would mean the position is not random (the chance of a false alarm is below 1e-9).
        assert len(digits) == 16 and max(digits.values()) < 150


def test_calendar_uids_are_stable_and_unique():
    team = load_team(ROOT / "rotations" / "support.yaml")
    start, end = datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC)
    first = team_calendar(team, start, end)
    assert first == team_calendar(team, start, end)  # same arguments, same bytes
    uids = [str(e["uid"]) for e in Calendar.from_ical(first).walk("VEVENT")]
    assert len(uids) == len(set(uids))
    # A later window lists the same shifts with the same UIDs (calendars update in place).
    later = team_calendar(team, datetime(2026, 11, 30, tzinfo=UTC), end)
    assert {str(e["uid"]) for e in Calendar.from_ical(later).walk("VEVENT")} <= set(uids)
