"""The words a customer may answer a case with, as a pure parser: ``REOPEN`` (a resolved case
opens again) and ``DISPUTE`` (a misuse fee is disputed).

By email they stand at the start of the reply's subject, after its ``Re:``/``Fwd:`` prefixes
and the ``[Case N]`` tag (``REOPEN [Case 1042] Resolved``, ``Re: [Case 1042] DISPUTE``), or at
the start of the first line of the new text (``Reopen, it is down again``). By SMS to the
critical line's number: ``REOPEN 1042`` (``reopen #1042``, ``Re-open case 1042 please``); the
case number is needed there, since a phone may have had several cases.

Anything else is no word: the reply is an answer (to a WAIT question) or an ordinary reply.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Word(StrEnum):
    REOPEN = "REOPEN"
    DISPUTE = "DISPUTE"


_SPELLINGS = {
    "REOPEN": Word.REOPEN,
    "RE-OPEN": Word.REOPEN,
    "REOPENED": Word.REOPEN,
    "DISPUTE": Word.DISPUTE,
    "DISPUTED": Word.DISPUTE,
}
# Reply and forward prefixes in the languages mail clients write them in.
_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr|rif|antw)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_CASE_TAG = re.compile(r"^\s*\[\s*case\s*#?\s*\d+\s*\]\s*", re.I)
_LEAD = re.compile(r"^[\s\"'“”‘’«»*>:\-–—]+")
_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)?")
_CASE = re.compile(r"(?:case\s*(?:no\.?|number)?\s*)?#?\s*(\d{1,9})(?!\d)", re.I)


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def leading_word(text: str) -> Word | None:
    """The customer word ``text`` starts with, if any (case-insensitive, quotes skipped)."""
    match = _WORD.match(_LEAD.sub("", _plain(text)))
    return _SPELLINGS.get(match.group(0).upper()) if match else None


def subject_word(subject: str) -> Word | None:
    """The word at the start of a reply's subject: before or after ``Re:`` and ``[Case N]``."""
    text = _plain(subject)
    for _ in range(3):  # "Re: [Case 1] Re: DISPUTE" is as far as clients nest them
        text = _CASE_TAG.sub("", _PREFIX.sub("", text))
    return leading_word(text) or leading_word(_plain(subject))


def mail_word(subject: str, first_line: str) -> Word | None:
    """The word a reply by email carries: in its subject, else on its first line."""
    return subject_word(subject) or leading_word(first_line)


@dataclass(frozen=True, slots=True)
class SmsWord:
    word: Word
    case_number: int | None  # None: the SMS named no case


def sms_word(body: str) -> SmsWord | None:
    """``REOPEN 1042`` by SMS; None when the SMS starts with no customer word."""
    text = _LEAD.sub("", _plain(body))
    match = _WORD.match(text)
    word = _SPELLINGS.get(match.group(0).upper()) if match else None
    if match is None or word is None:
        return None
    case = _CASE.search(text[match.end() :])
    return SmsWord(word, int(case.group(1)) if case else None)
