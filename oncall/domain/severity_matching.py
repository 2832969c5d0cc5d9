"""Finding the rules' phrases in a sentence: words compared whole and case-folded, with any
spacing between them, a possessive ``'s`` and one slip of the keyboard forgiven on longer words;
Chinese, Japanese and Korean phrases found anywhere (those scripts do not space their words).
Where found phrases overlap, the longer one counts ("partial outage", not "outage")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz.distance import OSA

from oncall.domain.severity_rules import is_cjk, normalise, phrase_key

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def words(text: str) -> list[str]:
    return [w.casefold() for w in WORD.findall(normalise(text))]


@dataclass(frozen=True)
class Token:
    word: str  # case-folded
    start: int  # character offsets in the sentence
    end: int
    clause: int


@dataclass(frozen=True)
class Found:
    """One phrase found in a sentence: tokens ``[first, last)``, characters ``[start, end)``."""

    kind: str
    phrase: str  # as listed in the rules
    first: int
    last: int
    start: int
    end: int
    negated_by: str = ""  # a negation between the phrase's words: "production is not down"
    size: int = 1  # words of the phrase (fewer than last - first when words stood between)


@dataclass
class PhraseTable:
    """The phrases of several lists, indexed for matching; ``kinds`` in priority order (a
    phrase listed twice keeps its first kind)."""

    by_first: dict[str, list[tuple[tuple[str, ...], str, str]]] = field(default_factory=dict)
    cjk: list[tuple[str, str, str]] = field(default_factory=list)
    fuzzy: bool = True
    # "Distance": up to ``max_gap`` words may stand between a phrase's words ("production has
    # been down"), in one clause, none of them a ``gap_stops`` word ("the system will shut
    # down": a plan, not a fact); a ``gap_negations`` word there negates the phrase.
    max_gap: int = 0
    gap_negations: frozenset[str] = frozenset()
    gap_stops: frozenset[str] = frozenset()
    _near: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, kind: str, phrases: Iterable[str]) -> None:
        for phrase in phrases:
            key = phrase_key(phrase)
            if not key:
                continue
            if is_cjk(key):
                if all(existing != key for existing, _, _ in self.cjk):
                    self.cjk.append((key, kind, phrase))
                continue
            parts = tuple(words(key))
            if not parts:
                continue
            entries = self.by_first.setdefault(parts[0], [])
            if all(existing != parts for existing, _, _ in entries):
                entries.append((parts, kind, phrase))

    def candidates(self, token: str) -> list[tuple[tuple[str, ...], str, str]]:
        found = list(self.by_first.get(token, ()))
        for ending in ("'s", "es", "s"):  # "last night's outage", "outages"
            if token.endswith(ending) and len(token) > len(ending) + 2:
                found += self.by_first.get(token[: -len(ending)], ())
        if self.fuzzy and len(token) >= 4:
            if token not in self._near:
                self._near[token] = tuple(
                    w for w in self.by_first if w != token and similar(w, token)
                )
            for word in self._near[token]:
                found += self.by_first[word]
        return found


def table(
    kinds: Iterable[tuple[str, Iterable[str]]], fuzzy: bool = True, **gaps: object
) -> PhraseTable:
    built = PhraseTable(fuzzy=fuzzy, **gaps)  # type: ignore[arg-type]
    for kind, phrases in kinds:
        built.add(kind, phrases)
    return built


@lru_cache(maxsize=4096)
def similar(word: str, token: str) -> bool:
    """``token`` is ``word`` as written, possessive, or with one typing slip: two neighbouring
    letters swapped or one doubled (words of 5 letters or more), one left out (6 or more), or
    any one letter wrong (8 or more, where a slip no longer makes another common word)."""
    if token == word or token == word + "'s":
        return True
    if len(word) < 5 or abs(len(token) - len(word)) > 1:
        return False
    if OSA.distance(word, token, score_cutoff=1) > 1:
        return False
    if len(word) >= 8:
        return True
    if len(token) == len(word):
        return sorted(token) == sorted(word)  # one edit keeping the letters: a swap
    if len(token) == len(word) + 1:
        return any(
            token[:i] + token[i + 1 :] == word
            and token[i] in (token[i - 1 : i] + token[i + 1 : i + 2])
            for i in range(len(token))
        )
    return len(word) >= 6  # one letter left out


def _same(word: str, token: str, fuzzy: bool) -> bool:
    if token in (word, word + "'s", word + "s", word + "es"):
        return True
    return fuzzy and similar(word, token)


def _match_at(
    phrases: PhraseTable, tokens: list[Token], index: int, parts: tuple[str, ...]
) -> tuple[int, str] | None:
    """Where the phrase ``parts`` that starts at ``tokens[index]`` ends (``last``), and the
    negation standing between its words; None if it does not go on from there."""
    # A phrase that starts with a negation ("not working", "no one can") takes no gaps: "not
    # sure it's working" is not "not working".
    gap = 0 if parts[0] in phrases.gap_negations else phrases.max_gap
    position, negation = index + 1, ""
    for part in parts[1:]:
        for step in range(gap + 1):
            at = position + step
            if at >= len(tokens) or tokens[at].clause != tokens[index].clause:
                return None
            if _same(part, tokens[at].word, phrases.fuzzy):
                skipped = [t.word for t in tokens[position:at]]
                if any(w in phrases.gap_stops for w in skipped):
                    return None
                negation = negation or next((w for w in skipped if w in phrases.gap_negations), "")
                position = at + 1
                break
        else:
            return None
    return position, negation


def find(phrases: PhraseTable, text: str, tokens: list[Token]) -> list[Found]:
    """Every phrase of ``phrases`` in the sentence ``text`` (tokenised as ``tokens``), longest
    first where they overlap, in order of position."""
    found: list[Found] = []
    for index, token in enumerate(tokens):
        for parts, kind, phrase in phrases.candidates(token.word):
            match = _match_at(phrases, tokens, index, parts)
            if match is not None:
                last, negation = match
                end = tokens[last - 1].end
                found.append(
                    Found(kind, phrase, index, last, token.start, end, negation, len(parts))
                )
    folded = normalise(text).casefold()
    for key, kind, phrase in phrases.cjk:
        for match in re.finditer(re.escape(key), folded):
            first, last = token_span(tokens, match.start(), match.end())
            found.append(Found(kind, phrase, first, last, match.start(), match.end()))
    return longest_first(found)


def token_span(tokens: list[Token], start: int, end: int) -> tuple[int, int]:
    """The tokens ``[first, last)`` covering characters ``[start, end)``."""
    first = next((i for i, t in enumerate(tokens) if t.end > start), len(tokens))
    last = next((i for i in range(len(tokens) - 1, -1, -1) if tokens[i].start < end), first)
    return first, max(last + 1, first + (1 if first < len(tokens) else 0))


def longest_first(found: list[Found]) -> list[Found]:
    """Where phrases overlap: the one of most words, then the one with fewest words between
    them, then the longest."""
    kept: list[Found] = []
    ranked = sorted(
        found,
        key=lambda f: (-f.size, (f.last - f.first) - f.size, -(f.end - f.start), f.start),
    )
    for item in ranked:
        if all(item.end <= other.start or item.start >= other.end for other in kept):
            kept.append(item)
    return sorted(kept, key=lambda f: f.start)
