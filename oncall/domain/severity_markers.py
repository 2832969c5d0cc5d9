"""Severities written out: the explicit markers of a mail (``S1``, ``Sev 2``, ``Priority 1``,
``Level 1``, ``[S3]`` ...), and a customer's answer to the severity menu (``1``, ``S2``,
``Sev 3``, ``two`` ...), by email or SMS."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NUMBER_WORDS = {"zero": 1, "one": 1, "two": 2, "three": 3, "four": 4}
_WORDS = r"(?:zero|one|two|three|four)"
_LONG = (
    r"(?:sev(?:erity)?\.?|priority|prio|schweregrad|s[ée]v[ée]rit[ée]|severidad|"
    r"priorit[ée]|prioridad|priorit[äa]t)"
)
_MARKER = re.compile(
    r"(?<![\w.\-/@])(?:"
    rf"(?P<long>{_LONG}(?:[ \t]*level)?"
    rf"(?:[ \t]*[:#=\-]?[ \t]*[0-4]|[ \t]*[:#=\-]?[ \t]+{_WORDS}|[ \t]*[:#=\-][ \t]*{_WORDS}))"
    r"|(?P<level>(?:level|tier)[ \t]*[:#\-]?[ \t]*[1-4])"
    r"|(?P<short>[sp][0-4])"
    r")(?!\w)(?![.@]\w)(?![\-/](?![sp][0-4](?!\w))\w)"
    r"|(?P<critical>[\[(][ \t]*critical[ \t]*[\])])",
    re.IGNORECASE,
)
_NOT_A_SEVERITY_BEFORE = re.compile(r"(?:aws|amazon)[\s\-]*$", re.IGNORECASE)
_NOT_A_SEVERITY_AFTER = re.compile(
    r"^[\s\-]*(?:buckets?|objects?|storage|api|endpoints?|console|uploads?|downloads?)\b",
    re.IGNORECASE,
)
# "Tier 1 support", "a level 2 engineer": a level of service or staff, not of an incident.
_NOT_A_LEVEL_AFTER = re.compile(
    r"^[\s\-]*(?:support|engineers?|team|agents?|customers?|partners?|accounts?|analysts?|"
    r"techs?|technicians?|help\s?desk|plans?|licen[cs]es?|access|admins?|users?|vendors?|"
    r"providers?|suppliers?|contacts?|managers?|staff|escalations?|of\b|cache|storage|"
    r"pricing|subscriptions?|membership)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Marker:
    severity: int
    text: str  # as written, spaces collapsed
    start: int
    end: int


def _marker_severity(match: re.Match[str], text: str) -> int | None:
    if match.group("critical"):
        return 1
    after = text[match.end() : match.end() + 24]
    if match.group("level") and _NOT_A_LEVEL_AFTER.match(after):
        return None
    token = match.group(0)
    if (
        match.group("short")
        and token[0] in "sS"
        and (
            _NOT_A_SEVERITY_BEFORE.search(text[max(0, match.start() - 12) : match.start()])
            or _NOT_A_SEVERITY_AFTER.match(after)
        )
    ):
        return None  # Amazon S3, not severity 3
    last = re.findall(r"[0-4]|zero|one|two|three|four", token, re.IGNORECASE)[-1].casefold()
    number = _NUMBER_WORDS.get(last)
    if number is None:
        number = max(1, int(last))  # P0/S0/Sev 0: the most severe there is
    return number


def find_markers(text: str) -> list[Marker]:
    """Every explicit severity marker in ``text``, in order.

    Markers are whole tokens: ``S1``, ``Sev 1``/``Sev1``/``SEV-2``/``Sev. 2``, ``Severity 1``,
    ``Severity: 2``, ``Severity one``, ``P1``, ``Priority 1``, ``Prio 2``, ``Level 1``,
    ``Tier 2``, ``Schweregrad 1``, ``Priorité 1``, ``Severidad 2``, ``[CRITICAL]`` (→ 1); ``0``
    counts as 1 (``P0``); ``3``/``4`` say the issue is not critical. Not markers: ``S10``,
    ``S1042``, ``Case 1042``, ``s1.acme.example``, ``P1.5``, "AWS S3 bucket", "Tier 1 support",
    and ``[URGENT]``.
    """
    found = []
    for match in _MARKER.finditer(text):
        severity = _marker_severity(match, text)
        if severity is not None:
            written = " ".join(match.group(0).split())
            found.append(Marker(severity, written, match.start(), match.end()))
    return found


# -- answers to the severity menu ----------------------------------------------------------
_ANSWER = re.compile(
    r"^[\W_]*(?:(?:option|answer|choice|reply|sev(?:erity)?\.?|severity\s+level|s|p|"
    r"priority|prio|level)[ \t]*[:#\-]?[ \t]*)?"
    r"(?P<n>[1-4]|one|two|three|four)\b"
    # "1 user", "2 of our sites", "3 hours", "1.5": a number in a sentence, not an answer
    r"(?![ \t]*(?:users?|customers?|people|persons?|of\b|out\b|hours?|h\b|minutes?|mins?|"
    r"m\b|days?|servers?|sites?|stores?|orders?|times?|more\b|instances?|x\b|%|am\b|pm\b|"
    r"[:/.,]\d))",
    re.IGNORECASE,
)
_CASE_NUMBER = re.compile(r"(?:\bcase\b|#)?[ \t]*\b(?P<number>\d{4,9})\b", re.IGNORECASE)


def _plain(text: str) -> str:
    # Keycap emoji ("1" + U+FE0F + U+20E3) and full-width digits (U+FF11) are digits too.
    text = unicodedata.normalize("NFKC", text)
    return text.replace("\ufe0f", "").replace("\u20e3", "")


def parse_answer(line: str) -> int | None:
    """The severity a reply's first line gives (1-4), or None if it gives none."""
    match = _ANSWER.match(_plain(line).strip())
    if match is None:
        return None
    value = match.group("n").casefold()
    return _NUMBER_WORDS.get(value) or int(value)


def first_line(text: str) -> str:
    """The first line with something on it."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def parse_sms_answer(body: str) -> tuple[int, int | None] | None:
    """An SMS answer: ``(severity, case number or None)``; ``1``, ``S1 1002``, ``2 #1002``,
    ``case 1002: 3``. None when the text gives no answer."""
    text = _plain(body).strip()
    match = _CASE_NUMBER.search(text)
    number = int(match.group("number")) if match else None
    if match:
        text = (text[: match.start()] + " " + text[match.end() :]).strip(" :-,.")
    severity = parse_answer(text)
    return (severity, number) if severity is not None else None
