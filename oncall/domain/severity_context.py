"""Reading a mail for its severity: the subject and the new text of the body (no quoted history,
signature or footer) cut into sentences and clauses, the rules' phrases and the explicit markers
found in them, and the context each one was written in (see
:mod:`oncall.domain.severity_rules`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

from oncall.domain.mail.decoding import clean
from oncall.domain.mail.signatures import opening_line
from oncall.domain.severity_markers import find_markers
from oncall.domain.severity_matching import WORD, Found, PhraseTable, find, table, token_span
from oncall.domain.severity_rules import SeverityRules, is_cjk, phrase_key
from oncall.domain.severity_sentences import Sentence, new_text, sentences, tokenise

__all__ = ["DISCOUNTING", "UNSURE", "Context", "Hit", "Reading", "new_text", "read"]


class Context(StrEnum):
    """What a phrase is said of. The order of :data:`_PRECEDENCE` decides between cues."""

    AFFIRMED = "affirmed"  # the present, as a fact
    NEGATED = "negated"
    RESOLVED = "resolved"
    POLICY = "policy"
    NON_PRODUCTION = "non_production"
    MAINTENANCE = "maintenance"
    DOUBT = "doubt"
    CONDITIONAL = "conditional"
    PAST = "past"
    THREAD = "thread"  # a reply's subject: the thread's topic, not what this message says
    QUESTION = "question"


#: Said of something other than a present incident: the phrase does not count as critical.
DISCOUNTING = frozenset(
    {
        Context.NEGATED,
        Context.RESOLVED,
        Context.POLICY,
        Context.NON_PRODUCTION,
        Context.MAINTENANCE,
        Context.CONDITIONAL,
        Context.PAST,
        Context.THREAD,
    }
)
#: The customer does not know: the phrase leans critical without settling it.
UNSURE = frozenset({Context.DOUBT, Context.QUESTION})

_CJK_NEGATION_REACH = 3  # characters: 障害ではありません ("not an outage")
# Between a phrase's words these make it a plan or a possibility: "the system will shut down".
_GAP_STOPS = frozenset({"will", "would", "could", "might", "may", "should", "shall"})
_MAX_GAP = 2  # words between the words of a phrase: "production has been down"
# A question that starts with these asks about the future: "Will the API be unavailable too?"
_FUTURE_QUESTION = frozenset({"will", "shall", "wird", "werden", "sera", "será"})
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|antw|rv|ref|r)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Hit:
    """A phrase or marker found, and what it was said of."""

    kind: str  # S1 | S2 | symptom | impact | urgency | low | marker | cue (a context alone)
    phrase: str  # as listed, or the marker as written
    sentence: int
    first: int
    last: int
    context: Context
    cue: str = ""  # the cue that set the context
    severity: int | None = None  # markers
    opening: bool = False  # a marker in the subject or the body's first line
    where: str = "body"  # subject | body

    @property
    def critical_kind(self) -> bool:
        """Says something is broken (a marker of 1 or 2 too)."""
        if self.kind == "marker":
            return self.severity is not None and self.severity <= 2
        return self.kind in ("S1", "S2", "symptom")


@dataclass(frozen=True)
class Reading:
    sentences: tuple[Sentence, ...]
    hits: tuple[Hit, ...]


# -- the rules, compiled once per rule set --------------------------------------------------
_CUE_LISTS = {
    "negation": "negations",
    "not_negation": "not_negations",
    "resolved": "resolved_cues",
    "unresolved": "unresolved_cues",
    "past": "past_cues",
    "ongoing": "ongoing_cues",
    "policy": "policy_cues",
    "conditional": "conditional_cues",
    "doubt": "doubt_cues",
    "maintenance": "maintenance_cues",
    "cause": "cause_cues",
    "non_production": "non_production_cues",
}


@dataclass(frozen=True)
class _Compiled:
    phrases: PhraseTable
    cues: dict[str, PhraseTable]  # each cue list on its own: "since" is ongoing and a cause
    openers: tuple[tuple[str, ...], ...]  # presupposing question openers, as words


@lru_cache(maxsize=16)
def _compiled(rules: SeverityRules) -> _Compiled:
    phrases = table(
        [
            ("S1", rules.s1_phrases),
            ("S2", rules.s2_phrases),
            ("low", rules.low_phrases),
            ("symptom", rules.symptom_phrases),
            ("impact", rules.impact_phrases),
            ("urgency", rules.urgency_phrases),
        ],
        max_gap=_MAX_GAP,
        gap_negations=frozenset(
            w
            for n in rules.negations
            if len(words := WORD.findall(phrase_key(n))) == 1
            for w in words
        ),
        gap_stops=_GAP_STOPS,
    )
    cues = {kind: table([(kind, getattr(rules, name))], False) for kind, name in _CUE_LISTS.items()}
    openers = tuple(
        tuple(w.casefold() for w in WORD.findall(phrase_key(p))) for p in rules.presupposing
    )
    return _Compiled(phrases, cues, openers)


# -- context ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Place:
    """A phrase (or marker) found in a sentence, with every cue found in that sentence."""

    sentence: Sentence
    found: Found
    cues: dict[str, list[Found]]
    phrases: tuple[Found, ...] = ()  # every phrase found in the sentence

    def clause(self, index: int) -> int:
        tokens = self.sentence.tokens
        return tokens[min(index, len(tokens) - 1)].clause if tokens else 0

    def near(self, kind: str, window: int, target: Found | None = None, before_only: bool = False):
        """The first ``kind`` cue in ``target``'s clause within ``window`` words of it."""
        target = target or self.found
        for cue in self.cues[kind]:
            if self.clause(cue.first) != self.clause(target.first):
                continue
            if cue.last <= target.first:
                gap = target.first - cue.last
            elif before_only:
                continue
            elif cue.first >= target.last:
                gap = cue.first - target.last
            else:
                gap = 0
            if gap <= window:
                return cue
        return None


