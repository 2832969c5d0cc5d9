"""The engineers' SMS grammar: real-looking replies, and properties of the parser."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from oncall.domain.commands import HELP_TEXT, Command, CommandError, Verb, parse_command
from oncall.domain.eta import find_eta_phrase, parse_eta
from oncall.domain.sms_text import is_gsm7, segments, septets

ACK, STATUS, RESOLVE, SEV, HELP = Verb.ACK, Verb.STATUS, Verb.RESOLVE, Verb.SEV, Verb.HELP
ESC, WAIT = Verb.ESC, Verb.WAIT

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 22:00 on the 23rd in Toronto
TORONTO = ZoneInfo("America/Toronto")


# --- table: replies as engineers type them --------------------------------------------------

REPLIES = [
    # (body, verb, case, text, severity)
    # WAIT: a question for the customer; the clocks pause until they answer
    (
        "WAIT 1042 Which region do you see it in?",
        WAIT,
        1042,
        "Which region do you see it in?",
        None,
    ),
    ("wait #1042: is it every store?", WAIT, 1042, "is it every store?", None),
    (
        "Ask 1042 \u201cCan you send the error id?\u201d",
        WAIT,
        1042,
        "Can you send the error id?",
        None,
    ),
    ("1042 waiting did the restart help", WAIT, 1042, "did the restart help", None),
    ("PENDING case 1042 logs please", WAIT, 1042, "logs please", None),
    ("WAIT Which browser?", WAIT, None, "Which browser?", None),
    ("WAIT 2 servers or 3?", WAIT, None, "2 servers or 3?", None),
    ("ack", ACK, None, "", None),
    ("ACK", ACK, None, "", None),
    ("Ack 1042", ACK, 1042, "", None),
    ("ACK #1042", ACK, 1042, "", None),
    ("ACK # 1042", ACK, 1042, "", None),
    ("ACK#1042", ACK, 1042, "", None),
    ("ACK1042", ACK, 1042, "", None),
    ("ack 1042.", ACK, 1042, "", None),
    ("Ack 1042!", ACK, 1042, "", None),
    ("ACK (1042)", ACK, 1042, "", None),
    ("ACK case 1042", ACK, 1042, "", None),
    ("a 1042", ACK, 1042, "", None),
    ("A", ACK, None, "", None),
    ("Acknowledged 1042", ACK, 1042, "", None),
    ("acknowledge #1042", ACK, 1042, "", None),
    ("ACKed 1042", ACK, 1042, "", None),
    ("ack'd 1042", ACK, 1042, "", None),
    ("ACK 1042 on my way", ACK, 1042, "on my way", None),
    ("1042 ACK", ACK, 1042, "", None),
    ("#1042 ack", ACK, 1042, "", None),
    ("ACK 01042", ACK, 1042, "", None),
    ("ACK #12", ACK, 12, "", None),  # '#' makes it a case number whatever its length
    ("   ACK    1042   ", ACK, 1042, "", None),
    ("ACK\n1042", ACK, 1042, "", None),
    ("\n\nack\n", ACK, None, "", None),
    ('"ACK 1042"', ACK, 1042, "", None),
    ("'ack 1042'", ACK, 1042, "", None),
    ("\u201cACK 1042\u201d", ACK, 1042, "", None),  # curly double quotes
    ("\u2018ack 1042\u2019", ACK, 1042, "", None),  # curly single quotes
    ("\u00abACK 1042\u00bb", ACK, 1042, "", None),
    ('"ACK 1042".', ACK, 1042, "", None),
    ("*ACK* 1042", ACK, 1042, "", None),
    ("ACK 1042\n\nSent from my iPhone", ACK, 1042, "", None),
    ("ACK 1042 Sent from my iPhone", ACK, 1042, "", None),
    ("ack\nSent from my Samsung Galaxy smartphone.", ACK, None, "", None),
    ("ACK 1042\n--\nAlice", ACK, 1042, "", None),
    ("ACK 1042\n-- \nAlice Martin\nSRE, Acme Support", ACK, 1042, "", None),
    ("ACK 1042\n\u2014Alice", ACK, 1042, "", None),  # iOS turns "--" into an em dash
    ("ACK 1042\r\nGet Outlook for iOS", ACK, 1042, "", None),
    ("\uff21\uff23\uff2b\u3000\uff11\uff10\uff14\uff12", ACK, 1042, "", None),  # fullwidth
    ("ACK\u00a01042", ACK, 1042, "", None),  # non-breaking space
    # STATUS
    (
        "  status 1042 DB restored, ETA 30m  ",
        STATUS,
        1042,
        "DB restored, ETA 30m",
        None,
    ),
    ("STATUS 1042 rolling back ETA 03:30\n--\nAlice", STATUS, 1042, "rolling back ETA 03:30", None),
    ("Status: 1042 - DB up", STATUS, 1042, "DB up", None),
    ("STATUS 1042: replica promoted", STATUS, 1042, "replica promoted", None),
    ("STATUS #1042 investigating", STATUS, 1042, "investigating", None),
    ("status investigating, ETA 1h", STATUS, None, "investigating, ETA 1h", None),
    ("STATUS 2 servers rebooted", STATUS, None, "2 servers rebooted", None),
    ("STATUS 45 min until failover done", STATUS, None, "45 min until failover done", None),
    ("STATUS 1042 \u201cDB restored\u201d", STATUS, 1042, "DB restored", None),
    ('STATUS 1042 "DB restored"', STATUS, 1042, "DB restored", None),
    ('"STATUS 1042 "DB restored""', STATUS, 1042, "DB restored", None),
    ("'STATUS 1042 it's back'", STATUS, 1042, "it's back", None),
    ('STATUS 1042 the "primary" is back', STATUS, 1042, 'the "primary" is back', None),
    (
        "STATUS 1042 failover done.\nreplaying queue\nETA 2h",
        STATUS,
        1042,
        "failover done. replaying queue ETA 2h",
        None,
    ),
    ("STATUS 1042 .NET pool recycled", STATUS, 1042, ".NET pool recycled", None),
    ("Update 1042 waiting on AWS", STATUS, 1042, "waiting on AWS", None),
    ("stat 1042 still degraded", STATUS, 1042, "still degraded", None),
    (
        "STATUS 1042 vendor says ETA 2 hours\n\nSent from my iPhone",
        STATUS,
        1042,
        "vendor says ETA 2 hours",
        None,
    ),
    # RESOLVE
    ('"RESOLVE 1042 fixed"', RESOLVE, 1042, "fixed", None),
    ("resolve 1042", RESOLVE, 1042, "", None),
    ("RESOLVE", RESOLVE, None, "", None),
    ("Resolved 1042 - bad deploy rolled back.", RESOLVE, 1042, "bad deploy rolled back.", None),
    ("res #1042 cert renewed", RESOLVE, 1042, "cert renewed", None),
    ("close 1042", RESOLVE, 1042, "", None),
    ("CLOSED 1042.", RESOLVE, 1042, "", None),
    ("RESOLVE 3 disks replaced", RESOLVE, None, "3 disks replaced", None),
    ("RESOLVE 1042 'it's fixed'", RESOLVE, 1042, "it's fixed", None),
    ("resolve fixed by restart", RESOLVE, None, "fixed by restart", None),
    # SEV
    ("sev 1042 3", SEV, 1042, "", 3),
    ("SEV 1042 S3", SEV, 1042, "", 3),
    ("SEV #1042 s4", SEV, 1042, "", 4),
    ("SEV 1042 sev 2", SEV, 1042, "", 2),
    ("severity 1042 3", SEV, 1042, "", 3),
    ("SEV 1042 to S3", SEV, 1042, "", 3),
    ("Sev 3", SEV, None, "", 3),
    ("SEV S4", SEV, None, "", 4),
    ("SEV3", SEV, None, "", 3),
    ("SEV3 1042", SEV, 1042, "", 3),
    ("SEV 3 #1042", SEV, 1042, "", 3),
    ("SEV 1042 3.", SEV, 1042, "", 3),
    ("SEV 1042 3 only one user affected", SEV, 1042, "only one user affected", 3),
    ("1042 sev 1", SEV, 1042, "", 1),
    # HELP
    ("HELP", HELP, None, "", None),
    ("help", HELP, None, "", None),
    ("?", HELP, None, "", None),
    ("??", HELP, None, "", None),
    ("Info", HELP, None, "", None),
    ("commands", HELP, None, "", None),
    ("help me", HELP, None, "", None),
]


@pytest.mark.parametrize(("body", "verb", "case", "text", "severity"), REPLIES)
def test_replies_parse(body, verb, case, text, severity):
    command = parse_command(body)
    assert isinstance(command, Command), command
    assert (command.verb, command.case_number, command.text, command.severity) == (
        verb,
        case,
        text,
        severity,
    )


ERRORS = [
    # (body, the verb the error is about, a word the reply must contain)
    ("", None, "HELP"),
    ("   \n ", None, "HELP"),
    ('""', None, "HELP"),
    ("--\nAlice", None, "HELP"),
    ("hello?", None, "ACK 1042"),
    ("ok", None, "ACK 1042"),
    ("thanks, on it", None, "ACK 1042"),
    ("S 1042", None, "ACK 1042"),
    ("\U0001f44d", None, "HELP"),  # a thumbs-up emoji alone
    ("STATUS", STATUS, "STATUS 1042"),
    ("STATUS 1042", STATUS, "STATUS 1042"),
    ("status #1042 ", STATUS, "STATUS 1042"),
    ('STATUS 1042 ""', STATUS, "STATUS 1042"),
    ("STATUS 1042\n--\nAlice", STATUS, "STATUS 1042"),
    ("SEV", SEV, "1-4"),
    ("SEV 1042", SEV, "1-4"),
    ("SEV 1042 high", SEV, "1-4"),
    ("SEV 1042 5", SEV, "1, 2, 3 or 4"),
    ("SEV 1042 S0", SEV, "1, 2, 3 or 4"),
    ("SEV 1042 12", SEV, "1, 2, 3 or 4"),
    ("SEV 104 3", SEV, "1, 2, 3 or 4"),
    ("ACK 104", ACK, "4+ digits"),  # a mistyped case must not ack "your one open case"
    ("ACK 104 thanks", ACK, "4+ digits"),
    ("RESOLVE 104", RESOLVE, "4+ digits"),
    ("STATUS 104", STATUS, "4+ digits"),
    ("WAIT 1042", WAIT, "WAIT needs the question"),
    ("wait", WAIT, "WAIT needs the question"),
    ("WAIT #1042 ?!", WAIT, "WAIT needs the question"),
    ("WAIT 104", WAIT, "4+ digits"),
    ("ACK 12345678901234567890", ACK, "not a case number"),
    ("ACK " + "9" * 3000, ACK, "not a case number"),  # never int() on a huge string
    ("STATUS " + "7" * 5000 + " rebooted", STATUS, "not a case number"),
]


@pytest.mark.parametrize(("body", "verb", "needle"), ERRORS)
def test_errors_explain_the_syntax(body, verb, needle):
    error = parse_command(body)
    assert isinstance(error, CommandError), error
    assert error.verb == verb
    assert needle in error.message
    assert is_gsm7(error.message)
    assert septets(error.message) < 160


def test_status_carries_the_eta_phrase():
    command = parse_command("STATUS 1042 DB restored, replaying, ETA 30m. Will update.")
    assert isinstance(command, Command)
    assert command.eta_text == "ETA 30m"
    assert parse_eta(command.text, NOW, TORONTO) == NOW + timedelta(minutes=30)
    no_eta = parse_command("STATUS 1042 still investigating, ETA unknown")
    assert isinstance(no_eta, Command)
    assert no_eta.eta_text is None


def test_only_status_has_an_eta():
    # An ETA in a note or after ACK is kept as text, and never read as the case's ETA.
    for body, verb, text in (
        ("RESOLVE 1042 was ETA 2h, done early", RESOLVE, "was ETA 2h, done early"),
        ("ACK 1042 ETA 10m to laptop", ACK, "ETA 10m to laptop"),
        ("SEV 1042 3 ETA 1h not needed", SEV, "ETA 1h not needed"),
    ):
        command = parse_command(body)
        assert isinstance(command, Command), body
        assert (command.verb, command.case_number, command.text) == (verb, 1042, text)
        assert command.eta_text is None


def test_help_text_fits_one_gsm7_segment():
    assert is_gsm7(HELP_TEXT)
    assert segments(HELP_TEXT) == 1
    for example in ("ACK 1042", "STATUS 1042", "RESOLVE 1042", "SEV 1042 3", "HELP"):
        assert example in HELP_TEXT
    for example in ("ACK 1042", "STATUS 1042 DB up ETA 2h", "RESOLVE 1042 note", "SEV 1042 3"):
        assert isinstance(parse_command(example), Command)


def test_commands_are_frozen():
    command = parse_command("ACK 1042")
    with pytest.raises(AttributeError):
        command.case_number = 1043  # type: ignore[misc]


# --- table: ETAs -----------------------------------------------------------------------------

ETAS = [
    # (text, expected local time in Toronto or a delta from NOW); NOW is 22:00 on Nov 23 there
    ("ETA 2h", timedelta(hours=2)),
    ("ETA 45m", timedelta(minutes=45)),
    ("ETA 1h30m", timedelta(hours=1, minutes=30)),
    ("ETA 1h 30m", timedelta(hours=1, minutes=30)),
    ("ETA 1h30", timedelta(hours=1, minutes=30)),
    ("ETA 90 min", timedelta(minutes=90)),
    ("ETA 90 mins", timedelta(minutes=90)),
    ("ETA 2 hours", timedelta(hours=2)),
    ("ETA 2hrs", timedelta(hours=2)),
    ("ETA 1 hour 15 minutes", timedelta(hours=1, minutes=15)),
    ("ETA 1.5h", timedelta(minutes=90)),
    ("ETA: ~2h", timedelta(hours=2)),
    ("eta in 20 minutes", timedelta(minutes=20)),
    ("ETA about 2 hours", timedelta(hours=2)),
    ("ETA 2-3h", timedelta(hours=3)),
    ("ETA 2 to 3 hours", timedelta(hours=3)),
    ("ETA half an hour", timedelta(minutes=30)),
    ("ETA an hour", timedelta(hours=1)),
    ("ETA 1d", timedelta(days=1)),
    ("ETA 03:30", datetime(2026, 11, 24, 3, 30, tzinfo=TORONTO)),
    ("ETA 3:30am", datetime(2026, 11, 24, 3, 30, tzinfo=TORONTO)),
    ("ETA 3.30 a.m.", datetime(2026, 11, 24, 3, 30, tzinfo=TORONTO)),
    ("ETA 23:15", datetime(2026, 11, 23, 23, 15, tzinfo=TORONTO)),
    ("ETA 21:00", datetime(2026, 11, 24, 21, 0, tzinfo=TORONTO)),  # already past: tomorrow
    ("ETA 22:00", datetime(2026, 11, 24, 22, 0, tzinfo=TORONTO)),  # exactly now: tomorrow
    ("ETA 11pm", datetime(2026, 11, 23, 23, 0, tzinfo=TORONTO)),
    ("ETA 12am", datetime(2026, 11, 24, 0, 0, tzinfo=TORONTO)),
    ("ETA 12pm", datetime(2026, 11, 24, 12, 0, tzinfo=TORONTO)),
    ("ETA noon", datetime(2026, 11, 24, 12, 0, tzinfo=TORONTO)),
    ("ETA midnight", datetime(2026, 11, 24, 0, 0, tzinfo=TORONTO)),
    ("ETA 15:00 tomorrow", datetime(2026, 11, 24, 15, 0, tzinfo=TORONTO)),
    ("ETA tomorrow 09:00", datetime(2026, 11, 24, 9, 0, tzinfo=TORONTO)),
    ("ETA tmrw at 9am", datetime(2026, 11, 24, 9, 0, tzinfo=TORONTO)),
    ("ETA 23:30 tomorrow", datetime(2026, 11, 24, 23, 30, tzinfo=TORONTO)),
    ("ETA 03:30 UTC", datetime(2026, 11, 24, 3, 30, tzinfo=UTC)),
    ("ETA 02:00Z", datetime(2026, 11, 25, 2, 0, tzinfo=UTC)),
    ("DB restored, ETA 30m. Will update", timedelta(minutes=30)),
    ("rolling back ETA 03:30", datetime(2026, 11, 24, 3, 30, tzinfo=TORONTO)),
    ("ETA soon, then ETA 1h", timedelta(hours=1)),  # the first one that parses
]


@pytest.mark.parametrize(("text", "expected"), ETAS)
def test_eta_table(text, expected):
    result = parse_eta(text, NOW, TORONTO)
    assert result is not None, text
    assert result.tzinfo is not None
    if isinstance(expected, timedelta):
        assert result == NOW + expected
    else:
        assert result == expected


@pytest.mark.parametrize(
    "text",
    [
        "no eta here",
        "ETA soon",
        "ETA unknown",
        "ETA TBD",
        "ETA 25:00",
        "ETA 13pm",
        "ETA 3",
        "ETA 3 people",
        "ETA 3 months",
        "ETA 12:61",
        "ETA 9999h",
        "ETA 999 days",
        "beta 2h",
        "zeta 03:30",
        "ETA tomorrow",
        "",
    ],
)
def test_eta_absent_or_unparseable(text):
    assert parse_eta(text, NOW, TORONTO) is None
    assert find_eta_phrase(text) is None


def test_find_eta_phrase_returns_the_phrase_as_written():
    assert find_eta_phrase("DB restored, ETA 30m. Will update") == "ETA 30m"
    assert find_eta_phrase("eta: ~1.5 hours, maybe less") == "eta: ~1.5 hours"
    assert find_eta_phrase("ETA tomorrow 09:00 at the latest") == "ETA tomorrow 09:00"
    assert find_eta_phrase("ETA 15:00 tomorrow.") == "ETA 15:00 tomorrow"


def test_parse_eta_needs_an_aware_now():
    with pytest.raises(ValueError, match="aware"):
        parse_eta("ETA 2h", datetime(2026, 1, 1), TORONTO)


def test_eta_in_the_repeated_autumn_hour():
    # 2026-11-01 in Toronto: 01:00-02:00 happens twice (EDT, then EST).
    first_pass = datetime(2026, 11, 1, 5, 10, tzinfo=UTC)  # 01:10 EDT
    second_pass = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST
    assert parse_eta("ETA 01:30", first_pass, TORONTO) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert parse_eta("ETA 01:30", second_pass, TORONTO) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_eta_in_the_skipped_spring_hour():
    # 2026-03-08 in Toronto: 02:00 EST jumps to 03:00 EDT; 02:30 is read with the EST offset.
    now = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST
    assert parse_eta("ETA 02:30", now, TORONTO) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


# --- properties ------------------------------------------------------------------------------


def assert_well_formed(result: Command | CommandError) -> None:
    """What any parse result promises, whatever the body was."""
    assert isinstance(result, Command | CommandError)
    if isinstance(result, CommandError):
        assert is_gsm7(result.message)
        assert septets(result.message) < 160
        return
    assert result.case_number is None or 0 <= result.case_number < 10**9  # at most 9 digits
    assert (result.severity is not None) == (result.verb is SEV)
    assert result.severity is None or 1 <= result.severity <= 4
    # Texts come back stripped, with whitespace collapsed, and never punctuation alone.
    assert result.text == result.text.strip()
    assert not any(ch.isspace() and ch != " " for ch in result.text)
    assert "  " not in result.text
    assert result.text == "" or any(ch.isalnum() for ch in result.text)
    if result.verb is HELP:
        assert (result.case_number, result.text) == (None, "")
    if result.eta_text is not None:
        assert result.verb is STATUS and result.eta_text in result.text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_never_raises_on_any_text(body):
    assert_well_formed(parse_command(body))


COMMAND_ALPHABET = "ACKSTUREVHLPINFO#?\"'\u201c\u201d0123456789 \n.:-"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=COMMAND_ALPHABET, max_size=40))
def test_parser_never_raises_on_command_like_text(body):
    assert_well_formed(parse_command(body))


SPELLINGS = {
    ACK: ["ACK", "A", "ACKNOWLEDGE", "ACKNOWLEDGED", "ACKED"],
    STATUS: ["STATUS", "STAT", "UPDATE"],
    RESOLVE: ["RESOLVE", "RES", "RESOLVED", "CLOSE", "CLOSED"],
    SEV: ["SEV", "SEVERITY"],
    HELP: ["HELP", "INFO", "?"],
    ESC: ["ESC", "ESCALATE", "ESCALATED"],
    WAIT: ["WAIT", "WAITING", "ASK", "PENDING"],
}
LEVEL_FORMS = ["{}", "S{}", "s{}", "sev {}", "SEV{}", "severity {}", "S {}"]
WRAPPERS = [("", ""), ('"', '"'), ("\u201c", "\u201d"), ("'", "'"), ("\u2018", "\u2019")]
SIGNATURES = [
    "",
    "\n--\nAlice",
    "\n-- \nBob Smith\nSRE",
    "\n\nSent from my iPhone",
    "\nSent from my Samsung Galaxy smartphone.",
    "\n\u2014 Alice",
    "\n\nGet Outlook for Android",
]
SPACES = st.sampled_from([" ", "  ", "\n", " \n ", "\t", "   "])
first_word = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8).filter(
    lambda w: w.lower() not in ("case", "cs", "sent", "get")
)
later_word = st.text(
    alphabet=string.ascii_letters + string.digits + ",.!()%/&+", min_size=1, max_size=8
).filter(lambda w: w.lower() not in ("sent", "get"))


def recase(word: str, flips: list[bool]) -> str:
    return "".join(
        ch.swapcase() if index < len(flips) and flips[index] else ch
        for index, ch in enumerate(word)
    )


@st.composite
def rendered_commands(draw):
    # The verbs that act on one case; TAKE and WHO: test_engineer_commands.py.
    verb = draw(st.sampled_from(list(SPELLINGS)))
    case = None if verb is HELP else draw(st.none() | st.integers(1000, 999_999_999))
    words = []
    if verb in (STATUS, WAIT):  # both need a text: the status, the question
        words = [draw(first_word), *draw(st.lists(later_word, max_size=6))]
    elif verb in (RESOLVE, ACK, SEV, ESC) and draw(st.booleans()):
        words = [draw(first_word), *draw(st.lists(later_word, max_size=4))]
    # A bare "ACK all ..." is ACK ALL, a command of its own: test_engineer_commands.py.
    assume(not (verb is ACK and case is None and words and words[0].lower() == "all"))
    level = draw(st.integers(1, 4)) if verb is SEV else None

    spelling = draw(st.sampled_from(SPELLINGS[verb]))
    spelling = recase(spelling, draw(st.lists(st.booleans(), max_size=12)))
    tokens = [spelling]
    if case is not None:
        hash_form = draw(st.sampled_from(["", "#", "# ", "case "]))
        tokens.append(f"{hash_form}{case}")
    if level is not None:
        tokens.append(draw(st.sampled_from(LEVEL_FORMS)).format(level))
    if case is not None and draw(st.booleans()):
        tokens[0], tokens[1] = tokens[1], tokens[0]  # "1042 ACK"
    tokens.extend(words)

    body = ""
    for index, token in enumerate(tokens):
        body += (draw(SPACES) if index else "") + token
    if not words and verb is not HELP and draw(st.booleans()):
        body += draw(st.sampled_from([".", "!", " ."]))
    left, right = draw(st.sampled_from(WRAPPERS))
    body = draw(st.sampled_from(["", " ", "\n"])) + left + body + right
    body += draw(st.sampled_from(SIGNATURES)) + draw(st.sampled_from(["", " ", "\n"]))
    expected_text = "" if verb is HELP else " ".join(words)
    return body, verb, case, expected_text, level


@settings(max_examples=300, deadline=None)
@given(rendered_commands())
def test_round_trip_of_rendered_commands(rendered):
    body, verb, case, text, level = rendered
    command = parse_command(body)
    assert isinstance(command, Command), (body, command)
    assert command.verb is verb
    assert command.case_number == case
    assert command.text == text
    assert command.severity == level


@settings(max_examples=300, deadline=None)
@given(
    hours=st.integers(0, 99),
    minutes=st.integers(0, 59),
    form=st.sampled_from(
        [
            "ETA {h}h{m}m",
            "ETA {h}h {m}m",
            "eta {h}h{m:02d}",
            "ETA {h} hours {m} minutes",
            "ETA: {h}h{m}m",
            "ETA ~{h}h {m}min",
            "ETA {total} min",
        ]
    ),
    before=st.sampled_from(["", "DB restored, ", "failover running.\n", "STATUS "]),
    after=st.sampled_from(["", ".", " then verify", ", will update"]),
    now=st.datetimes(datetime(2001, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)),
)
def test_duration_eta_is_now_plus_duration(hours, minutes, form, before, after, now):
    total = hours * 60 + minutes
    assume(total <= 999 or "{total}" not in form)
    text = before + form.format(h=hours, m=minutes, total=total) + after
    assert parse_eta(text, now, TORONTO) == now + timedelta(hours=hours, minutes=minutes)


FIXED_ZONES = ["UTC", "Asia/Kolkata", "Asia/Tokyo", "Asia/Kathmandu", "Africa/Lagos"]
DST_ZONES = ["America/Toronto", "Europe/London", "Australia/Lord_Howe", "America/Santiago"]
nows = st.datetimes(datetime(2001, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    now=nows,
    zone_name=st.sampled_from(FIXED_ZONES + DST_ZONES),
    twelve_hour=st.booleans(),
)
def test_clock_eta_is_the_next_occurrence_within_a_day(hour, minute, now, zone_name, twelve_hour):
    zone = ZoneInfo(zone_name)
    if twelve_hour:
        phrase = f"ETA {(hour % 12) or 12}:{minute:02d}{'pm' if hour >= 12 else 'am'}"
    else:
        phrase = f"ETA {hour:02d}:{minute:02d}"
    result = parse_eta(f"back soon, {phrase}", now, zone)
    assert result is not None
    slack = timedelta(hours=1) if zone_name in DST_ZONES else timedelta(0)
    assert now < result <= now + timedelta(hours=24) + slack
    if zone_name in FIXED_ZONES:
        local = result.astimezone(zone)
        assert (local.hour, local.minute) == (hour, minute)


@settings(max_examples=300, deadline=None)
@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    now=nows,
    zone_name=st.sampled_from(FIXED_ZONES + DST_ZONES),
    form=st.sampled_from(["ETA {t} tomorrow", "ETA tomorrow {t}", "ETA tmrw at {t}"]),
)
def test_tomorrow_eta_is_within_two_days(hour, minute, now, zone_name, form):
    zone = ZoneInfo(zone_name)
    result = parse_eta(form.format(t=f"{hour:02d}:{minute:02d}"), now, zone)
    assert result is not None
    slack = timedelta(hours=1) if zone_name in DST_ZONES else timedelta(0)
    assert now < result <= now + timedelta(hours=48) + slack
    if zone_name in FIXED_ZONES:
        local = result.astimezone(zone)
        assert local.date() == now.astimezone(zone).date() + timedelta(days=1)
        assert (local.hour, local.minute) == (hour, minute)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), now=nows, zone_name=st.sampled_from(FIXED_ZONES + DST_ZONES))
def test_parse_eta_never_raises_and_is_aware(text, now, zone_name):
    result = parse_eta(text, now, ZoneInfo(zone_name))
    assert (result is None) == (find_eta_phrase(text) is None)
    if result is not None:
        assert result.utcoffset() == timedelta(0)  # an aware UTC instant
        assert now <= result <= now + timedelta(days=30)  # never in the past, at most 30 days
