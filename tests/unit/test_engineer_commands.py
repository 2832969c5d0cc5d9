"""The newer SMS verbs (ACK ALL, ESC, TAKE, WHO): real-looking replies, errors, and properties
of the parser; and when a TAKE ends (oncall.domain.take)."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncall.domain.commands import HELP_TEXT, Command, CommandError, Verb, parse_command
from oncall.domain.sms_text import is_gsm7, segments, septets
from oncall.domain.take import (
    MAX_TAKE,
    TakeRequest,
    WallTime,
    parse_take,
    requested_end,
    wall_time_after,
)

ACK, ESC, TAKE, WHO = Verb.ACK, Verb.ESC, Verb.TAKE, Verb.WHO
TORONTO = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # Tuesday 03:00 in Toronto


def parsed(body: str) -> Command:
    command = parse_command(body)
    assert isinstance(command, Command), (body, command)
    return command


# --- ACK ALL ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    ["ACK ALL", "ack all", "Ack All", "ACK-ALL", "ACKALL", "ackall", "A ALL", "acknowledge all",
     '"ACK ALL"', "ACK ALL\n--\nAlice", "ACK ALL Sent from my iPhone", "*ack all*", "ACK: all",
     "\uff21\uff23\uff2b \uff21\uff2c\uff2c"],
)  # fmt: skip
def test_ack_all_spellings(body):
    command = parsed(body)
    assert (command.verb, command.all_cases, command.case_number) == (ACK, True, None)


def test_ack_all_keeps_what_follows_and_plain_acks_stay_plain():
    assert parsed("ACK ALL on it").text == "on it"
    for body in ("ACK 1042 all good", "ACK", "ACK allison", "1042 ACK all"):
        assert parsed(body).all_cases is False, body


# --- ESC -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "case", "text"),
    [
        ("ESC 1042", 1042, ""),
        ("esc", None, ""),
        ("ESCALATE 1042", 1042, ""),
        ("escalate #1042 need a DBA", 1042, "need a DBA"),
        ("Escalated 1042.", 1042, ""),
        ("1042 ESC", 1042, ""),
        ("ESC need help with the database", None, "need help with the database"),
        ('"esc 1042"', 1042, ""),
    ],
)
def test_esc_spellings(body, case, text):
    command = parsed(body)
    assert (command.verb, command.case_number, command.text) == (ESC, case, text)


# --- TAKE ------------------------------------------------------------------------------------
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("TAKE", TakeRequest()),
        ("take primary", TakeRequest("primary")),
        ("TAKE Secondary", TakeRequest("secondary")),
        ("take primary for 12h", TakeRequest("primary", duration=12 * H)),
        ("TAKE PRIMARY FOR 2H", TakeRequest("primary", duration=2 * H)),
        ("take for 2 hours", TakeRequest(duration=2 * H)),
        ("take primary for 90 min", TakeRequest("primary", duration=1.5 * H)),
        ("take primary for 1h30m", TakeRequest("primary", duration=1.5 * H)),
        ("take primary for 1h 30m", TakeRequest("primary", duration=1.5 * H)),
        ("take primary for 1.5h", TakeRequest("primary", duration=1.5 * H)),
        ("take primary for an hour", TakeRequest("primary", duration=H)),
        ("take primary for 1d", TakeRequest("primary", duration=24 * H)),
        ("take primary for 1 week", TakeRequest("primary", duration=7 * 24 * H)),
        ("take until 9am", TakeRequest(until=WallTime(9, 0))),
        ("TAKE until 09:00", TakeRequest(until=WallTime(9, 0))),
        ("take primary until 21:30", TakeRequest("primary", until=WallTime(21, 30))),
        ("take primary till 9.30pm", TakeRequest("primary", until=WallTime(21, 30))),
        ("take until noon", TakeRequest(until=WallTime(12, 0))),
        ("take until midnight", TakeRequest(until=WallTime(0, 0))),
        ("take until tomorrow 9am", TakeRequest(until=WallTime(9, 0, "tomorrow"))),
        ("take until 9am tomorrow", TakeRequest(until=WallTime(9, 0, "tomorrow"))),
        ("take until mon 09:00", TakeRequest(until=WallTime(9, 0, "mon"))),
        ("take until Monday at 9am", TakeRequest(until=WallTime(9, 0, "mon"))),
        ("take until tonight 11pm", TakeRequest(until=WallTime(23, 0, "today"))),
        ("TAKE support/primary for 8h", TakeRequest("primary", "support", duration=8 * H)),
        ("TAKEOVER primary", TakeRequest("primary")),
        ("take primary for 12h.", TakeRequest("primary", duration=12 * H)),
        ("take primary for 12h\n--\nBob", TakeRequest("primary", duration=12 * H)),
    ],
)
def test_take_forms(body, expected):
    command = parsed(body)
    assert (command.verb, command.take) == (TAKE, expected)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("take primary for", "12h, 90m or 2 hours"),
        ("take primary for ever", "12h, 90m or 2 hours"),
        ("take primary for 0h", "12h, 90m or 2 hours"),
        ("take until 9", "9am, 21:30"),  # morning or evening?
        ("take until 25:00", "9am, 21:30"),
        ("take until 13pm", "9am, 21:30"),
        ("take until soon", "9am, 21:30"),
        ("take primary please", "TAKE [level]"),
        ("take ??? for 2h", "level name"),
    ],
)
def test_take_errors_explain_the_syntax(body, needle):
    error = parse_command(body)
    assert isinstance(error, CommandError), error
    assert error.verb is TAKE and needle in error.message
    assert is_gsm7(error.message) and septets(error.message) < 160


# --- WHO -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "team"),
    [
        ("WHO", None),
        ("who", None),
        ("who?", None),
        ("who's on call?", None),
        ("Who is on call now", None),
        ("ONCALL", None),
        ("WHO support", "support"),
        ("who is on for platform?", "platform"),
        ("WHO Support-EU", "support-eu"),
    ],
)
def test_who_forms(body, team):
    command = parsed(body)
    assert (command.verb, command.team) == (WHO, team)


def test_who_names_one_team_at_most():
    error = parse_command("WHO support platform")
    assert isinstance(error, CommandError) and error.verb is WHO


# --- HELP ------------------------------------------------------------------------------------
def test_help_lists_every_command_in_one_segment():
    assert is_gsm7(HELP_TEXT) and segments(HELP_TEXT) == 1
    for example in ("ACK 1042", "ACK ALL", "ESC 1042", "TAKE primary for 2h", "WHO", "HELP"):
        assert example in HELP_TEXT
        assert isinstance(parse_command(example), Command), example


# --- properties ------------------------------------------------------------------------------
levels = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True).filter(
    lambda w: w not in ("for", "until", "till", "til", "untill")
)
durations = st.sampled_from(
    [
        ("{}h", lambda n: n * H),
        ("{}m", lambda n: n * timedelta(minutes=1)),
        ("{} hours", lambda n: n * H),
        ("{}d", lambda n: n * 24 * H),
        ("{} min", lambda n: n * timedelta(minutes=1)),
    ]
)
clocks = st.tuples(st.integers(0, 23), st.integers(0, 59))
days = st.sampled_from([None, "today", "tomorrow", "mon", "tue", "wed", "thu", "fri", "sat"])
SPACES = st.sampled_from([" ", "  ", "\n", "\t"])


def recased(draw, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.swapcase() if f else c for c, f in zip(word, flips, strict=True))


@st.composite
def rendered_takes(draw):
    level = draw(st.none() | levels)
    tokens = [recased(draw, draw(st.sampled_from(["TAKE", "TAKEOVER"])))]
    if level is not None:
        tokens.append(recased(draw, level))
    expected = TakeRequest(level)
    kind = draw(st.sampled_from(["none", "for", "until"]))
    if kind == "for":
        amount = draw(st.integers(1, 99))
        form, delta = draw(durations)
        tokens += ["for", form.format(amount)]
        expected = TakeRequest(level, duration=delta(amount))
    elif kind == "until":
        (hour, minute), day = draw(clocks), draw(days)
        when = f"{hour:02d}:{minute:02d}"
        if draw(st.booleans()):  # the 12-hour form: 12:05am is 00:05
            when = f"{(hour % 12) or 12}:{minute:02d}{'pm' if hour >= 12 else 'am'}"
        words = [when] if day is None else draw(st.sampled_from([[day, when], [when, day]]))
        tokens += [draw(st.sampled_from(["until", "till"])), *words]
        expected = TakeRequest(level, until=WallTime(hour, minute, day))
    body = draw(SPACES).join(tokens)
    left, right = draw(st.sampled_from([("", ""), ('"', '"'), ("\u201c", "\u201d")]))
    return left + body + right + draw(
        st.sampled_from(["", "\n--\nBob", " Sent from my iPhone"])
    ), expected


@settings(max_examples=300, deadline=None)
@given(rendered_takes())
def test_round_trip_of_rendered_takes(rendered):
    body, expected = rendered
    command = parsed(body)
    assert (command.verb, command.take) == (TAKE, expected)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["ACK", "A", "ACKNOWLEDGE", "ACKED"]),
    st.sampled_from([" ", "  ", "-", " - ", "\n", ": "]),
    st.lists(st.booleans(), min_size=10, max_size=10),
    st.sampled_from([("", ""), ('"', '"'), ("\u201c", "\u201d"), ("*", "*")]),
    st.sampled_from(["", ".", "!", "\n--\nAlice", " Sent from my iPhone"]),
)
def test_round_trip_of_ack_all(verb, glue, flips, wrap, tail):
    body = recase_with(verb + glue + "all", flips)
    command = parsed(wrap[0] + body + wrap[1] + tail)
    assert (command.verb, command.all_cases, command.case_number) == (ACK, True, None)


def recase_with(word: str, flips: list[bool]) -> str:
    return "".join(
        c.swapcase() if f else c for c, f in zip(word, flips + [False] * len(word), strict=False)
    )


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["WHO", "who", "Who", "ONCALL"]),
    st.none() | st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True),
    st.sampled_from(["", "?", " ?", "!"]),
)
def test_round_trip_of_who(verb, team, end):
    filler = {"s", "is", "on", "call", "oncall", "now", "for", "in", "the"}
    body = verb + (f" {team}" if team else "") + end
    command = parsed(body)
    assert command.verb is WHO
    assert command.team == (None if team in filler else team)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + " :.#?-/'\n", max_size=40))
def test_the_new_verbs_never_raise(rest):
    for verb in ("TAKE ", "WHO ", "ESC ", "ACK ALL "):
        result = parse_command(verb + rest)
        assert isinstance(result, Command | CommandError)
        if isinstance(result, CommandError):
            assert is_gsm7(result.message) and septets(result.message) < 160


# --- when a TAKE ends ------------------------------------------------------------------------
def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TORONTO).astimezone(UTC)


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (WallTime(9, 0), "2026-11-24T09:00"),  # later today (it is 03:00)
        (WallTime(2, 0), "2026-11-25T02:00"),  # passed today: tomorrow
        (WallTime(3, 0), "2026-11-25T03:00"),  # now is not ahead
        (WallTime(9, 0, "tomorrow"), "2026-11-25T09:00"),
        (WallTime(9, 0, "today"), "2026-11-24T09:00"),
        (WallTime(9, 0, "tue"), "2026-11-24T09:00"),  # today is Tuesday
        (WallTime(2, 0, "tue"), "2026-12-01T02:00"),  # next Tuesday
        (WallTime(9, 0, "mon"), "2026-11-30T09:00"),
    ],
)
def test_wall_time_after(wall, expected):
    assert wall_time_after(wall, NOW, TORONTO) == local(expected)


def test_a_time_today_that_has_passed_is_refused():
    assert wall_time_after(WallTime(2, 0, "today"), NOW, TORONTO) is None
    with pytest.raises(ValueError, match="passed"):
        requested_end(TakeRequest(until=WallTime(2, 0, "today")), NOW, TORONTO)


def test_wall_times_across_daylight_saving():
    spring = datetime(2027, 3, 14, 6, 0, tzinfo=UTC)  # 01:00 EST, the clocks jump at 02:00
    assert wall_time_after(WallTime(2, 30), spring, TORONTO) == local("2027-03-14T03:00")
    autumn = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT, 01:00-02:00 happens twice
    assert wall_time_after(WallTime(1, 30), autumn, TORONTO) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )  # the first 01:30


def test_requested_end():
    assert requested_end(TakeRequest(duration=2 * H), NOW, TORONTO) == NOW + 2 * H
    assert requested_end(TakeRequest("primary"), NOW, TORONTO) is None  # the shift's end
    assert timedelta(days=14) == MAX_TAKE


@settings(max_examples=300, deadline=None)
@given(
    clocks,
    days,
    st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
)
def test_an_until_time_is_ahead_and_within_eight_days(clock, day, now):
    wall = WallTime(*clock, day)
    end = wall_time_after(wall, now, TORONTO)
    if end is None:
        assert day == "today"
        return
    assert now < end <= now + timedelta(days=8, hours=1)
    shown = end.astimezone(TORONTO)
    # The wall clock says the time asked for, unless that time doesn't exist that day.
    assert (shown.hour, shown.minute) == clock or shown.hour == 3


def test_parse_take_rejects_what_it_cannot_read():
    assert isinstance(parse_take("primary sometime"), str)
    assert parse_take("") == TakeRequest()