def _negation(place: _Place, window: int, target: Found | None = None) -> Found | None:
    """A negation just before ``target`` (just after, too, for a Chinese/Japanese phrase),
    unless it is part of a phrase that negates nothing ("not only")."""
    target = target or place.found
    # "not only" negates nothing, nor does the "no" of "no funciona" (a phrase of its own).
    exempt = [*place.cues["not_negation"], *(p for p in place.phrases if p != target)]
    for cue in place.cues["negation"]:
        if any(other.start <= cue.start and cue.end <= other.end for other in exempt):
            continue
        if is_cjk(place.sentence.text[target.start : target.end]) and (
            0 <= cue.start - target.end <= _CJK_NEGATION_REACH
            or 0 <= target.start - cue.end <= _CJK_NEGATION_REACH
        ):
            return cue
        if place.clause(cue.first) != place.clause(target.first):
            continue
        if cue.last <= target.first and target.first - cue.last <= window:
            return cue
    return None


def _resolved(place: _Place, rules: SeverityRules) -> Found | None:
    """A resolved cue that states a fact: not "not resolved", not "when will it be fixed"."""
    cue = place.near("resolved", rules.cue_window)
    if cue is None:
        return None
    wished = place.near("unresolved", 2, target=cue, before_only=True)
    return None if wished is not None or _negation(place, 2, cue) is not None else cue


def _maintenance(place: _Place, rules: SeverityRules) -> Found | None:
    """A maintenance cue, unless it is what the trouble started after ("since the planned
    maintenance, checkout fails")."""
    cue = place.near("maintenance", rules.cue_window)
    if cue is None or place.near("cause", 2, target=cue, before_only=True) is not None:
        return None
    return cue


def _presupposed(sentence: Sentence, openers: tuple[tuple[str, ...], ...]) -> bool:
    """A question that takes the trouble as given: a clause starts "why is", "when will" ..."""
    words = [t.word for t in sentence.tokens]
    starts = [
        i
        for i, t in enumerate(sentence.tokens)
        if i == 0 or t.clause != sentence.tokens[i - 1].clause
    ]
    return any(tuple(words[i : i + len(o)]) == o for i in starts for o in openers if o)


def context_of(place: _Place, rules: SeverityRules, compiled: _Compiled) -> tuple[Context, str]:
    """What the phrase at ``place`` is said of, and the cue that says so."""
    if place.found.negated_by:
        return Context.NEGATED, place.found.negated_by
    negation = _negation(place, rules.negation_window)
    if negation is not None:
        return Context.NEGATED, negation.phrase
    resolved = _resolved(place, rules)
    if resolved is not None:
        return Context.RESOLVED, resolved.phrase
    for context, kind in ((Context.POLICY, "policy"), (Context.NON_PRODUCTION, "non_production")):
        cue = place.near(kind, rules.cue_window)
        if cue is not None:
            return context, cue.phrase
    maintenance = _maintenance(place, rules)
    if maintenance is not None:
        return Context.MAINTENANCE, maintenance.phrase
    for context, kind in ((Context.DOUBT, "doubt"), (Context.CONDITIONAL, "conditional")):
        cue = place.near(kind, rules.cue_window)
        if cue is not None:
            return context, cue.phrase
    if place.cues["ongoing"]:  # anywhere in the sentence: "the outage last night, still on"
        return Context.AFFIRMED, place.cues["ongoing"][0].phrase
    past = place.near("past", rules.cue_window)
    if past is not None:
        return Context.PAST, past.phrase
    if place.sentence.question and not _presupposed(place.sentence, compiled.openers):
        tokens = place.sentence.tokens
        if tokens and tokens[0].word in _FUTURE_QUESTION:
            return Context.CONDITIONAL, tokens[0].word
        return Context.QUESTION, "?"
    return Context.AFFIRMED, ""


