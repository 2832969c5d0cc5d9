"""The engineers' SMS reply grammar, as a pure parser.

``parse_command(body)`` turns the body of an incoming SMS into a :class:`Command` or a
:class:`CommandError` (whose message is a short GSM-7 reply explaining the syntax). It never
raises. Who sent it, which case a bare command means, and whether to reply at all are the
caller's business.

Grammar (verbs and keywords are case-insensitive)::

    ACK     [case]
    STATUS  [case] <text>          an "ETA ..." in the text: see oncall.domain.eta
    RESOLVE [case] [note]
    SEV     [case] <level 1-4> [reason]    also SEV <level> [case] [reason]
    HELP
    ACK ALL                        every open case the sender was paged for
    ESC     [case] [note]          page the next escalation step now (ESCALATE)
    TAKE    [level] [until <time> | for <duration>]   see oncall.domain.take
    WHO     [team]                 who is on call now
    WAIT    [case] <question>      ask the customer; the status clocks pause until they answer

Accepted spellings of the verbs:

* ACK: ``ACK``, ``A``, ``ACKD``, ``ACK'D``, ``ACKED``, ``ACKNOWLEDGE``, ``ACKNOWLEDGED``
* STATUS: ``STATUS``, ``STAT``, ``ST``, ``UPDATE``, ``UPD``
* RESOLVE: ``RESOLVE``, ``RES``, ``RESOLVED``, ``CLOSE``, ``CLOSED``
* SEV: ``SEV``, ``SEVERITY``; the level may be written ``3``, ``S3``, ``SEV3``, ``SEV 3``,
  ``SEVERITY 3``, ``LEVEL 3``, ``to S3`` (``SEV 1042 S3``, ``SEV #1042 3``, ``SEV3 1042``).
  Whatever follows the level and the case is the engineer's reason, kept as the evidence for a
  misuse fee: ``SEV 3 1002 customer asked about a password reset`` is level 3, case 1002,
  text "customer asked about a password reset". The case-number rule below applies to the
  reason's first word as to a status text's: ``SEV 3 12 users affected`` has no case number,
  ``SEV 3 1500 users affected`` reads as case 1500 (write the case first to be safe)
* HELP: ``HELP``, ``INFO``, ``COMMANDS``, ``?``
* ACK ALL: ``ACK ALL``, ``ACK-ALL``, ``ACKALL``, ``A ALL`` (any ACK spelling, then ``ALL``)
* ESC: ``ESC``, ``ESCALATE``, ``ESCALATED``; the case and a note as for ACK
* TAKE: ``TAKE``, ``TAKEOVER``; the level and the end: :mod:`oncall.domain.take`
* WHO: ``WHO``, ``WHOS``, ``ONCALL`` (``who's on call?``, ``WHO support``)
* WAIT: ``WAIT``, ``WAITING``, ``ASK``, ``PENDING``; the case as for STATUS, then the question
  for the customer (required: the customer must know what to answer). The case-number rule
  below applies to the question's first word as to a status text's.

The case number rule: the first word after the verb is the case number when it is written with
``#`` (``#1042``, ``# 1042``) or after the word ``case`` (``case 1042``), whatever its length, or
when it is a bare number of at least 4 digits (case numbers start at 1000). A bare number of
1-3 digits is not a case: in ``STATUS 2 servers rebooted`` it is the start of the text. Since such
a number on its own is almost always a mistyped case, ``ACK 104``, ``RESOLVE 104`` and
``STATUS 104`` are errors rather than commands on "your one open case"; so is any ``ACK``
whose first word is a bare short number. A case number longer than 9 digits is an error. The
case may also come before the verb (``1042 ACK``). The parser does not know which cases exist:
``STATUS 1500 users affected`` reads as case 1500, and the caller's "no such case" answers it.

Tolerated noise:

* extra spaces and newlines anywhere (the status text and notes come back with whitespace
  collapsed to single spaces);
* quotes around the whole body or around the text: straight, curly (left/right single and
  double), low-9 and guillemets;
* punctuation after the verb or the case (``ack 1042.``, ``Status: 1042 - DB up``,
  ``ACK #1042!``) and symbols before the verb (``*ACK*``, ``> ack``);
* a signature: from a later line that starts with ``--`` (or an em/en dash, which is what phones
  make of ``--``) or with ``Sent from my ...``/``Sent with/via ...``/``Get Outlook for ...``,
  everything is dropped; ``Sent from my iPhone`` (and other named devices) is also dropped from
  the end of a single-line body;
* fullwidth and other compatibility forms of the verb, and digits of any script.

The ETA in a status text is read by :mod:`oncall.domain.eta`; a STATUS carries the phrase as
written (:attr:`Command.eta_text`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from oncall.domain.eta import find_eta_phrase
from oncall.domain.take import TakeRequest, parse_take

__all__ = [
    "HELP_TEXT",
    "Command",
    "CommandError",
    "Verb",
    "parse_command",
]


class Verb(StrEnum):
    ACK = "ACK"
    STATUS = "STATUS"
    RESOLVE = "RESOLVE"
    SEV = "SEV"
    HELP = "HELP"
    ESC = "ESC"
    TAKE = "TAKE"
    WHO = "WHO"
    WAIT = "WAIT"


@dataclass(frozen=True, slots=True)
class Command:
    verb: Verb
    case_number: int | None = None
    #: The status text, WAIT question, resolve note or SEV reason (stripped, whitespace
    #: collapsed, may be "").
    #: For ACK, whatever followed the command. The service keeps every one on the timeline.
    text: str = ""
    #: For SEV: the new level, 1-4.
    severity: int | None = None
    #: For STATUS: the ETA phrase as written (``"ETA 30m"``), if the text has one that parses.
    eta_text: str | None = None
    #: For ACK: ``ACK ALL``, every open case the sender was paged for.
    all_cases: bool = False
    #: For TAKE: the level and until when.
    take: TakeRequest | None = None
    #: For WHO: the team asked about (None: the sender's own).
    team: str | None = None


@dataclass(frozen=True, slots=True)
class CommandError:
    #: A reply for the sender: GSM-7, under 160 characters, says what the right syntax is.
    message: str
    #: The verb, when it was recognised but its arguments were not.
    verb: Verb | None = None


#: The reply to HELP: every command, in one GSM-7 segment.
HELP_TEXT = (
    "Commands: ACK 1042 | STATUS 1042 <text> ETA 2h | RESOLVE 1042 | SEV 1042 3 | ACK ALL"
    " | ESC 1042 | WAIT 1042 Why? | TAKE primary for 2h | WHO | HELP"
)

_EMPTY_MESSAGE = "Empty message. Reply HELP for the commands, e.g. ACK 1042."
_UNKNOWN_MESSAGE = (
    "Sorry, not a command. Try ACK 1042, STATUS 1042 <text> ETA 2h, RESOLVE 1042 [note],"
    " SEV 1042 3 or HELP."
)
_STATUS_NEEDS_TEXT = "STATUS needs a text for the customer, e.g. STATUS 1042 DB restored, ETA 30m"
_WAIT_NEEDS_QUESTION = (
    "WAIT needs the question for the customer, e.g. WAIT 1042 Which region do you see it in?"
)
_SEV_NEEDS_LEVEL = "SEV needs a level 1-4, e.g. SEV 1042 3"
_SEV_OUT_OF_RANGE = "Severity must be 1, 2, 3 or 4, e.g. SEV 1042 3"
_USAGE = {
    Verb.ACK: "ACK 1042",
    Verb.STATUS: "STATUS 1042 DB restored, ETA 30m",
    Verb.RESOLVE: "RESOLVE 1042 fixed",
    Verb.SEV: "SEV 1042 3",
    Verb.HELP: "HELP",
    Verb.ESC: "ESC 1042",
    Verb.TAKE: "TAKE primary for 12h",
    Verb.WHO: "WHO",
    Verb.WAIT: "WAIT 1042 Which region?",
}

_SYNONYMS: dict[str, Verb] = {
    **dict.fromkeys(
        ("ACK", "A", "ACKD", "ACK'D", "ACKED", "ACKNOWLEDGE", "ACKNOWLEDGED"), Verb.ACK
    ),
    **dict.fromkeys(("STATUS", "STAT", "ST", "UPDATE", "UPD"), Verb.STATUS),
    **dict.fromkeys(("RESOLVE", "RES", "RESOLVED", "CLOSE", "CLOSED"), Verb.RESOLVE),
    **dict.fromkeys(("SEV", "SEVERITY"), Verb.SEV),
    **dict.fromkeys(("HELP", "INFO", "COMMANDS"), Verb.HELP),
    **dict.fromkeys(("ESC", "ESCALATE", "ESCALATED"), Verb.ESC),
    **dict.fromkeys(("TAKE", "TAKEOVER"), Verb.TAKE),
    **dict.fromkeys(("WHO", "WHOS", "ONCALL"), Verb.WHO),
    **dict.fromkeys(("WAIT", "WAITING", "ASK", "PENDING"), Verb.WAIT),
}
# Verbs glued to their first argument: (verb, what follows it).
_GLUED: dict[str, tuple[Verb, str]] = {"ACKALL": (Verb.ACK, "ALL")}

_MAX_CASE_DIGITS = 9
_MIN_BARE_CASE_DIGITS = 4

_DOUBLE_QUOTES = '"“”„‟«»＂〝〞'
_SINGLE_QUOTES = "'‘’‚‛‹›`´＇"
_QUOTES = _DOUBLE_QUOTES + _SINGLE_QUOTES
# Skipped after the verb when looking for a case number or a level.
_CASE_LEAD_RE = re.compile(rf"^[\s:;,.\-–—=>)\]([{{<*|/\\{_QUOTES}]+")
# Stripped from the start of a status text or note.
_TEXT_LEAD_RE = re.compile(r"^(?:\s|[:;,=\-–—)\]}]|\.(?!\w))+")

_SIGNATURE_LINE_RE = re.compile(
    r"\s*(?:--|—|–|__"
    r"|sent (?:from|with|via|using) (?:my\b|yahoo|outlook|gmail|proton|samsung|blackberry)"
    r"|get outlook for\b)",
    re.IGNORECASE,
)
_INLINE_SIGNATURE_RE = re.compile(
    r"(?<!\s)\s+sent from my (?:iphone|ipad|android(?: phone| device)?|samsung[\w ]{0,30}"
    r"|galaxy[\w ]{0,30}|pixel[\w ]{0,10}|blackberry|mobile(?: device)?|smartphone)\s*[.!]?\s*$",
    re.IGNORECASE,
)
_LEADING_JUNK_RE = re.compile(r"^[^\w?#]+")
_VERB_RE = re.compile(r"(?:[^\W\d_]+(?:['’][dD](?![^\W\d_]))?|\?+)")
_CASE_RE = re.compile(
    r"(?P<word>(?:case|cs)(?![^\W\d_])\s*(?:no\.?|nr\.?|number)?\s*[:#]?\s*)?"
    r"(?P<hash>#\s*)?(?P<num>\d+)(?!\w|:\d)",
    re.IGNORECASE,
)
_BARE_NUMBER_RE = re.compile(r"\d+(?!\w|:\d)")
_LEVEL_RE = re.compile(
    r"(?:to\s+)?(?:(?:sev(?:erity)?|s|level|lvl)\s*[-:=#]?\s*)?(?P<num>\d+)(?!\w|:\d)",
    re.IGNORECASE,
)
_WS_RE = re.compile(r"\s+")


# --- parse_command -------------------------------------------------------------------------


def parse_command(body: str) -> Command | CommandError:
    """Parse one SMS body. Never raises; see the module docstring for the grammar."""
    text = _unwrap_body(_strip_signature(body))
    if not text:
        return CommandError(_EMPTY_MESSAGE)

    verb, rest = _split_verb(text)
    if verb is None:
        # "1042 ACK": the case number first.
        lead = _CASE_RE.match(text)
        if lead and _is_case(lead):
            verb, after = _split_verb(_LEADING_JUNK_RE.sub("", text[lead.end() :]))
            if verb is not None:
                rest = f"{lead.group(0)} {after}"
    if verb is None:
        return CommandError(_UNKNOWN_MESSAGE)
    if verb is Verb.HELP:
        return Command(Verb.HELP)
    if verb is Verb.TAKE:
        return _parse_take(rest)
    if verb is Verb.WHO:
        return _parse_who(rest)
    if verb is Verb.ACK and (after_all := _after_all(rest)) is not None:
        return Command(Verb.ACK, text=_clean_text(after_all), all_cases=True)

    case = _take_case(rest)
    if isinstance(case, CommandError):
        return CommandError(case.message, verb)
    case_number, rest = case

    if verb is Verb.SEV:
        return _parse_sev(case_number, rest)

    if case_number is None:
        stripped = _CASE_LEAD_RE.sub("", rest)
        bare = _BARE_NUMBER_RE.match(stripped)
        if bare and (verb in (Verb.ACK, Verb.ESC) or not _clean_text(stripped[bare.end() :])):
            return _not_a_case(bare.group(0), verb)

    note = _clean_text(rest)
    if verb is Verb.STATUS:
        if not note:
            return CommandError(_STATUS_NEEDS_TEXT, verb)
        return Command(Verb.STATUS, case_number, note, eta_text=find_eta_phrase(note))
    if verb is Verb.WAIT and not note:
        return CommandError(_WAIT_NEEDS_QUESTION, verb)
    return Command(verb, case_number, note)


def _strip_signature(body: str) -> str:
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\x85", "\n")
    lines = text.split("\n")
    first_content = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    for index in range(first_content + 1, len(lines)):
        if _SIGNATURE_LINE_RE.match(lines[index]):
            lines = lines[:index]
            break
    # From here on, any run of whitespace is one space: the grammar is line-blind, and no
    # pattern below has to consider how to split a long run of blanks.
    text = _WS_RE.sub(" ", "\n".join(lines)).strip()
    return _INLINE_SIGNATURE_RE.sub("", text)


def _unwrap_body(text: str) -> str:
    """Drop quotes around the whole body and symbols before the verb."""
    text = text.strip()
    if text[:1] in _QUOTES:
        text = text[1:]
        text = re.sub(f"[{re.escape(_QUOTES)}][.!]*$", "", text.rstrip()).strip()
    return _LEADING_JUNK_RE.sub("", text)


def _split_verb(text: str) -> tuple[Verb | None, str]:
    match = _VERB_RE.match(text)
    if match is None:
        return None, text
    word = unicodedata.normalize("NFKC", match.group(0)).upper().replace("’", "'")
    if word.startswith("?"):
        return Verb.HELP, text[match.end() :]
    if word in _GLUED:
        verb, argument = _GLUED[word]
        return verb, f"{argument} {text[match.end() :]}"
    return _SYNONYMS.get(word), text[match.end() :]


def _is_case(match: re.Match[str]) -> bool:
    explicit = bool(match.group("word") or match.group("hash"))
    return explicit or len(match.group("num")) >= _MIN_BARE_CASE_DIGITS


def _take_case(rest: str) -> tuple[int | None, str] | CommandError:
    """The case number at the start of ``rest`` (if any) and what follows it."""
    stripped = _CASE_LEAD_RE.sub("", rest)
    match = _CASE_RE.match(stripped)
    if match is None or not _is_case(match):
        return None, rest
    digits = match.group("num")
    if len(digits) > _MAX_CASE_DIGITS:
        return CommandError("That's not a case number. Use the number from the page, e.g. 1042.")
    return int(digits), stripped[match.end() :]


def _not_a_case(digits: str, verb: Verb) -> CommandError:
    shown = str(int(digits)) if len(digits) <= _MAX_CASE_DIGITS else "That"
    return CommandError(
        f"{shown} is not a case number: they have 4+ digits, e.g. {_USAGE[verb]}", verb
    )


def _parse_sev(case_number: int | None, rest: str) -> Command | CommandError:
    stripped = _CASE_LEAD_RE.sub("", rest)
    match = _LEVEL_RE.match(stripped)
    if match is None:
        return CommandError(_SEV_NEEDS_LEVEL, Verb.SEV)
    digits = match.group("num")
    if len(digits) > 1 or not 1 <= int(digits) <= 4:
        return CommandError(_SEV_OUT_OF_RANGE, Verb.SEV)
    rest = stripped[match.end() :]
    if case_number is None:  # "SEV 3 1042": the level first
        case = _take_case(rest)
        if isinstance(case, CommandError):
            return CommandError(case.message, Verb.SEV)
        case_number, rest = case
    return Command(Verb.SEV, case_number, _clean_text(rest), severity=int(digits))


def _clean_text(text: str) -> str:
    text = _unwrap_quotes(_TEXT_LEAD_RE.sub("", _WS_RE.sub(" ", text)).strip()).strip()
    # Punctuation or emoji alone ("ack 1042!", "STATUS 1042 ...") is not a text.
    return text if any(ch.isalnum() for ch in text) else ""


def _unwrap_quotes(text: str) -> str:
    """``"DB restored"`` -> ``DB restored``, when the quotes wrap the whole text."""
    if len(text) < 2:
        return text
    first, last, inner = text[0], text[-1], text[1:-1]
    if first in _DOUBLE_QUOTES and last in _DOUBLE_QUOTES:
        if not any(ch in _DOUBLE_QUOTES for ch in inner):
            return inner
    elif first in _SINGLE_QUOTES and last in _SINGLE_QUOTES:
        # Apostrophes between letters ("it's") are not quotes.
        padded = f" {inner} "
        if not any(
            ch in _SINGLE_QUOTES and not (padded[i - 1].isalpha() and padded[i + 1].isalpha())
            for i, ch in enumerate(padded)
        ):
            return inner
    return text


# --- the verbs that act beyond one case: ACK ALL, TAKE, WHO ----------------------------------

_ALL_RE = re.compile(rf"^[\s:;,.\-–—=>*{_QUOTES}]*all(?![^\W\d_])", re.IGNORECASE)
_WHO_FILLER = frozenset({"s", "is", "on", "call", "oncall", "on-call", "now", "for", "in", "the"})
_TEAM_RE = re.compile(r"[a-z0-9][\w.-]*", re.IGNORECASE)


def _after_all(rest: str) -> str | None:
    """What follows ``ALL`` when ``rest`` starts with it (``ACK ALL``), else None."""
    rest = unicodedata.normalize("NFKC", rest)
    match = _ALL_RE.match(rest)
    return rest[match.end() :] if match else None


def _parse_take(rest: str) -> Command | CommandError:
    request = parse_take(_unwrap_quotes(unicodedata.normalize("NFKC", rest).lstrip(" \t:;,-=>")))
    if isinstance(request, str):
        return CommandError(request, Verb.TAKE)
    return Command(Verb.TAKE, take=request)


def _parse_who(rest: str) -> Command | CommandError:
    rest = unicodedata.normalize("NFKC", rest).lower()
    words = [w for w in re.split(r"[\s?!.,:;'’]+", rest) if w and w not in _WHO_FILLER]
    if not words:
        return Command(Verb.WHO)
    if len(words) > 1 or not _TEAM_RE.fullmatch(words[0]):
        return CommandError("WHO, or WHO <team> for another team, e.g. WHO support", Verb.WHO)
    return Command(Verb.WHO, team=words[0])
