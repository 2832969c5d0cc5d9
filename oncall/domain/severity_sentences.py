"""A mail's text as the severity rules read it: the body's own words (no quoted history,
signature, phone line or footer), cut into sentences, and each sentence into clauses (at commas,
colons, dashes and "but") and words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from oncall.domain.mail.decoding import clean, newlines
from oncall.domain.mail.signatures import strip_signature
from oncall.domain.mail.text import strip_quoted_reply
from oncall.domain.severity_matching import WORD, Token
from oncall.domain.severity_rules import normalise

# Words that start a new clause: "the site isn't down, but checkout fails for everyone".
_CONTRASTS = frozenset(
    {"but", "however", "although", "though", "whereas", "aber", "mais", "pero", "sondern"}
)
_CLAUSE_BREAK = re.compile(r"[,:()\[\]\u2013\u2014;!?]|(?<=\s)-(?=\s)")
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?;])\s+|(?<=[。！？])|\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*•]|\d+[.)])[ \t])"
)


@dataclass(frozen=True)
class Sentence:
    text: str
    where: str  # subject | body
    offset: int  # where it starts in the subject or the body's new text
    tokens: tuple[Token, ...]
    question: bool


def new_text(text: str | None) -> str:
    """A body's own words: no quoted history, signature, phone line or footer."""
    return strip_signature(strip_quoted_reply(newlines(clean(text or ""))))


def tokenise(text: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    clause = 0
    normal = normalise(text)
    position = 0
    for match in WORD.finditer(normal):
        if _CLAUSE_BREAK.search(normal, position, match.start()):
            clause += 1
        word = match.group(0).casefold()
        if word in _CONTRASTS:
            clause += 1
        tokens.append(Token(word, match.start(), match.end(), clause))
        position = match.end()
    return tuple(tokens)


def sentences(text: str, where: str) -> list[Sentence]:
    out: list[Sentence] = []
    position = 0
    pieces = [*_SENTENCE_BREAK.finditer(text), None]
    for separator in pieces:
        end = separator.start() if separator else len(text)
        piece = text[position:end]
        if piece.strip():
            question = piece.rstrip().endswith(("?", "？"))
            out.append(Sentence(piece, where, position, tokenise(piece), question))
        position = separator.end() if separator else len(text)
    return out