# -- reading a mail ---------------------------------------------------------------------------
def read(subject: str | None, text: str | None, rules: SeverityRules) -> Reading:
    """Every phrase and marker of ``rules`` in the subject and the body's new text, with the
    context it was written in."""
    compiled = _compiled(rules)
    subject_text = " ".join(clean(subject or "").split())
    body = new_text(text)
    opening = opening_line(body)
    found_in: list[Sentence] = []
    if subject_text:
        question = subject_text.endswith(("?", "？"))
        found_in.append(Sentence(subject_text, "subject", 0, tokenise(subject_text), question))
    found_in += sentences(body, "body")
    hits: list[Hit] = []
    for index, sentence in enumerate(found_in):
        hits += _sentence_hits(index, sentence, opening, rules, compiled)
    hits = _subject_in_context(hits, reply=bool(_REPLY_PREFIX.match(subject_text)))
    return Reading(tuple(found_in), tuple(hits))


def _sentence_hits(
    index: int,
    sentence: Sentence,
    opening: tuple[int, int] | None,
    rules: SeverityRules,
    compiled: _Compiled,
) -> list[Hit]:
    tokens = list(sentence.tokens)
    cues = {kind: find(t, sentence.text, tokens) for kind, t in compiled.cues.items()}
    phrases = find(compiled.phrases, sentence.text, tokens)
    spans: list[tuple[Found, int | None]] = [(f, None) for f in phrases]
    for marker in find_markers(sentence.text):
        first, last = token_span(tokens, marker.start, marker.end)
        found = Found("marker", marker.text, first, last, marker.start, marker.end)
        spans.append((found, marker.severity))
    hits = []
    for found, severity in sorted(spans, key=lambda item: item[0].start):
        place = _Place(sentence, found, cues, tuple(phrases))
        context, cue = context_of(place, rules, compiled)
        at = sentence.offset + found.start
        in_opening = sentence.where == "subject" or (
            opening is not None and opening[0] <= at < opening[1]
        )
        hits.append(
            Hit(
                found.kind,
                found.phrase,
                index,
                found.first,
                found.last,
                context,
                cue,
                severity,
                in_opening and found.kind == "marker",
                sentence.where,
            )
        )
    return hits + _context_alone(index, sentence, cues, rules)


def _context_alone(
    index: int, sentence: Sentence, cues: dict[str, list[Found]], rules: SeverityRules
) -> list[Hit]:
    """Cues that say what a mail is about even with no phrase beside them ("the exports are
    working again", "when is the next maintenance window?", "your backup policy")."""
    hits = []
    for kind, context in (
        ("resolved", Context.RESOLVED),
        ("maintenance", Context.MAINTENANCE),
        ("policy", Context.POLICY),
    ):
        for cue in cues[kind]:
            place = _Place(sentence, cue, cues)
            if kind == "resolved" and _resolved(place, rules) is not cue:
                continue  # "not resolved", "when will it be fixed"
            if kind == "maintenance" and _maintenance(place, rules) is not cue:
                continue  # "since the maintenance, checkout fails"
            hits.append(Hit("cue", cue.phrase, index, cue.first, cue.last, context, cue.phrase))
    return hits


def _subject_in_context(hits: list[Hit], reply: bool) -> list[Hit]:
    """The body says what the subject means.

    * A subject phrase the body uses only about something else (a past incident, planned work,
      a policy) means that too: "Outage notice" over "the scheduled outage on Saturday".
    * A subject whose trouble the body says is over ("Site down" over "never mind, all good
      now") counts as about a resolved incident, unless the body names trouble of its own.
    * A reply's subject is the thread's topic, not a claim of this message: its phrases never
      count, and neither do its markers once the body says it is over or not critical.
    """
    body = [h for h in hits if h.where == "body"]
    resolved = next((h for h in body if h.kind == "cue" and h.context is Context.RESOLVED), None)
    trouble = any(h.critical_kind and h.context is Context.AFFIRMED for h in body)
    low = any(h.kind == "low" and h.context is Context.AFFIRMED for h in body)
    out = []
    for hit in hits:
        if hit.where == "subject" and hit.kind != "cue":
            hit = _subject_hit(hit, body, reply, resolved, trouble, low)
        out.append(hit)
    return out


def _subject_hit(
    hit: Hit, body: list[Hit], reply: bool, resolved: Hit | None, trouble: bool, low: bool
) -> Hit:
    if reply and (hit.kind != "marker" or resolved is not None or low):
        return replace(hit, context=Context.THREAD, cue="Re:")
    if hit.context is not Context.AFFIRMED:
        return hit
    if resolved is not None and not trouble:
        return replace(hit, context=Context.RESOLVED, cue=resolved.cue)
    same = [h for h in body if h.phrase == hit.phrase and h.kind == hit.kind]
    if same and all(h.context in DISCOUNTING for h in same):
        return replace(hit, context=same[0].context, cue=same[0].cue)
    return hit
